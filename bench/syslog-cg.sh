#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Instructions per syslog message of evidentd under callgrind: stable on a
# noisy shared machine, where wall-clock CPU moves by 10-15 % between runs.
# Counts only the event loop and the committer (--toggle-collect), and prints
# the total and the part outside libcrypto (under valgrind OpenSSL falls back
# to software SHA-256, so libcrypto's count says nothing about the real
# machine; the SHA-256 work is fixed by FORMAT.md anyway).
#
#   bench/syslog-cg.sh BUILD_DIR [MESSAGES (50000)] [OUT_DIR (a temporary one)]
#
# OUT_DIR/cg.out is kept for callgrind_annotate when OUT_DIR is given.
set -euo pipefail
build=${1:?usage: bench/syslog-cg.sh BUILD_DIR [MESSAGES] [OUT_DIR]}
n=${2:-50000}
command -v valgrind >/dev/null || { echo "syslog-cg.sh: valgrind is not installed" >&2; exit 2; }
if [ -n "${3:-}" ]; then
    dir=$3
    mkdir -p "$dir"
    keep=1
else
    dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/evident-syslog-cg.XXXXXX")
    keep=0
fi
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir/log"
    ((keep)) || rm -rf "$dir"
}
trap cleanup EXIT
rm -rf "$dir/log"
read -r http syslog <<<"$("$build/bench/evident-loadgen" free-ports 2)"
"$build/src/cli/evident" -d "$dir/log" init --origin bench/syslog-cg \
    --verification-key-file "$dir/v.key" >/dev/null 2>&1
cat >"$dir/evidentd.yaml" <<EOF
log: {dir: $dir/log, sync: interval, sync_interval: 1s}
performance: {group_commit_wait: 0}
server:
  unix_socket: $dir/evidentd.sock
  http_listen: ["127.0.0.1:$http"]
  syslog_tcp: "127.0.0.1:$syslog"
EOF
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --collect-atstart=no \
    --toggle-collect=loop --toggle-collect=committer \
    "$build/src/daemon/evidentd" --config "$dir/evidentd.yaml" >"$dir/evidentd.out" 2>&1 &
pid=$!
"$build/bench/evident-loadgen" probe --addr "127.0.0.1:$http" --path /healthz --timeout 120 >/dev/null
"$build/bench/evident-loadgen" syslog-tcp --addr "127.0.0.1:$syslog" --messages "$n" \
    --connections 4 --wait-metrics "127.0.0.1:$http" --timeout 600 >/dev/null
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
