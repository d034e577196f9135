#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A full disk, for real (issue 5, docs/LIFECYCLE.md "Full disks"): the log on a
# 4 MiB tmpfs of its own, evidentd writing to it while files of the test's own
# (fallocate) take the space away and give it back.
#
#   - thresholds: disk_low (space_left) and admin_space_left alerts reach a
#     webhook; /healthz and /metrics say the level;
#   - block (disk.reserve crossed): a writer's requests are answered only once
#     space is freed, then every event is there exactly once at the index its
#     reply gave, and the log verifies;
#   - block with the kernel's own ENOSPC (disk.reserve 0): the same, through
#     the failed handle, the reopen and recovery;
#   - reject: HTTP 507 "disk full: ... free of ... needed", the Unix socket's
#     error line, reads still served, writes work again once space returns;
#   - the CLI on a full disk: a clear message, exit 2, a log that verifies;
#   - early pruning: under space_left, retention.min_age lets the oldest closed
#     segments go (entries made two hours old with libfaketime).
#
# Needs root (mount). Without it: "SKIP: cannot mount tmpfs (reason)", exit 77,
# which meson reports as skipped. The ENOSPC injection tests (test-disk-faults,
# test-daemon-commit) run everywhere.
#
#   EVIDENT=build/src/cli/evident EVIDENTD=build/src/daemon/evidentd SRCDIR=. \
#       bash tests/test-disk.sh
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
: "${EVIDENTD:?set EVIDENTD to the evidentd binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
EVIDENTD=$(cd "$(dirname "$EVIDENTD")" && pwd)/$(basename "$EVIDENTD")
CLIENT="python3 $SRCDIR/tests/evclient.py"

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-disk.XXXXXX")
MNT=$T/disk
daemon_pid=
receiver_pid=
writer_pid=
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    [[ -n $receiver_pid ]] && kill -9 "$receiver_pid" 2>/dev/null || true
    [[ -n $writer_pid ]] && kill -9 "$writer_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    if mountpoint -q "$MNT" 2>/dev/null; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    fi
    if [[ ${failed:-0} -eq 0 && -z ${KEEP:-} ]]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT

mkdir "$MNT"
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: cannot mount tmpfs (not root)"
    exit 77
fi
if ! mount -t tmpfs -o size=4m,mode=0700 evident-test "$MNT" 2>"$T/mount.err"; then
    echo "SKIP: cannot mount tmpfs ($(head -n 1 "$T/mount.err"))"
    exit 77
fi

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"
cd "$T"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
HTTP_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT
WRITER_TOKEN=writer-$(head -c 16 /dev/urandom | xxd -p)
READER_TOKEN=reader-$(head -c 16 /dev/urandom | xxd -p)
hash_token() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

$CLIENT receiver "$T/webhook.port" "$T/webhook.bodies" &
receiver_pid=$!
for _ in $(seq 1 50); do
    [[ -s $T/webhook.port ]] && break
    sleep 0.1
done
WEBHOOK=http://127.0.0.1:$(cat "$T/webhook.port")/hook
touch "$T/webhook.bodies"

avail() { df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' '; }
fillers=0
# Takes space away until about $1 bytes are free (a new file each time).
fill_to() {
    local take=$(($(avail) - $1))
    if ((take > 0)); then
        fillers=$((fillers + 1))
        fallocate -l "$take" "$MNT/filler.$fillers"
    fi
}
unfill() { rm -f "$MNT"/filler.*; }

write_config() { # disk_full_action reserve
    cat >"$T/evidentd.yaml" <<EOF
log:
  dir: $MNT/log
  sync: always
integrity:
  checkpoint_interval: 1s
  self_verify_interval: 0
storage:
  segment_size: 1MiB
disk:
  space_left: 50%
  admin_space_left: 25%
  reserve: $2
  disk_full_action: $1
server:
  unix_socket: $T/evidentd.sock
  http_listen: ["127.0.0.1:$HTTP_PORT"]
  writer_tokens: ["sha256:$(hash_token "$WRITER_TOKEN")"]
  reader_tokens: ["sha256:$(hash_token "$READER_TOKEN")"]
alerting:
  webhook_retries: 1
  rules:
    - {name: low, "on": disk_low, webhook: "$WEBHOOK"}
    - {name: admin, "on": admin_space_left, webhook: "$WEBHOOK"}
    - {name: full, "on": disk_full, webhook: "$WEBHOOK"}
    - {name: failing, "on": logging_failure, webhook: "$WEBHOOK"}
EOF
}

