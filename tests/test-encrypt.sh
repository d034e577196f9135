#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of encryption at rest (docs/FORMAT.md §5.1, docs/LIFECYCLE.md):
#   - 'evident datakey new' makes a 0600 key file; 'datakey list' shows ids only;
#   - with -c CONFIG enabling privacy.encryption, append, event and JSON Lines
#     appends store encrypted entries: no data or source value in any segment;
#   - 'evident log' without the key lists visible fields and "[encrypted: ...]"
#     (exit 0, a note on stderr); with --data-key or -c it shows the events;
#   - 'show N' without the key fails with the exact message; with it, decrypted;
#   - 'verify' with only the pinned public key, and with V, passes: no data key;
#   - rotation ('datakey new' again): old and new entries both read; a key file
#     without the old key names the missing key; a 0644 key file is refused;
#   - summary and report need the key and say so;
#   - with EVIDENTD set: evidentd encrypts what it appends and its read API
#     gives each encrypted entry's decrypted form.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-encrypt.sh
#
# Ends with "encrypt: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
if [[ -n ${EVIDENTD:-} ]]; then
    EVIDENTD=$(cd "$(dirname "$EVIDENTD")" && pwd)/$(basename "$EVIDENTD")
fi
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-encrypt.XXXXXX")
daemon_pid=
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
unset EVIDENT_DIR EVIDENT_CONFIG
umask 022

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

SECRET=s3kr1t-customer-4711
no_secret_in_segments() {
    ! grep -rqF -- "$SECRET" L/segments && ! grep -rqF -- "worker-host-9" L/segments
}

# ---- keys ----------------------------------------------------------------------------
run datakey new --file keys
expect_rc "datakey new" 0
K1=$(cut -d' ' -f1 "$T/out")
check "datakey new prints a 16-hex-digit id" grep -qE '^[0-9a-f]{16} aes-256-gcm$' "$T/out"
check "key file is mode 0600 under umask 022" test "$(stat -c %a keys)" = 600
check "key file line" grep -qE "^evident-data-key-v1 $K1 aes-256-gcm [A-Za-z0-9+/]{43}=$" keys
run datakey list --file keys
expect_out_exactly "datakey list" "$K1 aes-256-gcm current"
run datakey new
expect_rc "datakey new without a file" 2
expect_err "datakey new without a file: says so" "no key file"

cat >enc.yaml <<EOF
privacy:
  encryption:
    enabled: true
    key_file: $T/keys
EOF
printf 'privacy:\n  encryption:\n    enabled: false\n    key_file: %s/keys\n' "$T" >read.yaml

# ---- an encrypted log ------------------------------------------------------------------
run -d L init --origin encrypt.test/log
expect_rc "init" 0
PUB=$(sed -n 's/^public-key: //p' "$T/out")
sed -n 's/^verification-key: //p' "$T/out" >V
chmod 600 V
run -c enc.yaml -d L append --type custom.billing --severity warning \
    --source '{"host":"worker-host-9","program":"billing"}' --data "{\"customer\":\"$SECRET\"}"
expect_rc "append encrypted" 0
printf '{"type":"custom.billing","data":{"customer":"%s","n":%d}}\n' "$SECRET" 1 "$SECRET" 2 >two.jsonl
run_in two.jsonl -c enc.yaml -d L append --jsonl
expect_rc "append --jsonl encrypted" 0
run -c enc.yaml -d L seal
expect_rc "seal" 0
check "no data or source value in the segments" no_secret_in_segments
check "the segments hold enc envelopes" grep -qF "\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"$K1\"" L/segments/00000000000000000000.seg

# ---- reading without and with the key ------------------------------------------------------
run -d L log
expect_rc "log without key" 0
expect_out "log without key: visible fields" "0 "
expect_out "log without key: marked" "warning custom.billing [encrypted: data key $K1]"
expect_no_out "log without key: no plaintext" "$SECRET"
expect_err "log without key: note" "3 encrypted entries not shown: their data key was not given (privacy.encryption.key_file or --data-key FILE)"
run -d L log --type seal
expect_rc "log --type seal without key" 0
expect_out "seals are plain" '"epoch":0'
run -d L log --data-key keys
expect_rc "log --data-key" 0
expect_out "log --data-key: decrypted" "worker-host-9:billing {\"customer\":\"$SECRET\"}"
run -c read.yaml -d L log --json
expect_rc "log -c (key_file, encryption disabled) --json" 0
expect_out "log --json: the decrypted entry" "\"severity\":\"warning\",\"source\":{\"host\":\"worker-host-9\",\"program\":\"billing\"},\"data\":{\"customer\":\"$SECRET\"}}"
run -d L log --source worker
expect_rc "log --source without key" 2
expect_err "log --source without key: names the key" "entry 0 is encrypted with data key $K1; reading it needs that key"
run -d L log --source worker --data-key keys
expect_rc "log --source with key" 0
check "log --source with key: one entry" test "$(wc -l <"$T/out")" = 1

