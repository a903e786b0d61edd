#!/bin/sh
# Build sup and run supd on examples/units inside throwaway pid, mount and network namespaces
# (safe on a workstation: nothing it starts can outlive it or touch the host's services), show
# `supctl status`, then stop everything. DEMO_SHELL=1 drops into a shell inside instead, with
# SUP_SOCKET set so that plain `supctl ...` talks to this supd; leave the shell to stop it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" demo
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: creating namespaces needs root: run it with sudo" >&2
	exit 1
fi
BUILD_DIR=$top/build "$top/scripts/build.sh"
export SUP_TOP="$top" SUP_BIN="$top/build"
exec unshare --pid --mount --net --uts --ipc --fork --mount-proc --kill-child \
	sh "$top/scripts/demo-inside.sh"
