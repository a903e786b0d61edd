#!/bin/sh
# The inside of scripts/demo.sh: PID 1 of a fresh pid namespace, with its own /run and lo.
# supd's own log goes to a file, shown after the demo's output, never in the middle of it.
set -eu
ip link set lo up 2>/dev/null || true
hostname sup-demo 2>/dev/null || true
mount -t tmpfs -o mode=0755 tmpfs /run
state=$(mktemp -d /tmp/sup-demo.XXXXXX)
mount -t tmpfs tmpfs "$state"
log=$state/supd.log
export PATH="$SUP_BIN:$PATH" SUP_SOCKET=/run/sup/supd.sock SUP_EXAMPLES="$SUP_TOP/examples"
# examples/units/image.unit's image, made and imported offline (no registry, no network)
"$SUP_TOP/scripts/demo-image.sh" "$state/busybox-demo.tar"
helper=$SUP_BIN/images/sup-image
"$helper" --state-dir "$state" load --fd 0 <"$state/busybox-demo.tar" >/dev/null
# examples/units/isolated.unit's root and web page: a busybox tree under a tmpfs on /srv,
# which only this throwaway mount namespace sees
mkdir -p /srv
mount -t tmpfs -o mode=0755 tmpfs /srv
mkdir -p /srv/roots/busybox/bin /srv/www
cp "$(command -v busybox)" /srv/roots/busybox/bin/busybox
for a in sh httpd ls ps cat id hostname; do ln -s busybox "/srv/roots/busybox/bin/$a"; done
echo "<h1>served from an isolated container</h1>" >/srv/www/index.html
units=$SUP_TOP/examples/units
if ! unshare --user true 2>/dev/null; then
	# a chroot or a container without user namespaces: the example goes without its own
	units=$state/units
	cp -r "$SUP_TOP/examples/units" "$units"
	sed -i '/^Namespaces=/s/ user//' "$units/isolated.unit"
	echo "(no user namespaces here, as in a chroot or most containers: isolated.unit runs"
	echo " without its own; the copy supd reads has 'user' taken off its Namespaces= line)"
fi
echo
echo "\$ supd --units examples/units --run-dir /run/sup 2>supd.log &"
supd --units "$units" --state-dir "$state" --run-dir /run/sup \
	--image-helper "$helper" 2>"$log" &
supd=$!
# wait (bounded) for the socket, then for the units to settle
i=0
until supctl status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "supd did not come up; its log:" >&2; cat "$log" >&2; exit 1; }
	sleep 0.05
done
i=0
while supctl status --json | grep -q '"state": "starting"'; do
	i=$((i + 1)); [ $i -lt 100 ] || break
	sleep 0.1
done
echo "\$ supctl status"
supctl status
echo
echo "\$ supctl logs db -n 5"
supctl logs db -n 5
echo
echo "\$ supctl images"
supctl images
if [ "${DEMO_SHELL:-0}" = 1 ]; then
	echo
	echo "supd is running (pid $supd; its log: $log); try: supctl status, supctl logs -f web;"
	echo "exit to stop it"
	${SHELL:-sh} -i || true
fi
kill -TERM $supd
wait $supd || true
echo
echo "supd's own log, start to stop:"
sed 's/^/  /' "$log"
