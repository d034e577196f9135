#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# evidentd end to end: a daemon started on loopback ports and sockets of its
# own, fed by real senders (the Unix socket's JSON Lines, util-linux logger over
# TCP, UDP and a Unix datagram socket, an rsyslogd of the test's own forwarding
# with omfwd, curl over HTTP), then reloaded, killed, restarted and verified.
#
#   EVIDENT=build/src/cli/evident EVIDENTD=build/src/daemon/evidentd SRCDIR=. \
#       bash tests/test-daemon.sh
#
# Last line: "daemon: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
: "${EVIDENTD:?set EVIDENTD to the evidentd binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
EVIDENTD=$(cd "$(dirname "$EVIDENTD")" && pwd)/$(basename "$EVIDENTD")
CLIENT="python3 $SRCDIR/tests/evclient.py"

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-daemon.XXXXXX")
daemon_pid=
rsyslog_pid=
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    [[ -n $rsyslog_pid ]] && kill -9 "$rsyslog_pid" 2>/dev/null || true
    [[ -n ${receiver_pid:-} ]] && kill -9 "$receiver_pid" 2>/dev/null || true
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
TCP_PORT=$(free_port)
UDP_PORT=$(free_port)
RSYSLOG_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT

WRITER_TOKEN=writer-$(head -c 16 /dev/urandom | xxd -p)
READER_TOKEN=reader-$(head -c 16 /dev/urandom | xxd -p)
hash_token() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

write_config() { # extra YAML lines for the policies section on $1
    cat >"$T/evidentd.yaml" <<EOF
log:
  dir: $T/log
  sync: always
integrity:
  publish: ["$T/published"]
  checkpoint_interval: 1s
  self_verify_interval: 1m
storage:
  segment_size: 1MiB
  compression: zstd
server:
  unix_socket: $T/evidentd.sock
  syslog_unix: $T/log.sock
  http_listen: ["127.0.0.1:$HTTP_PORT"]
  syslog_tcp: 127.0.0.1:$TCP_PORT
  syslog_udp: 127.0.0.1:$UDP_PORT
  writer_tokens: ["sha256:$(hash_token "$WRITER_TOKEN")"]
  reader_tokens: ["sha256:$(hash_token "$READER_TOKEN")"]
  max_request_bytes: 64KiB
performance:
  stream_threads: 3 # more loops than connections in most tests: every one is handed over
policies:
  custom:
    min_severity: ${1:-debug}
alerting:
  webhook_retries: 2
  rules:
    - name: critical-events
      type: "*"
      min_severity: critical
      threshold: 2
      window: 1m
      webhook: http://127.0.0.1:$WEBHOOK_PORT/hook?token=secret-in-url
EOF
}

start_daemon() {
    "$EVIDENTD" --config "$T/evidentd.yaml" 2>>"$T/daemon.err" &
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

stop_daemon() { # sends SIGTERM; the exit status lands in $rc
    kill -TERM "$daemon_pid"
    set +e
    wait "$daemon_pid"
    rc=$?
    set -e
    daemon_pid=
}

# Entries of the log, one JSON per line (the daemon may be running: readers take no lock).
entries() { "$EVIDENT" -d "$T/log" log --json 2>/dev/null; }

# A webhook receiver for the alerts.
$CLIENT receiver "$T/webhook.port" "$T/webhook.bodies" &
receiver_pid=$!
for _ in $(seq 1 50); do
    [[ -s $T/webhook.port ]] && break
    sleep 0.1
done
WEBHOOK_PORT=$(cat "$T/webhook.port")

# ---- start ------------------------------------------------------------------
"$EVIDENT" -d "$T/log" init --origin test.example/daemon --verification-key-file "$T/vkey" \
    --seal-interval 2s >/dev/null 2>&1
write_config
run_in /dev/null # reset $T/out
set +e
"$EVIDENTD" --config "$T/nonexistent.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_rc "missing config" 1
expect_err "missing config" "nonexistent.yaml"

# A start that fails after the log is open (the HTTP port is taken) records no shutdown
# without a startup, and leaves a log that verifies.
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); open(sys.argv[2], "w").close(); time.sleep(30)' \
    "$HTTP_PORT" "$T/port-taken" &
