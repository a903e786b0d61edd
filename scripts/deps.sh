#!/bin/sh
# Install the Debian packages that sup needs to build, test and benchmark -- only the missing
# ones. Safe to re-run. Usage: scripts/deps.sh [build|demo|test|all]   (default: all)
set -eu

build="cmake make gcc pkg-config clang-format libev-dev libinih-dev libjansson-dev \
libcurl4-openssl-dev libarchive-dev libssl-dev libmnl-dev libcap-dev libseccomp-dev"
test="check libsubunit-dev python3 util-linux procps iproute2 busybox-static clang \
libclang-rt-14-dev valgrind s6 runit tini \
qemu-system-x86 linux-image-amd64 cpio kmod xz-utils \
prometheus"

case "${1:-all}" in
build) want=$build ;;
demo) want="$build busybox-static util-linux iproute2" ;; # examples/units use busybox httpd
test | all) want="$build $test" ;;
*) echo "usage: $0 [build|demo|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
