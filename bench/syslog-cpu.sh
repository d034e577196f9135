#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The cost of one syslog message in evidentd, under the same load as
# bench/daemon.sh's syslog run: a fresh log, evident-loadgen sending N RFC 5424
# messages over 4 TCP connections, the clock stopping when /metrics counts them
# all. No rsyslogd: for comparing builds.
#
#   bench/syslog-cpu.sh BUILD_DIR [MESSAGES (1200000)]
#       CPU per message of the daemon and of each of its threads, from /proc
#       (noisy on a shared machine: compare builds by alternating runs).
#       RATE=R sends R messages/s instead of as fast as the daemon reads: the
#       same batching for every build, so the CPU per message compares the
#       work alone (at full speed it also moves with how the threads meet).
#   bench/syslog-cpu.sh --callgrind BUILD_DIR [MESSAGES (50000)] [OUT_DIR]
#       instructions per message of the event loop and the committer under
#       callgrind, in all and outside libcrypto (under valgrind OpenSSL uses
#       software SHA-256, so libcrypto's count says nothing about the machine);
#       stable where the CPU figure moves by 10-15 %. OUT_DIR keeps cg.out.
set -euo pipefail
callgrind=0
if [ "${1:-}" = --callgrind ]; then
    callgrind=1
    shift
    command -v valgrind >/dev/null || { echo "syslog-cpu.sh: valgrind is not installed" >&2; exit 2; }
fi
build=${1:?usage: bench/syslog-cpu.sh [--callgrind] BUILD_DIR [MESSAGES] [OUT_DIR]}
if ((callgrind)); then n=${2:-50000}; else n=${2:-1200000}; fi
for b in src/cli/evident src/daemon/evidentd bench/evident-loadgen; do
    [ -x "$build/$b" ] || { echo "syslog-cpu.sh: '$build/$b' not built" >&2; exit 2; }
done
keep=0
if ((callgrind)) && [ -n "${3:-}" ]; then
    dir=$3
    mkdir -p "$dir"
    keep=1
else
    dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/evident-syslog-cpu.XXXXXX")
fi
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir/log"
    ((keep)) || rm -rf "$dir"
}
trap cleanup EXIT
rm -rf "$dir/log" "$dir/v.key" # a kept OUT_DIR: init refuses an existing key file
read -r http syslog <<<"$("$build/bench/evident-loadgen" free-ports 2)"
"$build/src/cli/evident" -d "$dir/log" init --origin bench/syslog-cpu \
    --verification-key-file "$dir/v.key" >/dev/null 2>"$dir/init.err" ||
    { cat "$dir/init.err" >&2; exit 2; }
cat >"$dir/evidentd.yaml" <<EOF
log: {dir: $dir/log, sync: interval, sync_interval: 1s}
performance: {group_commit_wait: 0}
server:
  unix_socket: $dir/evidentd.sock
  http_listen: ["127.0.0.1:$http"]
  syslog_tcp: "127.0.0.1:$syslog"
EOF
run=("$build/src/daemon/evidentd" --config "$dir/evidentd.yaml")
if ((callgrind)); then
    run=(valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --collect-atstart=no
        --toggle-collect=loop --toggle-collect=committer "${run[@]}")
fi
"${run[@]}" >"$dir/evidentd.out" 2>&1 &
pid=$!
"$build/bench/evident-loadgen" probe --addr "127.0.0.1:$http" --path /healthz --timeout 120 >/dev/null
ticks() { awk '{print $14 + $15}' "$1"; }
declare -A t0
for t in /proc/$pid/task/*; do t0[$t]=$(ticks "$t/stat"); done
c0=$(ticks /proc/$pid/stat)
"$build/bench/evident-loadgen" syslog-tcp --addr "127.0.0.1:$syslog" --messages "$n" \
    --connections 4 --wait-metrics "127.0.0.1:$http" --timeout 600 \
    ${RATE:+--rate "$RATE"} >"$dir/loadgen.out"
if ((!callgrind)); then
    cat "$dir/loadgen.out"
    hz=$(getconf CLK_TCK)
    awk -v a="$c0" -v b="$(ticks /proc/$pid/stat)" -v n="$n" -v hz="$hz" \
        'BEGIN { printf "evidentd cpu_us_per_msg=%.3f\n", (b - a) / hz * 1e6 / n }'
    for t in /proc/$pid/task/*; do
        d=$(($(ticks "$t/stat") - ${t0[$t]:-0}))
        ((d > 0)) && awk -v c="$(cat "$t/comm")" -v d="$d" -v n="$n" -v hz="$hz" \
            'BEGIN { printf "  thread %s cpu_us_per_msg=%.3f\n", c, d / hz * 1e6 / n }'
    done
    exit 0
fi
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
callgrind_annotate "$dir/cg.out" 2>/dev/null | awk -v n="$n" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    /^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ {
        v = $1; gsub(",", "", v); if ($0 ~ /libcrypto/) crypto += v
    }
    END {
        printf "instructions per message: %d in all, %d outside libcrypto\n", total / n,
            (total - crypto) / n
    }'