holder_pid=$!
for _ in $(seq 1 50); do [[ -e $T/port-taken ]] && break; sleep 0.1; done
set +e
timeout 60 "$EVIDENTD" --config "$T/evidentd.yaml" >"$T/out" 2>"$T/err"
rc=$?
set -e
kill "$holder_pid" 2>/dev/null || true
wait "$holder_pid" 2>/dev/null || true
expect_rc "HTTP port taken: the start fails" 1
expect_err "HTTP port taken: the error names http" "http"
entries >"$T/tail"
check "failed start: no shutdown event" test "$(grep -cF '"action":"shutdown"' "$T/tail")" = 0
check "failed start: no startup event" test "$(grep -cF '"action":"startup"' "$T/tail")" = 0
run -d "$T/log" verify --verification-key-file "$T/vkey"
expect_rc "failed start: the log verifies" 0

# The systemd unit is valid and sandboxed (systemd-analyze's exposure score: 0 best, 10 worst).
sed "s|/usr/sbin/evidentd|$EVIDENTD|" "$SRCDIR/packaging/evidentd.service" >"$T/evidentd.service"
check "systemd unit verifies" systemd-analyze verify --man=no "$T/evidentd.service"
exposure=$(systemd-analyze security --offline=true "$T/evidentd.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for evidentd.service: \([0-9.]*\).*/\1/p')
check "systemd exposure level $exposure is below 2" \
    python3 -c "import sys; sys.exit(0 if float('${exposure:-10}') < 2 else 1)"

start_daemon
check "socket mode 0660" test "$(stat -c %a "$T/evidentd.sock")" = 660
curl -s "$BASE/healthz" >"$T/out"
expect_out "healthz" '"status":"ok"'

# ---- Unix socket: one reply per line, in order --------------------------------
cat >"$T/lines" <<'EOF'
{"type":"custom.test","severity":"notice","data":{"n":1}}
{"type":"code_execution","data":{"language":"python","exit_code":"x"}}
 	 
{"type":"custom.test","severity":"debug","data":{"n":2}}
not json
{"type":"custom.test","data":{"n":3},"source":{"job":"ci-42"}}
{"type":"nonsense"}
EOF
$CLIENT lines "$T/evidentd.sock" <"$T/lines" >"$T/out"
check "six replies for six non-blank lines (a line of blanks is blank)" test "$(wc -l <"$T/out")" = 6
sed -n 1p "$T/out" | grep -Eq '^\{"index":[0-9]+\}$' && pass || fail "line 1 acknowledged"
sed -n 2p "$T/out" | grep -qF '"error":"data.exit_code: expected an integer","line":2' && pass ||
    fail "line 2: the field is named"
sed -n 3p "$T/out" | grep -Eq '^\{"index":[0-9]+\}$' && pass || fail "line 4 (debug kept)"
sed -n 4p "$T/out" | grep -qF '"line":5}' && pass || fail "line 5: not JSON, numbered"
sed -n 6p "$T/out" | grep -qF '"line":7}' && pass || fail "line 7: unknown type"
first=$(sed -n 1p "$T/out" | grep -Eo '[0-9]+')
"$EVIDENT" -d "$T/log" entry "$first" >"$T/entry" 2>&1 || true
grep -qF '"transport":"unix"' "$T/entry" && pass || fail "source is the Unix peer"
grep -qF "\"uid\":$(id -u)" "$T/entry" && pass || fail "source has the peer's uid"
grep -qF "\"user\":\"$(id -un)\"" "$T/entry" && pass || fail "source has the peer's user name"
# A second connection of the same uid: the name comes from the minute-long cache, the same.
echo '{"type":"custom.test","severity":"warning","data":{"again":true}}' |
    $CLIENT lines "$T/evidentd.sock" >"$T/out2"
again=$(grep -Eo '[0-9]+' "$T/out2" | head -n 1)
"$EVIDENT" -d "$T/log" entry "$again" >"$T/entry2" 2>&1 || true
grep -qF "\"user\":\"$(id -un)\"" "$T/entry2" && pass || fail "second connection: same user name"
idx3=$(sed -n 5p "$T/out" | grep -Eo '[0-9]+')
"$EVIDENT" -d "$T/log" entry "$idx3" >"$T/entry" 2>&1 || true
grep -qF '"claimed":{"job":"ci-42"}' "$T/entry" && pass || fail "producer's source kept as claimed"

# Preallocation (storage.preallocate, under sync: always): the live segment holds zeros
# ahead of its records, here up to the segment size (1 MiB); closing a segment and stopping
# cut them, which the verifications below check. Not on tmpfs, nor with under 256 MiB free,
# nor where the daemon said at start that this kernel's fdatasync would not cover them.
fs=$(stat -f -c %T "$T")
avail_kib=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ "$fs" != tmpfs ] && [ "$fs" != ramfs ] && [ "$avail_kib" -gt $((512 * 1024)) ] &&
    ! grep -q 'ext4 without a journal' "$T/daemon.err"; then
    for _ in $(seq 1 50); do
        seg=$(ls "$T"/log/segments/*.seg | tail -n 1)
        [ "$(stat -c %s "$seg")" -eq 1048576 ] && break
        sleep 0.1
    done
    check "the live segment is preallocated to the segment size" \
        test "$(stat -c %s "$seg")" -eq 1048576
fi

# Oversized and invalid UTF-8 lines are refused; the connection goes on.
{
    head -c 70000 /dev/zero | tr '\0' 'a'
    echo
    printf '{"type":"custom.test","data":{"s":"\xff\xfe"}}\n'
    echo '{"type":"custom.test","data":{"after":"bad lines"}}'
} >"$T/bad"
$CLIENT lines "$T/evidentd.sock" <"$T/bad" >"$T/out"
sed -n 1p "$T/out" | grep -qF 'line longer than 65536 bytes' && pass || fail "oversized line"
sed -n 2p "$T/out" | grep -qF '"error"' && pass || fail "invalid UTF-8 refused"
sed -n 3p "$T/out" | grep -Eq '^\{"index":[0-9]+\}$' && pass || fail "the next line still served"

# Many short lines in one write: a chunk takes at most 4096 of them, and the rest are
# answered too, whether the client shuts down its sending side or keeps it open.
python3 -c 'import sys; sys.stdout.write("{}\n" * 20000 + "{\"type\":\"custom.test\"}\n")' >"$T/many"
$CLIENT lines "$T/evidentd.sock" <"$T/many" >"$T/out"
check "20,001 short lines: 20,001 replies" test "$(wc -l <"$T/out")" = 20001
tail -n 1 "$T/out" | grep -Eq '^\{"index":[0-9]+\}$' && pass || fail "the last of many lines"
$CLIENT lines "$T/evidentd.sock" open <"$T/many" >"$T/out"
check "20,001 replies on a connection kept open" test "$(wc -l <"$T/out")" = 20001

# Three stream loops: loop 0 accepts and hands each connection to the loop with the
# fewest, which serves it from then on; each connection's replies stay in order.
check "three stream loops" test "$(grep -lx 'evd-stream/[0-9]*' /proc/"$daemon_pid"/task/*/comm | wc -l)" = 3
$CLIENT idle "$T/evidentd.sock" 7 3 >"$T/idle" &
idle_pid=$!
for _ in $(seq 50); do
    grep -q 'open 7' "$T/idle" 2>/dev/null && break
    sleep 0.1