run -d L show 0
expect_rc "show without key" 2
expect_err_exactly "show without key: the message" "evident: cannot show entry 0 of 'L': entry 0 is encrypted with data key $K1; reading it needs that key (privacy.encryption.key_file or --data-key FILE)"
run -d L show --data-key keys 0
expect_rc "show with key" 0
expect_out "show: decrypted entry" "\"data\":{\"customer\":\"$SECRET\"}"
expect_out "show: key line" "encrypted: $K1 aes-256-gcm"
expect_out "show: stored bytes" "stored: {\"v\":1,\"seq\":0,"
run -d L entry 0
check "entry N: the stored bytes, encrypted" grep -qF '"enc":{' "$T/out"

# ---- verification needs no data key --------------------------------------------------------
run -d L verify --pubkey "$PUB"
expect_rc "verify with the public key only" 0
run -d L verify --pubkey "$PUB" --verification-key-file V
expect_rc "verify with V" 0
expect_out "verify with V: tags checked" "tags: "

# ---- summary and report need the key ------------------------------------------------------
run -d L summary
expect_rc "summary without key" 2
expect_err "summary without key: says so" "reading it needs that key (privacy.encryption.key_file or --data-key FILE)"
run -d L summary --json --data-key keys
expect_rc "summary with key" 0
expect_out "summary with key: counts events" '"events":3'
run -d L report --format json --out r.json
expect_rc "report without key" 2
run -c read.yaml -d L report --format json --out r.json
expect_rc "report with key_file" 0

# ---- rotation ------------------------------------------------------------------------
run datakey new --file keys --alg chacha20-poly1305
expect_rc "datakey new: rotation" 0
K2=$(cut -d' ' -f1 "$T/out")
run datakey list --file keys
expect_out_exactly "datakey list after rotation" "$K1 aes-256-gcm
$K2 chacha20-poly1305 current"
check "datakey list never prints key bytes" test "$(grep -c '=' "$T/out")" = 0
run -c enc.yaml -d L event security_event --category authentication --description 'failed login' \
    --outcome failure --actor.user "$SECRET"
expect_rc "event under key 2" 0
check "no secret in the segments after rotation" no_secret_in_segments
check "the new entry uses key 2" grep -qF "\"enc\":{\"alg\":\"chacha20-poly1305\",\"key\":\"$K2\"" L/segments/00000000000000000000.seg
run -d L log --data-key keys
expect_rc "log after rotation" 0
check "log after rotation: no entry left encrypted" test "$(grep -c encrypted "$T/out" || true)" = 0
expect_out "log after rotation: the new event" "security_event"
sed -n 2p keys >key2-only
chmod 600 key2-only
run -d L log --data-key key2-only
expect_rc "log with only key 2" 0
expect_out "log with only key 2: old entries marked" "[encrypted: data key $K1]"
run -d L show --data-key key2-only 1
expect_rc "show an old entry with only key 2" 2
expect_err "show: names the key and the file" "entry 1 is encrypted with data key $K1, which is not in 'key2-only'"
run -d L verify --pubkey "$PUB" --verification-key-file V
expect_rc "verify after rotation" 0

# ---- a key file others can read -------------------------------------------------------
entries() { "$EVIDENT" -d L log --type no.such.type >/dev/null; "$EVIDENT" -d L verify | sed -n 's/^entries: //p'; }
before=$(entries)
chmod 644 keys
run -d L log --data-key keys
expect_rc "0644 key file refused" 2
expect_err "0644 key file: says why" "data key file 'keys' has mode 0644: group or others have access; it must be 0600"
run -c enc.yaml -d L append --type custom.x --data '{"a":1}'
expect_rc "append with a 0644 key file refused" 2
run -c enc.yaml -d L info
expect_rc "info never loads the key file" 0
run -c enc.yaml -d L entry 0
expect_rc "entry N never loads the key file" 0
run -c enc.yaml -d L verify --pubkey "$PUB"
expect_rc "verify never loads the key file" 0
chmod 600 keys
check "nothing appended with a refused key file" test "$(entries)" = "$before"

# ---- a wrong key file ------------------------------------------------------------------
run datakey new --file other
run -d L show --data-key other 0
expect_rc "show with another key file" 2
expect_err "show with another key file: not in it" "entry 0 is encrypted with data key $K1, which is not in 'other'"

