#!/bin/sh
# Install the Debian packages that sup needs to build, test and benchmark -- only the missing
# ones. Safe to re-run; as root, or as a user with sudo. Usage: scripts/deps.sh
# [build|demo|test|all]   (default: all)
set -eu

# What the build links, and the C library's headers and start files: Debian's gcc, installed
# without its recommends (as here), has no libc6-dev and cannot link a program.
build="cmake make gcc libc6-dev pkg-config libev-dev libinih-dev libjansson-dev libcap-dev \
libseccomp-dev libcurl4-openssl-dev libarchive-dev libssl-dev"
# The tests (check: the unit suites), the style check, the VM tests, promtool, the benchmarks.
test="check libsubunit-dev python3 util-linux procps iproute2 busybox-static clang clang-format \
libclang-rt-14-dev valgrind s6 runit tini \
qemu-system-x86 linux-image-amd64 cpio kmod xz-utils \
prometheus \
docker-registry skopeo umoci apache2-utils openssl zstd \
debootstrap crun runc catatonit golang-github-containers-common tmux \
bash-completion zsh fish"

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
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: installing$missing needs root" >&2; exit 1; }
	SUDO="sudo"
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
