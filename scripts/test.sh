#!/bin/sh
# Install what is missing, build, and run every test: the check suites (unit), supd driven by
# supctl in fresh namespaces (integration), the VM tests (vm), a short soak (soak), the unit
# suites and a chosen part of the integration suite again against an ASan+UBSan build with
# LeakSanitizer on (build-asan, labels unit and asan), and the fuzz targets over their seed
# corpora (fuzz, a clang build with libFuzzer). Needs root (namespaces): run it as root, or as
# a user with sudo (it asks for it). Extra args go to ctest, e.g. -L unit.
#
# Time: CI gives this well under 30 minutes on 2 cores. The whole integration suite under
# ASan takes longer than that by itself (containers, images and deps run several times
# slower), so the sanitized run is the unit suites plus the integration tests labelled asan
# in tests/CMakeLists.txt (SUP_ASAN_INTEG: control, hostile clients, logs, reload, notify,
# odd units, faults); docs/testing.md says how to run all of it by hand.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "test.sh: the integration tests create namespaces: run as root" >&2
		exit 1
	}
	exec sudo "$0" "$@"
fi
"$top/scripts/deps.sh" all
# the container tests' Debian root (debootstrap: mostly network and disk) while the code builds
roots_log=$(mktemp)
SUP_ROOTS_CACHE=$top/build/roots-cache python3 -c "import sys; sys.path.insert(0, '$top/tests/integration')
import roots; roots.debian()" >"$roots_log" 2>&1 &
roots_pid=$!
BUILD_DIR=$top/build "$top/scripts/build.sh" -DSUP_TESTS=ON
# the same with AddressSanitizer, UBSan and LeakSanitizer: supd, supctl and the suites
CC=clang BUILD_DIR=$top/build-asan "$top/scripts/build.sh" -DSUP_SANITIZE=ON -DSUP_TESTS=ON
# the fuzz targets: their own clang build with sanitizers
CC=clang BUILD_DIR=$top/build-fuzz BUILD_TYPE=Debug "$top/scripts/build.sh" -DSUP_FUZZ=ON -DSUP_TESTS=ON
wait "$roots_pid" || { echo "test.sh: building the Debian root for the container tests failed:"; cat "$roots_log"; }
rm -f "$roots_log"
status=0
log=$(mktemp)
rcs=$(mktemp)
# each ctest's own exit status counts too (a pipe into tee would hide it)
(cd "$top/build" && { ctest --output-on-failure -j2 "$@" || echo "build $?" >>"$rcs"; }) 2>&1 |
	tee "$log"
# under the sanitizers: the unit suites and the integration tests labelled asan (see above)
(cd "$top/build-asan" && { ctest --output-on-failure -j2 -L 'unit|asan' "$@" ||
	echo "asan $?" >>"$rcs"; }) 2>&1 | tee -a "$log"
(cd "$top/build-fuzz" && { ctest --output-on-failure -L fuzz "$@" || echo "fuzz $?" >>"$rcs"; }) 2>&1 |
	tee -a "$log"
# one closing line over the three runs: "N passed, N failed"
summary=$(awk '/tests passed, [0-9]+ tests? failed out of/ {
	for (i = 1; i <= NF; i++) { if ($i == "failed") f += $(i - 2); if ($i == "of") n += $(i + 1) }
} END { printf "%d %d", n - f, f }' "$log")
passed=${summary% *}
failed=${summary#* }
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ ! -s "$rcs" ] || status=1
[ ! -s "$rcs" ] || echo "ctest failed in: $(tr '\n' ' ' <"$rcs")"
rm -f "$log" "$rcs"
echo "tests: $passed passed, $failed failed"
exit $status
