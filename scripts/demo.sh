#!/bin/sh
# Build sup and run supd on examples/units inside throwaway pid, mount and network namespaces
# (safe on a workstation: nothing it starts can outlive it or touch the host's services), show
# `supctl status`, then stop everything. DEMO_SHELL=1 drops into a shell inside instead, with
# SUP_SOCKET set so that plain `supctl ...` talks to this supd; leave the shell to stop it.
# Namespaces need root: run it as root, or as a user with sudo (it asks for it).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "demo.sh: creating namespaces needs root" >&2; exit 1; }
	exec sudo DEMO_SHELL="${DEMO_SHELL:-0}" "$0" "$@"
fi
"$top/scripts/deps.sh" demo
BUILD_DIR=$top/build "$top/scripts/build.sh"
export SUP_TOP="$top" SUP_BIN="$top/build"
exec unshare --pid --mount --net --uts --ipc --fork --mount-proc --kill-child \
	sh "$top/scripts/demo-inside.sh"
