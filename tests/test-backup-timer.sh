#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# evidentd's backup timer (docs/LIFECYCLE.md, "The daemon's backup timer"):
# with retention.backup_dir set and a 1 s backup_interval, while a producer
# writes, the daemon makes backup generations on its own thread, keeps
# backup_keep of them, says so in /metrics, and the newest one restores and
# verifies. A backup that fails (the directory cannot be made: set by a
# SIGHUP) is a metric, a stderr line and a logging_failure alert.
#
#   EVIDENT=build/src/cli/evident EVIDENTD=build/src/daemon/evidentd SRCDIR=. \
#       bash tests/test-backup-timer.sh
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
: "${EVIDENTD:?set EVIDENTD to the evidentd binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
EVIDENTD=$(cd "$(dirname "$EVIDENTD")" && pwd)/$(basename "$EVIDENTD")
CLIENT="python3 $SRCDIR/tests/evclient.py"

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-backup-timer.XXXXXX")
daemon_pid=
receiver_pid=
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    if [[ -n $receiver_pid ]]; then
        kill -9 "$receiver_pid" 2>/dev/null || true
        wait "$receiver_pid" 2>/dev/null || true
    fi
    if [[ ${failed:-0} -eq 0 && -z ${KEEP:-} ]]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"
cd "$T"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
HTTP_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT

$CLIENT receiver "$T/webhook.port" "$T/webhook.bodies" &
receiver_pid=$!
for _ in $(seq 1 50); do
    [[ -s $T/webhook.port ]] && break
    sleep 0.1
done
WEBHOOK=http://127.0.0.1:$(cat "$T/webhook.port")/hook
touch "$T/webhook.bodies"

write_config() { # backup_dir
    cat >"$T/evidentd.yaml" <<EOF
log:
  dir: $T/log
integrity:
  checkpoint_interval: 1s
  self_verify_interval: 0
retention:
  backup_dir: $1
  backup_interval: 1s
  backup_keep: 2
server:
  unix_socket: $T/evidentd.sock
  http_listen: ["127.0.0.1:$HTTP_PORT"]
alerting:
  rules:
    - {name: failing, "on": logging_failure, webhook: "$WEBHOOK"}
EOF
}

metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

wait_metric_ge() { # name value tenths
    for _ in $(seq 1 "$3"); do
        local v
        v=$(metric "$1")
        [[ -n $v ]] && awk -v v="$v" -v w="$2" 'BEGIN { exit !(v >= w) }' && return 0
        sleep 0.1
    done
    return 1
}

"$EVIDENT" -d "$T/log" init --origin test.example/backup-timer \
    --verification-key-file "$T/vkey" >/dev/null 2>&1
write_config "$T/backups"
"$EVIDENTD" --config "$T/evidentd.yaml" 2>>"$T/daemon.err" &
daemon_pid=$!
for _ in $(seq 1 100); do
    curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

curl -s "$BASE/metrics" >"$T/out"
expect_out "the backup families are there" "# TYPE evident_backup_last_success_timestamp_seconds gauge"

# A producer: a few events every half second, so each backup has a new checkpoint.
for i in $(seq 1 14); do
    printf '{"type":"custom.bt","data":{"n":%d}}\n{"type":"custom.bt","data":{"n":%d}}\n' \
        "$i" "$((i + 100))" | $CLIENT lines "$T/evidentd.sock" >/dev/null
    sleep 0.5
done
check "backups were made while the producer wrote" wait_metric_ge evident_backups_total 3 50
check "generations: backup_keep (2) kept" test "$(find "$T/backups" -mindepth 1 -maxdepth 1 \
    -type d ! -name '.tmp-*' | wc -l)" = 2
check "the metric agrees" test "$(metric evident_backup_generations)" = 2
check "the last backup's time is there" test -n "$(metric evident_backup_last_success_timestamp_seconds)"
check "the last backup covers entries" wait_metric_ge evident_backup_last_tree_size 10 30
check "no failure" test "$(metric evident_backup_failures_total)" = 0

# The newest generation restores and verifies, with every entry it covers.
run restore --from "$T/backups" --to "$T/restored"
expect_rc "restore the newest generation" 0
run -d "$T/restored" verify --verification-key-file "$T/vkey"
expect_rc "the restored log verifies" 0
expect_out "verified" "verified: log"

# A backup directory that cannot be made (under a regular file): a failure, said three ways.
: >"$T/not-a-directory"
write_config "$T/not-a-directory/backups"
kill -HUP "$daemon_pid"
check "a failed backup is counted" wait_metric_ge evident_backup_failures_total 1 60
check "and said on stderr" grep -q "evidentd: backup to '$T/not-a-directory/backups' failed" \
    "$T/daemon.err"
for _ in $(seq 1 50); do
    grep -q 'backup to' "$T/webhook.bodies" && break
    sleep 0.1
done
check "and alerted (logging_failure)" grep -q '"condition":"logging_failure".*backup to' \
    "$T/webhook.bodies"

kill -TERM "$daemon_pid"
set +e
wait "$daemon_pid"
rc=$?
set -e
daemon_pid=
expect_rc "evidentd stops with the backup timer running" 0

echo "backup-timer: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