start_daemon() {
    ${EVIDENTD_WRAP:-} "$EVIDENTD" --config "$T/evidentd.yaml" 2>>"$T/daemon.err" &
    daemon_pid=$!
    for _ in $(seq 1 100); do
        if curl -sf "$BASE/healthz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "evidentd did not become ready:" >&2
    cat "$T/daemon.err" >&2
    return 1
}

stop_daemon() {
    kill -TERM "$daemon_pid"
    set +e
    wait "$daemon_pid"
    rc=$?
    set -e
    daemon_pid=
}

# Waits up to $2 tenths of a second for /healthz to show "disk":"$1".
wait_disk() {
    for _ in $(seq 1 "$2"); do
        curl -s "$BASE/healthz" | grep -qF "\"disk\":\"$1\"" && return 0
        sleep 0.1
    done
    return 1
}

wait_webhook() { # text, tenths of a second
    for _ in $(seq 1 "$2"); do
        grep -qF -- "$1" "$T/webhook.bodies" && return 0
        sleep 0.1
    done
    return 1
}

metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# A batch of $2 events of ~2 KiB each, marked "$1-J".
batch() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
tag, n = sys.argv[1], int(sys.argv[2])
print(json.dumps([{"type": "custom.fill", "data": {"marker": "%s-%d" % (tag, j), "pad": "x" * 2000}}
                  for j in range(n)]))
EOF
}

post_file() { # file -> "CODE BODY" on stdout
    curl -s --max-time 50 -o "$T/post.body" -w '%{http_code}' \
        -H "Authorization: Bearer $WRITER_TOKEN" -H 'Content-Type: application/json' \
        --data-binary @"$1" "$BASE/v1/events" >"$T/post.code" || echo 000 >"$T/post.code"
    echo "$(cat "$T/post.code") $(cat "$T/post.body")"
}

# A writer: $2 requests of 20 events, tagged $1-I, one after the other; each
# reply becomes a line "I CODE BODY" of $T/writer.$1.
writer() {
    local tag=$1 n=$2
    : >"$T/writer.$tag"
    for i in $(seq 1 "$n"); do
        batch "$tag-$i" 20 >"$T/batch.$tag.$i"
        echo "$i $(post_file "$T/batch.$tag.$i")" >>"$T/writer.$tag"
    done
}

# Every event the writer $1 sent is in the log exactly once, at the index its reply named.
check_writer() {
    "$EVIDENT" -d "$MNT/log" log --json >"$T/entries.json" 2>/dev/null
    python3 - "$T/writer.$1" "$T/entries.json" "$1" "$2" <<'EOF'
import json, sys
replies, entries, tag, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
at = {}
for line in open(entries):
    e = json.loads(line)
    m = e.get("data", {}).get("marker")
    if m is not None:
        at.setdefault(m, []).append(e["seq"])
n = 0
for line in open(replies):
    i, code, body = line.rstrip("\n").split(" ", 2)
    if code != "200":
        sys.exit("request %s: %s %s" % (i, code, body))
    for j, index in enumerate(json.loads(body)["indexes"]):
        m = "%s-%s-%d" % (tag, i, j)
        if at.get(m) != [index]:
            sys.exit("%s: reply said %s, the log has it at %s" % (m, index, at.get(m)))
        n += 1
if n != want:
    sys.exit("%d events acknowledged, expected %d" % (n, want))
EOF
}

verify() { "$EVIDENT" -d "$MNT/log" verify --verification-key-file "$T/vkey" >"$T/verify.out" 2>&1; }

"$EVIDENT" -d "$MNT/log" init --origin test.example/disk --verification-key-file "$T/vkey" \
    >/dev/null 2>&1

