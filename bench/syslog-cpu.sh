#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CPU per syslog message of one evidentd, and of each of its threads (the
# event loop and the committer), under the same load as bench/daemon.sh's
# syslog run: a fresh log in a temporary directory, evident-loadgen sending N
# RFC 5424 messages over 4 TCP connections, the clock stopping when /metrics
# counts them all. No rsyslogd: for comparing builds, several alternating runs.
#
#   bench/syslog-cpu.sh BUILD_DIR [MESSAGES (1200000)]
set -euo pipefail
build=${1:?usage: bench/syslog-cpu.sh BUILD_DIR [MESSAGES]}
n=${2:-1200000}
for b in src/cli/evident src/daemon/evidentd bench/evident-loadgen; do
    [ -x "$build/$b" ] || { echo "syslog-cpu.sh: '$build/$b' not built" >&2; exit 2; }
done
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/evident-syslog-cpu.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
read -r http syslog <<<"$("$build/bench/evident-loadgen" free-ports 2)"
"$build/src/cli/evident" -d "$dir/log" init --origin bench/syslog-cpu \
    --verification-key-file "$dir/v.key" >/dev/null 2>&1
cat >"$dir/evidentd.yaml" <<EOF
log: {dir: $dir/log, sync: interval, sync_interval: 1s}
performance: {group_commit_wait: 0}
server:
  unix_socket: $dir/evidentd.sock
  http_listen: ["127.0.0.1:$http"]
  syslog_tcp: "127.0.0.1:$syslog"
EOF
"$build/src/daemon/evidentd" --config "$dir/evidentd.yaml" >"$dir/evidentd.out" 2>&1 &
pid=$!
"$build/bench/evident-loadgen" probe --addr "127.0.0.1:$http" --path /healthz --timeout 20 >/dev/null
ticks() { awk '{print $14 + $15}' "$1"; }
hz=$(getconf CLK_TCK)
declare -A t0
for t in /proc/$pid/task/*; do t0[$t]=$(ticks "$t/stat"); done
c0=$(ticks /proc/$pid/stat)
"$build/bench/evident-loadgen" syslog-tcp --addr "127.0.0.1:$syslog" --messages "$n" \
    --connections 4 --wait-metrics "127.0.0.1:$http" --timeout 300
c1=$(ticks /proc/$pid/stat)
awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$hz" \
    'BEGIN { printf "evidentd cpu_us_per_msg=%.3f\n", (b - a) / hz * 1e6 / n }'
for t in /proc/$pid/task/*; do
    d=$(($(ticks "$t/stat") - ${t0[$t]:-0}))
    ((d > 0)) && awk -v c="$(cat "$t/comm")" -v d="$d" -v n="$n" -v hz="$hz" \
        'BEGIN { printf "  thread %s cpu_us_per_msg=%.3f\n", c, d / hz * 1e6 / n }'
done
exit 0