done
sleep 0.2 # the handed connections reach their loops through an eventfd
curl -s "$BASE/metrics" | grep '^evident_stream_connections{loop="[012]"} ' >"$T/out"
# Which loop gets the odd one depends on the connections before: the counts, sorted.
check "7 connections spread over the 3 loops: 2, 2, 3" \
    test "$(awk '{print $2}' "$T/out" | sort -n | xargs)" = "2 2 3"
kill "$idle_pid" 2>/dev/null || true
wait "$idle_pid" 2>/dev/null || true
$CLIENT parallel "$T/evidentd.sock" 6 3000 >"$T/out"
check "6 parallel connections: 3,000 replies each, in order" grep -qx 'ok 6 3000' "$T/out"

# ---- syslog: logger over TCP, UDP and the Unix datagram socket ----------------
logger --rfc5424 --tcp --server 127.0.0.1 --port "$TCP_PORT" -t tcptag -p auth.warning \
    --sd-id 'exampleSDID@32473' --sd-param 'iut="3"' "logger over tcp password=hunter2"
logger --rfc3164 --udp --server 127.0.0.1 --port "$UDP_PORT" -t udptag -p local3.err \
    "logger over udp"
logger --socket "$T/log.sock" --socket-errors=on -t unixtag -p user.notice "logger over unix"
for _ in $(seq 1 50); do
    entries >"$T/all"
    if grep -q 'logger over unix' "$T/all" && grep -q 'logger over udp' "$T/all" &&
        grep -q 'logger over tcp' "$T/all"; then
        break
    fi
    sleep 0.1