# ---- thresholds, then block at disk.reserve ---------------------------------
write_config block 512KiB
start_daemon
check "healthz says the disk is ok" wait_disk ok 20
fill_to $((1536 * 1024)) # under space_left (2 MiB)
check "under space_left: healthz" wait_disk space_left 30
check "under space_left: the disk_low alert reaches the webhook" \
    wait_webhook '"condition":"disk_low"' 50
fill_to $((800 * 1024)) # under admin_space_left (1 MiB)
check "under admin_space_left: healthz" wait_disk admin_space_left 30
check "under admin_space_left: its alert reaches the webhook" \
    wait_webhook '"condition":"admin_space_left"' 50
check "evident_disk_state is 2" test "$(metric evident_disk_state)" = 2

writer block 12 &
writer_pid=$!
check "the writer fills the disk to disk.reserve: full" wait_disk full 150
check "the disk_full alert reaches the webhook" wait_webhook '"condition":"disk_full"' 50
check "the logging_failure alert too" wait_webhook '"condition":"logging_failure"' 50
check "severities rise with the level: disk_low warning" \
    grep -q '"condition":"disk_low".*"severity":"warning"' "$T/webhook.bodies"
check "admin_space_left critical" \
    grep -q '"condition":"admin_space_left".*"severity":"critical"' "$T/webhook.bodies"
check "disk_full alert" grep -q '"condition":"disk_full".*"severity":"alert"' "$T/webhook.bodies"
check "evident_disk_state is 3" test "$(metric evident_disk_state)" = 3
curl -s "$BASE/healthz" >"$T/out"
expect_out "healthz: why" '"reason":"disk full: '
sleep 2
check "the blocked writer is still waiting for its answer" kill -0 "$writer_pid"
held_before=$(wc -l <"$T/writer.block")
unfill
set +e
wait "$writer_pid"
set -e
writer_pid=
check "space back: healthz" wait_disk ok 50
check "after space returned every request was answered" test "$(wc -l <"$T/writer.block")" = 12
check "$held_before requests answered before the space came back, the rest after" \
    test "$held_before" -lt 12
check "every blocked event is in the log once, at its index" check_writer block 240
grep -q 'disk full: ' "$T/daemon.err" && pass || fail "stderr says the disk is full"
stop_daemon
expect_rc "stop after a full disk" 0
check "the log verifies after the full disk (block)" verify

# ---- block at the kernel's own ENOSPC (no reserve) -----------------------------
unfill
write_config block 0
start_daemon
fill_to $((300 * 1024))
writer enospc 20 &
writer_pid=$!
check "ENOSPC: full" wait_disk full 200
sleep 1
check "ENOSPC: the writer waits" kill -0 "$writer_pid"
check "ENOSPC: counted" test "$(metric evident_disk_enospc_total)" -ge 1
check "ENOSPC: the log was reopened" test "$(metric evident_log_reopens_total)" -ge 1
unfill
set +e
wait "$writer_pid"
set -e
writer_pid=
check "ENOSPC: every request answered once space returned" \
    test "$(wc -l <"$T/writer.enospc")" = 20
check "ENOSPC: every event once, at its index (nothing kept by recovery was sent twice)" \
    check_writer enospc 400
stop_daemon
expect_rc "stop after ENOSPC" 0
check "the log verifies after ENOSPC (block)" verify

# ---- reject -----------------------------------------------------------------
write_config reject 512KiB
start_daemon
fill_to $((300 * 1024))
check "reject: full" wait_disk full 30
batch reject-1 5 >"$T/batch.reject"
post_file "$T/batch.reject" >"$T/out"
expect_out "reject: HTTP 507" "507 "
expect_out "reject: what is wrong" '{"error":"disk full: '
expect_out "reject: how much" ' free of '
echo '{"type":"custom.fill","data":{"marker":"unix-1"}}' |
    $CLIENT lines "$T/evidentd.sock" >"$T/out"
expect_out "reject: the Unix socket's error line" '"error":"not recorded: disk full: '
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READER_TOKEN" \
    "$BASE/v1/entries?limit=2" >"$T/out"
