#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs every libFuzzer target built in BUILD_DIR for SECONDS each, over its committed corpus
# fuzz/corpus/<target without "fuzz-">/. New inputs go to a temporary directory (the first
# corpus directory libFuzzer is given), never into the repository; crash, leak and timeout
# artifacts go there too and are kept, with the logs, when something fails.
#
#   usage: fuzz/run.sh BUILD_DIR SECONDS
#
# BUILD_DIR is configured with the fuzzers on, e.g.
#   CC=clang meson setup /tmp/fz . -Dfuzz=true -Dtests=false \
#       -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
#
# Exit status: 0 if every target ran clean, 1 if any target crashed, leaked, timed out or
# found a sanitizer report (committed crash-* reproducers fail it until their bug is
# fixed), 2 on a usage error or when there is no target to run.
set -u

usage() {
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
}

[ $# -eq 2 ] || usage
build=$1
seconds=$2
case $seconds in
'' | *[!0-9]*) usage ;;
esac
[ "$seconds" -gt 0 ] || usage
if [ ! -d "$build/fuzz" ]; then
    echo "run.sh: no fuzz targets in '$build' (configure it with -Dfuzz=true)" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
# UBSan reports are findings: stop at the first one, as ASan does.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Largest input per target: a whole record with its segment header (record), an entry at
# the size limit (event), and a few KiB for notes and proofs.
max_len() {
    case $1 in
    record | event) echo 70000 ;;
    *) echo 16384 ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/evident-fuzz.XXXXXX") || exit 2
failed=()
ran=0
for bin in "$build"/fuzz/fuzz-*; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
        continue
    fi
    target=${bin##*/}
    name=${target#fuzz-}
    corpus=$here/corpus/$name
    mkdir -p "$work/$name/new" "$work/$name/artifacts"
    dirs=("$work/$name/new")
    [ -d "$corpus" ] && dirs+=("$corpus")

    echo "== $target: $seconds s, max_len $(max_len "$name")"
    # The outer timeout only guards against a hang outside libFuzzer's own limits.
    timeout --kill-after=30 $((seconds + 600)) \
        "$bin" -max_len="$(max_len "$name")" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$work/$name/artifacts/" "${dirs[@]}" >"$work/$name/log" 2>&1
    rc=$?
    ran=$((ran + 1))

    cov=$(grep -E '^#[0-9]+.*cov:' "$work/$name/log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name/log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$name/log")
    echo "   ${cov:-no coverage line}"
    echo "   runs: ${runs:-?}  exec/s: ${speed:-?}  new inputs: $(find "$work/$name/new" -type f | wc -l)"
    if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/$name/artifacts")" ]; then
        echo "   FAILED (exit $rc); log and artifacts in $work/$name/" >&2
        grep -E 'ERROR: |runtime error:|SUMMARY:|Test unit written|deadly signal' \
            "$work/$name/log" | head -n 20 >&2
        failed+=("$target")
    fi
done

if [ $ran -eq 0 ]; then
    echo "run.sh: no fuzz targets built in '$build/fuzz'" >&2
    rm -rf "$work"
    exit 2
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: failed: ${failed[*]} (see $work)" >&2
    exit 1
fi
rm -rf "$work"
echo "run.sh: all $ran targets ran clean"
exit 0
