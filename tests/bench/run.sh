#!/bin/sh
# sup's benchmarks against s6, runit and tini: `sudo tests/bench/run.sh [restart|tree|orphans]`.
# SUPD/SUPCTL: the binaries (default: $BUILD_DIR, then build/ and build-*/ of this tree).
# Prints the machine and a markdown table on stdout, raw figures on stderr. See docs/benchmarks.md.
exec python3 "$(dirname "$0")/run.py" "$@"