expect_out_exactly "reject: reads are still served" 200
curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/checkpoint" >"$T/out"
expect_out_exactly "reject: the checkpoint too" 200
"$EVIDENT" -d "$MNT/log" log --json 2>/dev/null | grep -c '"marker":"reject-1-' >"$T/out" || true
expect_out_exactly "reject: nothing of the refused request was written" 0
unfill
check "reject: recovers by itself" wait_disk ok 50
post_file "$T/batch.reject" >"$T/out"
expect_out "reject: writes work again" "200 "
stop_daemon
expect_rc "stop after reject" 0
check "the log verifies after reject" verify

# ---- the CLI on a full disk ---------------------------------------------------
fill_to 0
fallocate -l "$(avail)" "$MNT/filler.last" 2>/dev/null || true
run -d "$MNT/log" append --type custom.cli --data '{"marker":"cli-1"}'
expect_rc "CLI on a full disk: exit 2" 2
expect_err "CLI: the cause" "no space left on device"
expect_err "CLI: what it means" "the log's file system is full"
unfill
check "the log verifies after the CLI's failed append" verify
run -d "$MNT/log" append --type custom.cli --data '{"marker":"cli-2"}'
expect_rc "CLI: appends again once there is space" 0

# ---- early pruning at space_left, down to retention.min_age ---------------------------
# A fresh log whose entries are two hours old (written under libfaketime), older than
# min_age (1h, its least). 2.3 MB of them leave the 4 MiB disk under space_left (2 MiB):
# evidentd's first disk check prunes the oldest closed segment, no younger one and never
# the open one, and the log still verifies with the pruning accounted for.
libfaketime=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
check "libfaketime is installed (scripts/setup.sh)" test -n "$libfaketime"
if [[ -n $libfaketime ]]; then
    unfill
    rm -rf "$MNT/log"
    # ASan (the sanitized build) wants to be first in the link order; libfaketime is preloaded.
    two_hours_ago=(env FAKETIME=-2h LD_PRELOAD="$libfaketime"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
    set +e
    "${two_hours_ago[@]}" "$EVIDENT" -d "$MNT/log" init --origin test.example/disk-early \
        --verification-key-file "$T/vkey.early" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    expect_rc "early pruning: a log made two hours ago" 0
    printf 'storage:\n  segment_size: 1MiB\n' >"$T/small.yaml"
    python3 -c '
import json, sys
for i in range(1100):
    sys.stdout.write(json.dumps({"type": "custom.old", "data": {"i": i, "pad": "x" * 2000}}) + "\n")
' >"$T/old.jsonl"
    "${two_hours_ago[@]}" "$EVIDENT" -c "$T/small.yaml" -d "$MNT/log" append --jsonl \
        --sync never <"$T/old.jsonl" >/dev/null
    check "early pruning: two closed segments two hours old" \
        test "$(find "$MNT/log/segments" -name '*.seg' | wc -l)" -ge 3
    ls "$MNT/log/segments" >"$T/segments.before"
    write_config block 0
    printf 'retention:\n  min_age: 1h\n' >>"$T/evidentd.yaml"
    start_daemon
    wait_pruned() {
        for _ in $(seq 1 "$1"); do
            ls "$MNT/log/segments" | grep -q '\.pruned$' && return 0
            sleep 0.1
        done
        return 1
    }
    check "early pruning: the oldest segment became its pruned form" wait_pruned 100
    first=$(head -n 1 "$T/segments.before")
    check "early pruning: it is $first" test -e "$MNT/log/segments/${first%.seg}.pruned"
    check "early pruning: said on stderr" grep -q 'retention (space_left): pruned' "$T/daemon.err"
    check "early pruning: counted" test "$(metric evident_retention_pruned_entries_total)" -ge 1
    check "early pruning: the disk is ok again" wait_disk ok 50
    last=$(tail -n 1 "$T/segments.before")
    check "early pruning: the open segment is whole" test -e "$MNT/log/segments/$last"
    stop_daemon
    expect_rc "stop after early pruning" 0
    "$EVIDENT" -d "$MNT/log" verify --verification-key-file "$T/vkey.early" >"$T/verify.out" 2>&1
    check "the log verifies after early pruning" grep -q '^verified: ' "$T/verify.out"
    check "verify accounts for the pruned entries" grep -q '^pruned: ' "$T/verify.out"
fi

echo "disk: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
