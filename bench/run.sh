#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Builds evident for release and runs the full benchmark, printing its table
# (docs/PERFORMANCE.md says what every row means and records a full run).
#
#   bench/run.sh                  full run (6-8 minutes, ~5 GB in /var/tmp at the peak)
#   bench/run.sh --quick          smoke run with small sizes
#   bench/run.sh --dir /srv/x     measure another filesystem
#   BUILD_DIR=... bench/run.sh    build somewhere else (default: build-bench)
#
# Any argument is passed to evident-bench (see evident-bench --help).
#
# -Dwerror=false: at -O3 gcc 12 reports -Wmaybe-uninitialized false positives
# in the library (see docs/PERFORMANCE.md); a benchmark build must not stop there.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$src" --buildtype=release -Dtests=false -Dwerror=false
fi
ninja -C "$build" bench/evident-bench
# The CLI is measured when it builds; the benchmark says so when it does not.
ninja -C "$build" src/cli/evident || echo "run.sh: the evident CLI did not build; its row is skipped" >&2

exec "$build/bench/evident-bench" --cli "$build/src/cli/evident" "$@"