# ---- evidentd (when EVIDENTD names it) --------------------------------------------------
if [[ -n ${EVIDENTD:-} ]] && command -v curl >/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    reader=reader-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    {
        printf 'log:\n  dir: %s/L\n' "$T"
        printf 'privacy:\n  encryption:\n    enabled: true\n    key_file: %s/keys\n' "$T"
        printf 'server:\n  unix_socket: %s/d.sock\n  http_listen: ["127.0.0.1:%s"]\n' "$T" "$port"
        printf '  reader_tokens: ["sha256:%s"]\n' "$(printf '%s' "$reader" | sha256sum | cut -d' ' -f1)"
    } >d.yaml
    "$EVIDENTD" --config d.yaml 2>d.err &
    daemon_pid=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    EVIDENT_SOCKET=$T/d.sock run append --type custom.daemon --data "{\"customer\":\"$SECRET\"}"
    expect_rc "append through evidentd" 0
    [[ $rc == 0 ]] || sed "s/^/  evidentd: /" d.err >&2
    n=$(cat "$T/out")
    curl -s -H "Authorization: Bearer $reader" "http://127.0.0.1:$port/v1/entries/$n" >"$T/out"
    expect_out "read API: stored entry encrypted under the current key" "\"enc\":{\"alg\":\"chacha20-poly1305\",\"key\":\"$K2\""
    expect_out "read API: decrypted" "\"decrypted\":{\"v\":1,\"seq\":$n,"
    expect_out "read API: decrypted data" "\"data\":{\"customer\":\"$SECRET\"}}"
    curl -s -H "Authorization: Bearer $reader" "http://127.0.0.1:$port/v1/entries?from=0&to=1" >"$T/out"
    expect_out "read API list: entry 0 decrypted with key 1" "\"decrypted\":{\"v\":1,\"seq\":0,"

    # A rotation while the daemon runs: SIGHUP reads the key file again, no restart.
    run datakey new --file keys
    K3=$(cut -d' ' -f1 "$T/out")
    kill -HUP "$daemon_pid"
    for _ in $(seq 1 50); do
        grep -q "current $K3" d.err && break
        sleep 0.1
    done
    check "SIGHUP: the rotated key file is in force" grep -q "data keys from $T/keys: 3, current $K3; new entries are encrypted under it" d.err
    EVIDENT_SOCKET=$T/d.sock run append --type custom.daemon --data "{\"customer\":\"$SECRET\"}"
    expect_rc "append after the rotation" 0
    n=$(cat "$T/out")
    curl -s -H "Authorization: Bearer $reader" "http://127.0.0.1:$port/v1/entries/$n" >"$T/out"
    expect_out "after SIGHUP: encrypted under the new key" "\"enc\":{\"alg\":\"aes-256-gcm\",\"key\":\"$K3\""
    expect_out "after SIGHUP: decrypted by the read API" "\"data\":{\"customer\":\"$SECRET\"}}"
    # A key file that no longer loads at the same path (here mode 0644; as root with
    # server.user, one only root can read) keeps the keys in force; the rest applies.
    chmod 644 keys
    kill -HUP "$daemon_pid"
    for _ in $(seq 1 50); do
        grep -q "the keys loaded before stay in force" d.err && break
        sleep 0.1
    done
    check "SIGHUP with a key file of mode 0644: the keys in force stay" \
        grep -q "reload: data keys: .*mode.*; the keys loaded before stay in force" d.err
    check "SIGHUP with a key file of mode 0644: the reload is not refused" \
        bash -c "! grep -q 'reload refused' d.err"
    chmod 600 keys
    EVIDENT_SOCKET=$T/d.sock run append --type custom.daemon --data "{\"customer\":\"$SECRET\"}"
    n=$(cat "$T/out")
    curl -s -H "Authorization: Bearer $reader" "http://127.0.0.1:$port/v1/entries/$n" >"$T/out"
    expect_out "after it: still under the new key" "\"key\":\"$K3\""

    # The kept /v1/summary goes with the keys: once they are gone it answers as a
    # fresh build does (a data key is needed), never from what it decrypted before.
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $reader" \
        "http://127.0.0.1:$port/v1/summary" >"$T/out"
    expect_out_exactly "summary with the keys" 200
    grep -v -e '^privacy:' -e '^  encryption:' -e '^    enabled:' -e '^    key_file:' d.yaml >d2.yaml
    mv d2.yaml d.yaml
    kill -HUP "$daemon_pid"
    for _ in $(seq 1 50); do
        grep -q "reload: no data keys" d.err && break
        sleep 0.1
    done
    check "SIGHUP without privacy.encryption: no data keys" grep -q "reload: no data keys" d.err
    curl -s -w ' %{http_code}' -H "Authorization: Bearer $reader" \
        "http://127.0.0.1:$port/v1/summary?since=2000-01-01T00:00:00Z" >"$T/fresh"
    curl -s -w ' %{http_code}' -H "Authorization: Bearer $reader" \
        "http://127.0.0.1:$port/v1/summary" >"$T/out"
    check "summary after the keys went: as a fresh build ($(cat "$T/out" | tail -c 4))" \
        test "$(tail -c 4 "$T/out")" = "$(tail -c 4 "$T/fresh")"
    check "summary after the keys went: nothing decrypted before" \
        bash -c "! grep -q '$SECRET' '$T/out'"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
    daemon_pid=
    check "no secret in the segments after the daemon" no_secret_in_segments
    run -d L verify --pubkey "$PUB" --verification-key-file V
    expect_rc "verify after the daemon" 0
fi

echo "encrypt: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