done
grep 'logger over tcp' "$T/all" >"$T/e" || true
check "tcp: type syslog" grep -qF '"type":"syslog"' "$T/e"
check "tcp: facility" grep -qF '"facility":"auth"' "$T/e"
check "tcp: severity" grep -qF '"severity":"warning"' "$T/e"
check "tcp: app" grep -qF '"app_name":"tcptag"' "$T/e"
check "tcp: structured data" grep -qF '"exampleSDID@32473":{"iut":"3"}' "$T/e"
check "tcp: secret redacted" grep -qF '[REDACTED:' "$T/e"
check "tcp: secret gone" bash -c "! grep -qF hunter2 '$T/e'"
check "tcp: transport" grep -qF '"transport":"syslog_tcp"' "$T/e"
grep 'logger over udp' "$T/all" >"$T/e" || true
check "udp: rfc3164" grep -qF '"format":"rfc3164"' "$T/e"
check "udp: facility" grep -qF '"facility":"local3"' "$T/e"
check "udp: transport" grep -qF '"transport":"syslog_udp"' "$T/e"
grep 'logger over unix' "$T/all" >"$T/e" || true
check "unix datagram: sender uid" grep -qF "\"uid\":$(id -u)" "$T/e"
check "unix datagram: transport" grep -qF '"transport":"syslog_unix"' "$T/e"

# Malformed syslog over TCP: counted, the stream goes on.
printf 'no priority here\n<13>1 2026-11-27T10:00:00Z h app - - - after malformed\n' |
    $CLIENT raw 127.0.0.1 "$TCP_PORT"
for _ in $(seq 1 50); do
    entries | grep -q 'after malformed' && break
    sleep 0.1
done
check "tcp stream goes on after a malformed message" bash -c "entries() { '$EVIDENT' -d '$T/log' log --json; }; entries | grep -q 'after malformed'"

# ---- rsyslog forwarding to evidentd (omfwd, octet-counted RFC 5424) -----------
if command -v rsyslogd >/dev/null; then
    mkdir -p "$T/rsyslog"
    cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$RSYSLOG_PORT")
