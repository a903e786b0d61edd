#!/bin/sh
# demo-image.sh OUT.tar [NAME]: an OCI image layout tarball of busybox-static, made offline
# (no registry, no network): one uncompressed layer with busybox and a web page, a config
# whose Cmd serves the page. scripts/demo.sh loads it for examples/units/image.unit.
set -eu
out=$1
name=${2:-sup.example/demo/busybox:1}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/rootfs/bin" "$d/rootfs/www" "$d/oci/blobs/sha256"
cp "$(command -v busybox)" "$d/rootfs/bin/busybox"
ln -s busybox "$d/rootfs/bin/sh"
echo "<h1>served from an OCI image</h1>" >"$d/rootfs/www/index.html"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$d/rootfs" -cf "$d/layer" .
# a blob in the layout, named by its sha256: prints "HEX SIZE"
blob() {
	h=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$d/oci/blobs/sha256/$h"
	echo "$h $(stat -c %s "$d/oci/blobs/sha256/$h")"
}
case $(uname -m) in
x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; armv7l | armv6l) arch=arm ;; *) arch=$(uname -m) ;;
esac
set -- $(blob "$d/layer")
lh=$1 ls=$2
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin","GREETING=hello from an image"],"WorkingDir":"/www","Cmd":["/bin/busybox","httpd","-f","-v","-p","127.0.0.1:8081","-h","/www"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$arch" "$lh" >"$d/config"
set -- $(blob "$d/config")
ch=$1 cs=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$ch" "$cs" "$lh" "$ls" >"$d/manifest"
set -- $(blob "$d/manifest")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	"$1" "$2" "$name" >"$d/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
tar -C "$d/oci" -cf "$out" .
