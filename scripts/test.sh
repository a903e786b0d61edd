#!/bin/sh
# Install what is missing, build, and run every test: the check suites (unit), supd driven by
# supctl in fresh namespaces (integration), and the fuzz targets over their seed corpora (fuzz,
# a clang build with libFuzzer). Needs root (namespaces). Extra args go to ctest, e.g. -L unit.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" all
if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the integration tests create namespaces: run as root" >&2
	exit 1
fi
BUILD_DIR=$top/build "$top/scripts/build.sh"
# the fuzz targets: their own clang build with sanitizers
CC=clang BUILD_DIR=$top/build-fuzz BUILD_TYPE=Debug "$top/scripts/build.sh" -DSUP_FUZZ=ON
status=0
(cd "$top/build" && ctest --output-on-failure -j2 "$@") || status=1
(cd "$top/build-fuzz" && ctest --output-on-failure -L fuzz "$@") || status=1
exit $status