action(type="omfwd" target="127.0.0.1" port="$TCP_PORT" protocol="tcp"
       template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted")
EOF
    rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" 2>"$T/rsyslog.err" &
    rsyslog_pid=$!
    sleep 0.5
    for i in 1 2 3; do
        logger --udp --server 127.0.0.1 --port "$RSYSLOG_PORT" -t viarsyslog "through rsyslog $i"
    done
    for _ in $(seq 1 100); do
        [[ $(entries | grep -c 'through rsyslog') -ge 3 ]] && break
        sleep 0.1
    done
    check "rsyslog forwarded 3 messages" test "$(entries | grep -c 'through rsyslog')" -ge 3
    entries | grep 'through rsyslog 1' >"$T/e" || true
    check "rsyslog: app" grep -qF '"app_name":"viarsyslog"' "$T/e"
    kill -TERM "$rsyslog_pid" 2>/dev/null || true
    wait "$rsyslog_pid" 2>/dev/null || true
    rsyslog_pid=
else
    fail "rsyslogd is not installed (scripts/setup.sh installs it)"
fi

# ---- HTTP ----------------------------------------------------------------------
http() { # METHOD PATH TOKEN [BODY]: status in $T/status, body in $T/out
    local args=(-s -o "$T/out" -w '%{http_code}' -X "$1" "$BASE$2")
    [[ -n $3 ]] && args+=(-H "Authorization: Bearer $3")
    [[ $# -ge 4 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    curl "${args[@]}" >"$T/status" || true
}
http POST /v1/events "$WRITER_TOKEN" '{"type":"custom.http","data":{"n":1}}'
check "POST one: 200" test "$(cat "$T/status")" = 200
expect_out "POST one: index" '"index":'
http POST /v1/events "$WRITER_TOKEN" '[{"type":"custom.http","data":{"n":2}},{"type":"custom.http","data":{"n":3}}]'
check "POST array: 200" test "$(cat "$T/status")" = 200
expect_out "POST array: indexes" '"indexes":['
http POST /v1/events "" '{"type":"custom.http"}'
check "POST without token: 401" test "$(cat "$T/status")" = 401
http POST /v1/events "$READER_TOKEN" '{"type":"custom.http"}'
check "POST with a reader token: 403" test "$(cat "$T/status")" = 403
http POST /v1/events "$WRITER_TOKEN" '[{"type":"custom.http"},{"type":"code_execution","data":{"exit_code":"x"}}]'
check "POST bad event: 400" test "$(cat "$T/status")" = 400
expect_out "400 names the event and field" 'data.exit_code'
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/big"
curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer $WRITER_TOKEN" \
    -H 'Content-Type: application/json' --data-binary @"$T/big" "$BASE/v1/events" >"$T/status" || true
check "POST too large: 413" test "$(cat "$T/status")" = 413
http GET /v1/checkpoint ""
check "checkpoint: 200" test "$(cat "$T/status")" = 200
expect_out "checkpoint: origin" "test.example/daemon"
http GET "/v1/entries?from=0&to=3" "$READER_TOKEN"
check "entries: 200" test "$(cat "$T/status")" = 200
http GET "/v1/entries?from=0&to=3" ""
check "entries without token: 401" test "$(cat "$T/status")" = 401
curl -s "$BASE/metrics" >"$T/out"
expect_out "metrics: events by source" 'evident_events_total{source="unix"'
expect_out "metrics: syslog" 'source="syslog_tcp"'
expect_out "metrics: fdatasync histogram" 'evident_fdatasync_seconds_bucket'

# A stalled half request does not hold anyone else up.
$CLIENT half 127.0.0.1 "$HTTP_PORT" 5 >/dev/null &
half_pid=$!
sleep 0.3
http POST /v1/events "$WRITER_TOKEN" '{"type":"custom.http","data":{"while":"stalled"}}'
check "served while another request stalls" test "$(cat "$T/status")" = 200
kill "$half_pid" 2>/dev/null || true
wait "$half_pid" 2>/dev/null || true

# ---- alerts: two critical events within a minute --------------------------------------
http POST /v1/events "$WRITER_TOKEN" '[{"type":"custom.x","severity":"critical","data":{"n":1}},{"type":"custom.x","severity":"alert","data":{"n":2}}]'
for _ in $(seq 1 100); do
    [[ -s $T/webhook.bodies ]] && entries | grep -q '"category":"alert"' && break
    sleep 0.1
done
check "the webhook received the alert" grep -qF '"rule":"critical-events"' "$T/webhook.bodies"
entries | grep -F '"category":"alert"' >"$T/e" || true
check "the alert is an entry of the log" grep -qF '"critical-events"' "$T/e"
check "the alert entry is the daemon's own" grep -qF '"transport":"evidentd"' "$T/e"
check "one alert for the burst" test "$(wc -l <"$T/webhook.bodies")" = 1

# ---- the epoch timer seals without new events ------------------------------------
http POST /v1/events "$WRITER_TOKEN" '{"type":"custom.http","data":{"before":"quiet"}}'
sleep 4.5
entries | tail -n 1 >"$T/last"
check "an idle daemon sealed the epoch on its timer" grep -qF '"type":"seal"' "$T/last"
curl -s "$BASE/metrics" >"$T/out"
check "seconds since seal is reported" grep -Eq '^evident_seconds_since_seal [0-9.]+$' "$T/out"

# ---- evident append / event while the daemon holds the log ----------------------
run -c "$T/evidentd.yaml" append --type custom.cli --data '{"via":"daemon"}'
expect_rc "append through the daemon" 0
check "append prints the index" grep -Eqx '[0-9]+' "$T/out"
cli_index=$(cat "$T/out")
"$EVIDENT" -d "$T/log" entry "$cli_index" >"$T/entry" 2>&1 || true
check "the daemon wrote it" grep -qF '"via":"daemon"' "$T/entry"
printf '%s\n' '{"type":"custom.cli","data":{"n":1}}' '{"type":"custom.cli","data":' \
    '{"type":"custom.cli","data":{"n":3}}' >"$T/jsonl"
EVIDENT_SOCKET=$T/evidentd.sock run_in "$T/jsonl" append --jsonl
expect_rc "append --jsonl through the daemon: partial" 3
check "two indexes printed" test "$(grep -cEx '[0-9]+' "$T/out")" = 2
expect_err "the bad line is named" "line 2:"
EVIDENT_SOCKET=$T/evidentd.sock run event security_event --category authentication \
    --description 'login failed for alice' --severity warning
expect_rc "event through the daemon" 0
run -d "$T/log" append --type custom.direct
expect_rc "a direct append while the daemon holds the lock fails" 2
expect_err "the lock holder is named" "evidentd"

# ---- reload ----------------------------------------------------------------------
old_sha=$(sha256sum "$T/evidentd.yaml" | cut -d' ' -f1)
write_config warning
new_sha=$(sha256sum "$T/evidentd.yaml" | cut -d' ' -f1)
kill -HUP "$daemon_pid"
for _ in $(seq 1 50); do
    grep -q 'reloaded' "$T/daemon.err" && break
    sleep 0.1
done
check "reload logged" grep -q 'reloaded' "$T/daemon.err"
echo '{"type":"custom.test","severity":"info","data":{"after":"reload"}}' |
    $CLIENT lines "$T/evidentd.sock" >"$T/out"
expect_out_exactly "reloaded policy drops info" '{"dropped":true}'
entries | grep -q '"action":"config_change"' && pass || fail "config_change event recorded"
entries | grep -F '"action":"config_change"' >"$T/e" || true
check "config_change names the file as it was before" \
    grep -qF "\"config_old_sha256\":\"$old_sha\"" "$T/e"
check "config_change names the new file" grep -qF "\"config_new_sha256\":\"$new_sha\"" "$T/e"

# ---- SIGTERM: graceful ----------------------------------------------------------------
# A client that reads none of its replies does not hold the shutdown up.
$CLIENT noread "$T/evidentd.sock" 120 >"$T/noread" &
noread_pid=$!
for _ in $(seq 1 100); do
    grep -q sent "$T/noread" && break
    sleep 0.1
done
kill -TERM "$daemon_pid"
for _ in $(seq 1 600); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
check "SIGTERM while a client reads nothing" bash -c "! kill -0 $daemon_pid 2>/dev/null"
kill -9 "$daemon_pid" 2>/dev/null || true
set +e
wait "$daemon_pid"
rc=$?
set -e
daemon_pid=
kill "$noread_pid" 2>/dev/null || true
wait "$noread_pid" 2>/dev/null || true
expect_rc "SIGTERM exits 0" 0
check "socket removed" test ! -e "$T/evidentd.sock"
run -d "$T/log" verify --verification-key-file "$T/vkey"
expect_rc "verify after SIGTERM" 0
entries | tail -n 3 >"$T/tail"
check "shutdown event recorded" grep -qF '"action":"shutdown"' "$T/tail"
run -d "$T/log" verify --checkpoint-dir "$T/published"
expect_rc "verify against the checkpoints the daemon published" 0
check "the daemon published checkpoints" test "$(find "$T/published" -name '*.checkpoint' | wc -l)" -gt 1

# ---- kill -9: every acknowledged event survives ------------------------------------------
write_config
start_daemon
: >"$T/acks"
$CLIENT stream "$T/evidentd.sock" 100000 "$T/acks" 2>/dev/null &
client_pid=$!
sleep 1.5
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
wait "$client_pid" 2>/dev/null || true
acked=$(wc -l <"$T/acks")
check "some events were acknowledged before the kill ($acked)" test "$acked" -gt 10
start_daemon # recovers
entries >"$T/all"
missing=$(python3 - "$T/acks" "$T/all" <<'PY'
import json, sys
acks = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
by_seq = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("type") == "custom.crash":
        by_seq[e["seq"]] = e["data"]["n"]
print(sum(1 for index, n in acks if by_seq.get(index) != n))
PY
)
check "acknowledged events present after kill -9 (missing $missing)" test "$missing" = 0
stop_daemon
expect_rc "SIGTERM after recovery" 0
run -d "$T/log" verify --verification-key-file "$T/vkey"
expect_rc "verify after kill -9 and restart" 0

# ---- 10,000 idle connections ------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) == unlimited || $(ulimit -n) -ge 10200 ]]; then
    start_daemon
    $CLIENT idle "$T/evidentd.sock" 10000 6 >"$T/idle" &
    idle_pid=$!
    for _ in $(seq 1 100); do
        grep -q open "$T/idle" 2>/dev/null && break
        sleep 0.1
    done
    check "10,000 connections open" grep -qx 'open 10000' "$T/idle"
    echo '{"type":"custom.test","data":{"with":"10000 idle"}}' |
        $CLIENT lines "$T/evidentd.sock" >"$T/out"
    check "served beside 10,000 idle connections" grep -Eq '^\{"index":[0-9]+\}$' "$T/out"
    http POST /v1/events "$WRITER_TOKEN" '{"type":"custom.http","data":{"with":"idle"}}'
    check "HTTP served beside them" test "$(cat "$T/status")" = 200
    kill "$idle_pid" 2>/dev/null || true
    wait "$idle_pid" 2>/dev/null || true
    stop_daemon
    expect_rc "SIGTERM with many connections" 0
else
    echo "daemon: cannot raise the descriptor limit; 10,000 connections not tried" >&2
fi

# ---- Unix peers not allowed are refused (SO_PEERCRED) --------------------------------------
write_config
sed -i "s|^  unix_socket: .*|&\n  unix_allow_users: [\"4242\"]|" "$T/evidentd.yaml"
start_daemon
echo '{"type":"custom.test","data":{"from":"a stranger"}}' |
    $CLIENT lines "$T/evidentd.sock" >"$T/out" 2>/dev/null || true
expect_out "a peer outside unix_allow_users is refused" 'may not write to evidentd'
curl -s "$BASE/metrics" >"$T/out"
expect_out "the refusal is counted" 'evident_rejected_total{source="unix",reason="unauthorized"} 1'
stop_daemon
expect_rc "SIGTERM after refusing a peer" 0
entries | grep -qF 'a stranger' && fail "a refused peer's event was written" || pass

# ---- storage: closed segments compressed, checkpoints published --------------------------
# Enough records to close 1 MiB segments whatever the machine's speed (the streaming
# above depends on it), and time for the background compressor while the daemon runs.
write_config
start_daemon
python3 -c '
import json, sys
for i in range(6000):
    sys.stdout.write(json.dumps({"type": "custom.bulk", "data": {"i": i, "pad": "x" * 200}}) + "\n")
' >"$T/bulk"
$CLIENT lines "$T/evidentd.sock" <"$T/bulk" >"$T/out"
check "6,000 bulk events acknowledged" test "$(grep -c '"index"' "$T/out")" = 6000
for _ in $(seq 150); do
    ls "$T/log/segments" | grep -q '\.seg\.zst$' && break
    sleep 0.2
done
stop_daemon
expect_rc "SIGTERM after the bulk events" 0
ls "$T/log/segments" >"$T/segments"
check "closed 1 MiB segments were compressed in the background ($(grep -c zst "$T/segments") of $(wc -l <"$T/segments"))" \
    grep -q '\.seg\.zst$' "$T/segments"
run -d "$T/log" verify --verification-key-file "$T/vkey" --checkpoint-dir "$T/published"
expect_rc "verify over compressed segments, against every published checkpoint" 0

# ---- retention: the first pass at start prunes the oldest segments ---------------------
# max_bytes counts the segments that still hold entries, and the compressed ones above are
# small: first 2 MB of uncompressed segments, then a daemon with a 1 MiB limit.
write_config
sed -i 's/^  compression: zstd$/  compression: none/' "$T/evidentd.yaml"
start_daemon
$CLIENT lines "$T/evidentd.sock" <"$T/bulk" >"$T/out"
check "6,000 more bulk events acknowledged" test "$(grep -c '"index"' "$T/out")" = 6000
stop_daemon
expect_rc "SIGTERM before retention" 0
write_config
# Without compression here too: a background compressor racing the pass at start could
# shrink the segments under the limit first (1,040,005 bytes once, and nothing was pruned).
sed -i 's/^  compression: zstd$/  compression: none/' "$T/evidentd.yaml"
check "the retention daemon runs without compression" grep -q '^  compression: none$' "$T/evidentd.yaml"
printf 'retention:\n  max_bytes: 1MiB\n' >>"$T/evidentd.yaml"
start_daemon
for _ in $(seq 100); do
    ls "$T/log/segments" | grep -q '\.pruned$' && break
    sleep 0.1
done
check "retention pruned the oldest segment at start" ls "$T/log/segments/00000000000000000000.pruned"
# The pass goes on after its first segment: the counters and the line on stderr come at its end.
for _ in $(seq 100); do
    grep -q 'retention (at start): pruned' "$T/daemon.err" && break
    sleep 0.1
done
curl -s "$BASE/metrics" >"$T/out"
grep -Eq '^evident_retention_pruned_entries_total [1-9][0-9]*$' "$T/out" && pass ||
    fail "pruned entries counted in the metrics"
expect_out "no retention failure" 'evident_retention_failures_total 0'
grep -q 'retention (at start): pruned' "$T/daemon.err" && pass || fail "retention said on stderr"
http GET /v1/entries/1 "$READER_TOKEN"
check "a pruned entry is 410 Gone" test "$(cat "$T/status")" = 410
expect_out "which says why" 'was removed by retention'
http GET "/v1/proof/1" ""
check "and its proof is still served" test "$(cat "$T/status")" = 200
echo '{"type":"custom.test","data":{"after":"retention"}}' |
    $CLIENT lines "$T/evidentd.sock" >"$T/out"
expect_out "appends go on after pruning" '"index"'
stop_daemon
expect_rc "SIGTERM after retention" 0
run -d "$T/log" verify --verification-key-file "$T/vkey" --checkpoint-dir "$T/published"
expect_rc "verify after retention, against every published checkpoint" 0
expect_out "verify reports the pruned range" 'pruned: '

# ---- started as root: bind a privileged port, then become server.user ---------------
if [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1; then
    low_port=$(python3 -c '
import socket
for p in range(600, 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass')
    # A derived file gone: the writer rebuilds it when it opens the log (a new file, owned by
    # whoever the daemon is then).
    rm "$T/log/index"
    chown -R nobody "$T/log" "$T/published"
    chmod 0711 "$T"
    write_config
    sed -i "s|^  syslog_tcp: .*|  syslog_tcp: 127.0.0.1:$low_port\n  user: nobody|" "$T/evidentd.yaml"
    start_daemon
    check "dropped to nobody" grep -Eq "^Uid:\s+$(id -u nobody)\s+$(id -u nobody)\s+$(id -u nobody)" \
        "/proc/$daemon_pid/status"
    logger --tcp --server 127.0.0.1 --port "$low_port" -t lowport "on a privileged port"
    for _ in $(seq 1 50); do
        entries | grep -q 'on a privileged port' && break
        sleep 0.1
    done
    check "served on port $low_port after dropping root" bash -c \
        "'$EVIDENT' -d '$T/log' log --json | grep -q 'on a privileged port'"
    stop_daemon
    expect_rc "SIGTERM as nobody" 0
    # The log was opened after the drop: nothing in it is root's (a file root made, such as
    # the checkpoint replaced at start, would refuse a reopen for writing after a full disk).
    check "no file of the log is root's" test -z "$(find "$T/log" -user root -print -quit)"
    run -d "$T/log" verify --verification-key-file "$T/vkey"
    expect_rc "verify after running as nobody" 0
else
    echo "daemon: not root: the privilege drop is not tried" >&2
fi

if grep -qE 'Sanitizer|runtime error|double free' "$T/daemon.err"; then
    fail "the daemon's stderr has a sanitizer report"
    grep -E -A20 'Sanitizer|runtime error' "$T/daemon.err" | head -n 60 >&2
else
    pass
fi
echo "daemon: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
