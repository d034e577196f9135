#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of the evident command line tool, driven as a user and a
# script would drive it: every command's happy path and its error paths, with
# exact exit codes (0 ok, 1 verification failed, 2 could not check, 3 some
# --jsonl lines rejected) and fragments of what it prints.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-cli.sh
#
# Ends with "cli: N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd) # absolute: the script changes directory
VECTORS=$SRCDIR/tests/vectors

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-cli.XXXXXX")
FOLLOW_PID=
cleanup() {
    if [[ -n $FOLLOW_PID ]]; then kill "$FOLLOW_PID" 2>/dev/null || true; fi
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
unset EVIDENT_DIR
umask 022

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

size_of() { "$EVIDENT" -d "$1" info | sed -n 's/^size: //p'; }

# flip_byte FILE OFFSET: xor one byte of FILE with 1.
flip_byte() {
    local v
    v=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf '%03o' $((v ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ---- global --------------------------------------------------------------------------

run --help
expect_rc "--help" 0
for cmd in init append log show entry info checkpoint pubkey prove verify verify-proof export seal \
    event ingest config summary report; do
    expect_out "--help lists $cmd" "  $cmd "
done
expect_out "--help documents -d" "--dir DIR"
expect_out "--help documents EVIDENT_DIR" "EVIDENT_DIR"
run --version
expect_rc "--version" 0
expect_out "--version" "evident "
run frobnicate
expect_rc "unknown command" 2
expect_err "unknown command" "evident: unknown command 'frobnicate'"
run
expect_rc "no command" 2
run --bogus
expect_rc "unknown global option" 2
for cmd in init append log show entry info checkpoint pubkey prove verify verify-proof export seal \
    event ingest config summary report; do
    run "$cmd" --help
    expect_rc "$cmd --help" 0
    expect_out "$cmd --help usage" "usage: evident"
    expect_out "$cmd --help exit codes" "Exit codes:"
done
run help verify
expect_rc "help verify" 0
expect_out "help verify" "--verification-key-file"
run -d nolog info
expect_rc "info without a log" 2
expect_err "info without a log" "evident: cannot open 'nolog'"

# ---- init ----------------------------------------------------------------------------

run -d L init
expect_rc "init without --origin" 2
expect_err "init without --origin" "--origin is required"
run -d L init --origin example.com/cli --seal-interval 0s
expect_rc "init --seal-interval 0s" 2
run -d L init --origin example.com/cli --seal-interval 5x
expect_rc "init --seal-interval 5x" 2
expect_err "init --seal-interval 5x" "invalid seal interval '5x'"
run -d L init --origin "bad origin"
expect_rc "init with a space in the origin" 2
check "no log after a refused init" test ! -e L/evident.meta

run -d L init --origin example.com/cli --seal-interval 1h --verification-key-file vkey
expect_rc "init" 0
expect_out "init prints the verification key" "verification-key: "
expect_out "init prints the public key" "public-key: example.com/cli+"
expect_err "init warns to keep the key off the host" "keep it off this host"
expect_no_out "no QR code when stdout is not a terminal" "█"
VHEX=$(sed -n 's/^verification-key: //p' "$T/out")
PUBKEY=$(sed -n 's/^public-key: //p' "$T/out")
check "verification key is 64 hex digits" grep -qxE '[0-9a-f]{64}' <<<"$VHEX"
check "key file holds the key" test "$(cat vkey)" = "$VHEX"
check "key file has mode 0600" test "$(stat -c %a vkey)" = 600
check "key file ends in a newline" test "$(tail -c 1 vkey | od -An -c | tr -d ' ')" = '\n'
check "key not stored in the log" bash -c "! grep -rqF '$VHEX' L"

run -d L init --origin example.com/cli
expect_rc "init twice" 2
expect_err "init twice" "already holds one"
run -d L2 init --origin example.com/other --verification-key-file vkey
expect_rc "init with an existing key file" 2
expect_err "init with an existing key file" "cannot create verification key file 'vkey'"
check "no log made when the key file exists" test ! -e L2/evident.meta
run -d L2 init --origin example.com/other --seal-interval 90s
expect_rc "init a second log" 0
OTHER_PUBKEY=$(sed -n 's/^public-key: //p' "$T/out")
run -d L2 info
expect_out "seal interval 90s" "seal-interval: 1m30s"

run -d L pubkey
expect_rc "pubkey" 0
check "pubkey is the key init printed" test "$(cat "$T/out")" = "$PUBKEY"

# A fresh log verifies, and its open epoch is reported.
run -d L verify
expect_rc "verify a fresh log" 0
expect_out "verify a fresh log" "verified: log 'L'"
expect_out "verify reports the open epoch" "open-epoch: "

# ---- append --------------------------------------------------------------------------

export EVIDENT_DIR=L
run append --type custom.user.login --data '{"user":"alice","ok":true}'
expect_rc "append" 0
check "append prints index 0" test "$(cat "$T/out")" = 0
run append --type custom.user.login --severity warn --source '{"svc":"sshd","host":"h1"}' \
    --data '{"user":"bob","ok":false}'
expect_rc "append with severity and source" 0
check "append prints index 1" test "$(cat "$T/out")" = 1
run append --type custom.disk.full --severity critical --data '{"corrupt":"corruptme"}' --sync never
expect_rc "append --sync never" 0
check "append prints index 2" test "$(cat "$T/out")" = 2

run append --type custom.x --data '{"a":'
expect_rc "append with malformed --data" 2
expect_err "append with malformed --data" "evident: invalid custom.x event: malformed event (data: invalid JSON"
run append --type custom.x --data '[1,2]'
expect_rc "append with non-object --data" 2
run append --type custom.x --source 'nope'
expect_rc "append with malformed --source" 2
run append --type Bad-Type
expect_rc "append with a bad type" 2
run append --type seal
expect_rc "append of the reserved type seal" 2
run append --type custom.x --severity loud
expect_rc "append with a bad severity" 2
expect_err "append with a bad severity" "invalid severity 'loud'"
run append --type custom.x --sync sometimes
expect_rc "append with a bad sync mode" 2
run append
expect_rc "append without --type" 2
run append --type custom.x --frobnicate
expect_rc "append with an unknown option" 2
expect_err "append with an unknown option" "unknown option '--frobnicate'"
check "nothing written by the failed appends" test "$(size_of L)" = 3

# -d after the command wins over EVIDENT_DIR.
run append -d L2 --type custom.other.event
expect_rc "append -d after the command" 0
check "-d after the command picks the log" test "$(size_of L2)" = 1

# ---- append --jsonl ------------------------------------------------------------------

cat >lines.jsonl <<'EOF'
{"type":"custom.job.start","data":{"id":1}}
this is not json
{"type": "custom.job.step", "severity": "notice", "source": {"svc": "cron"}, "data": {"b": 2, "a": 1}}
{"type":"custom.job.step","extra":true}
{"type":"seal"}

{"type":"custom.job.end","severity":"nonsense"}
{"data":{"id":2}}
{"type":"custom.job.end","data":{"id":3}}
EOF
run_in lines.jsonl append --jsonl
expect_rc "jsonl with bad lines" 3
check "jsonl prints the good lines' indexes" test "$(tr '\n' ' ' <"$T/out")" = "3 4 5 "
expect_err "jsonl reports line 2" "evident: line 2: invalid JSON"
expect_err "jsonl reports line 4" "evident: line 4: extra: unknown key (expected type, severity, source, data)"
expect_err "jsonl reports line 5" "evident: line 5: type: expected 1-64 of [a-z0-9_.:-] starting with a letter, not \"seal\""
expect_err "jsonl reports line 7" "evident: line 7: severity: expected a name"
expect_err "jsonl reports line 8" "evident: line 8: type: required"
check "jsonl skips the blank line" bash -c "! grep -q 'line 6' '$T/err'"
check "jsonl wrote only the good lines" test "$(size_of L)" = 6

printf '{"type":"custom.tail.event","data":{"last":true}}' >nonl.jsonl
run_in nonl.jsonl append --jsonl --sync never
expect_rc "jsonl last line without a newline" 0
check "jsonl last line without a newline" test "$(cat "$T/out")" = 6

{
    echo '{"type":"custom.before.long"}'
    printf '{"type":"custom.long","data":{"x":"'
    head -c 1100000 /dev/zero | tr '\0' 'a'
    echo '"}}'
    echo '{"type":"custom.after.long"}'
} >long.jsonl
run_in long.jsonl append --jsonl
expect_rc "jsonl with a line over 1 MiB" 3
expect_err "jsonl reports the long line" "evident: line 2: longer than 1048576 bytes"
check "jsonl goes on after the long line" test "$(tr '\n' ' ' <"$T/out")" = "7 8 "

# An event longer than an entry: preparing decides. A long stdout is kept as a digest and a
# prefix; custom data that long cannot be, and only that line is refused.
{
    printf '{"type":"code_execution","data":{"language":"sh","stdout":"'
    head -c 200000 /dev/zero | tr '\0' 'o'
    echo '"}}'
    printf '{"type":"custom.big","data":{"k":"'
    head -c 200000 /dev/zero | tr '\0' 'x'
    echo '"}}'
    echo '{"type":"custom.after.big"}'
} >big.jsonl
run -d Lbig init --origin example.com/big
run_in big.jsonl append -d Lbig --jsonl
expect_rc "jsonl with events longer than an entry" 3
expect_err_exactly "jsonl refuses only the custom one, by preparing it" \
    "evident: line 2: too big (data: 200008 bytes, over the entry limit of 65535)"
check "jsonl took the long stdout and the line after" test "$(tr '\n' ' ' <"$T/out")" = "0 1 "
run -d Lbig show 0
expect_out "the long stdout kept as its size and a prefix" '"bytes":200000'

printf '{"type":"custom.nul.byte","data":{"k":1\000}}\n{"type":"custom.after.nul"}\n' >nul.jsonl
run_in nul.jsonl append -d L2 --jsonl
expect_rc "jsonl with a NUL byte" 3
expect_err "jsonl with a NUL byte" "evident: line 1: contains a NUL byte"

# The fast path writes what the library would: compare with single appends.
canon_data=(
    '{"z":{"b":[3,{"y":1,"x":2}],"a":null},"a":[true,false],"m":-5}'
    '{ "b" : 1 , "a" : "x y" }'
    '{"r":1.50,"e":2e3,"n":-0,"i":123456789012345678}'
    '{"s":"tab\there \"q\" \u00e9 \/","k\u0061":1}'
    '{"name":"Zoë","emoji":"☃"}'
    '{"b":{},"a":[],"c":[[]],"d":""}'
    '{}'
)
rm -rf C1 C2
"$EVIDENT" -d C1 init --origin example.com/c1 >/dev/null 2>&1
"$EVIDENT" -d C2 init --origin example.com/c2 >/dev/null 2>&1
: >canon.jsonl
for i in "${!canon_data[@]}"; do
    printf '{"type":"custom.c.case%d","source":{"z":1,"a":[2]},"data":%s}\n' "$i" "${canon_data[$i]}" \
        >>canon.jsonl
    "$EVIDENT" -d C2 append --type "custom.c.case$i" --source '{"z":1,"a":[2]}' \
        --data "${canon_data[$i]}" >/dev/null
done
run_in canon.jsonl append -d C1 --jsonl
expect_rc "jsonl canonical forms" 0
strip_prefix() { "$EVIDENT" -d "$1" log --json | sed -E 's/^\{"v":1,"seq":[0-9]+,"ts":"[^"]*",//'; }
check "jsonl entries equal single appends" cmp -s <(strip_prefix C1) <(strip_prefix C2)
printf '%s\n' '{"type":"custom.dup","data":{"a":1,"a":2}}' '{"type":"custom.ok"}' \
    '{"type":"custom.big","data":{"b":123456789012345678901}}' >dup.jsonl
run_in dup.jsonl append -d C1 --jsonl
expect_rc "jsonl with a repeated key and a huge integer" 3
expect_err "jsonl with a repeated key" "evident: line 1: "
expect_err "jsonl with a huge integer" "evident: line 3: "
check "jsonl keeps the good line among them" test "$(cat "$T/out")" = 7

# ---- log, entry, show ----------------------------------------------------------------

run log
expect_rc "log" 0
check "log prints every entry" test "$(wc -l <"$T/out")" = 9
expect_out "log line format" "1 "
check "log human line" grep -qE '^1 [0-9T:.-]+Z warning custom.user.login \{"host":"h1","svc":"sshd"\} \{"ok":false,"user":"bob"\}$' "$T/out"
run log --json
expect_rc "log --json" 0
cp "$T/out" all.jsonl
check "log --json line 0" grep -q '^{"v":1,"seq":0,"ts":"' all.jsonl
"$EVIDENT" entry 3 >entry3
check "entry N equals line N of log --json" cmp -s entry3 <(sed -n 4p all.jsonl | head -c -1)
check "entry N ends without a newline" test "$(tail -c 1 entry3)" = "}"
run log --type custom.user.login
check "log --type" test "$(wc -l <"$T/out")" = 2
run log --severity warning
check "log --severity warning and worse" test "$(wc -l <"$T/out")" = 2
expect_out "log --severity includes critical" "critical custom.disk.full"
run log --source sshd
check "log --source" test "$(wc -l <"$T/out")" = 1
run log --from 2 --to 4 --json
check "log --from --to" test "$(cut -c1-20 "$T/out" | tr '\n' ' ')" = '{"v":1,"seq":2,"ts": {"v":1,"seq":3,"ts": '
run log --since 2200-01-01T00:00:00Z
expect_rc "log --since the future" 0
check "log --since the future is empty" test ! -s "$T/out"
run log --until 2000-01-01T00:00:00Z
check "log --until the past is empty" test ! -s "$T/out"
run log --since yesterday
expect_rc "log --since with a bad time" 2
run log --from x
expect_rc "log --from x" 2

run show 1
expect_rc "show" 0
expect_out "show index" "index: 1"
expect_out "show epoch" "epoch: 0"
expect_out "show entry" 'entry: {"v":1,"seq":1,'
check "show hash" grep -qE '^hash: [0-9a-f]{64}$' "$T/out"
check "show tag" grep -qE '^tag: [0-9a-f]{64}$' "$T/out"
CHAIN1=$(sed -n 's/^chain-hash: //p' "$T/out")
run show 0
expect_out "show 0 previous hash is zero" "previous-hash: $(printf '0%.0s' {1..64})"
run show 2
expect_out "show previous hash is the chain before" "previous-hash: $CHAIN1"
run show 999
expect_rc "show out of range" 2
expect_err "show out of range" "evident: cannot show entry 999 of 'L'"
run show
expect_rc "show without an index" 2
run entry 999
expect_rc "entry out of range" 2

# ---- info, checkpoint, seal ----------------------------------------------------------

run info
expect_rc "info" 0
expect_out "info origin" "origin: example.com/cli"
expect_out "info public key" "public-key: $PUBKEY"
expect_out "info size" "size: 9"
expect_out "info open epoch" "open-epoch: 9 entries since"
expect_out "info disk bytes" "disk-bytes: "
run info --json
expect_rc "info --json" 0
expect_out "info --json" '"size":9'
expect_out "info --json" '"origin":"example.com/cli"'

run checkpoint
expect_rc "checkpoint" 0
expect_out "checkpoint origin line" "example.com/cli"
expect_out "checkpoint signature line" "— example.com/cli "
run checkpoint --new
expect_rc "checkpoint --new" 0
check "checkpoint --new covers every entry" test "$(sed -n 2p "$T/out")" = 9
cp "$T/out" cp9.note

run seal
expect_rc "seal" 0
expect_out "seal" "sealed epoch 0 at entry 9"
run append --type custom.after.seal
check "append after the seal" test "$(cat "$T/out")" = 10
run info
expect_out "info epoch after a seal" "epoch: 1 (open)"
run verify --verification-key-file vkey
expect_rc "verify after a seal" 0
expect_out "verify counts the seal" "seals: 1 epochs sealed"
expect_out "verify checks tags" "tags: checked"
expect_out "verify reports the open epoch after a seal" "open-epoch: epoch 1, 1 entries"

# ---- prove, verify-proof -------------------------------------------------------------

run checkpoint --new
check "checkpoint of 11" test "$(sed -n 2p "$T/out")" = 11
run prove 3 --out p3.proof
expect_rc "prove" 0
check "prove writes a tlog-proof" test "$(head -n 1 p3.proof)" = "c2sp.org/tlog-proof@v1"
check "prove names the index" test "$(sed -n 2p p3.proof)" = "index 3"
run verify-proof --pubkey "$PUBKEY" p3.proof entry3
expect_rc "verify-proof" 0
expect_out "verify-proof" "verified: entry in 'example.com/cli' at tree size 11"
run verify-proof --pubkey "$OTHER_PUBKEY" p3.proof entry3
expect_rc "verify-proof with another key" 1
expect_out "verify-proof with another key" "FAILED"
"$EVIDENT" entry 4 >entry4
run verify-proof --pubkey "$PUBKEY" p3.proof entry4
expect_rc "verify-proof with another entry" 1
cp entry3 entry3.bad
flip_byte entry3.bad 40
run verify-proof --pubkey "$PUBKEY" p3.proof entry3.bad
expect_rc "verify-proof with a changed entry" 1
run verify-proof --pubkey "$PUBKEY" p3.proof
expect_rc "verify-proof without the entry file" 2
run verify-proof p3.proof entry3
expect_rc "verify-proof without --pubkey" 2
run verify-proof --pubkey not-a-key p3.proof entry3
expect_rc "verify-proof with a malformed key" 2
run verify-proof --pubkey "$PUBKEY" missing.proof entry3
expect_rc "verify-proof with a missing file" 2
expect_err "verify-proof with a missing file" "evident: cannot read 'missing.proof'"
run prove 3
expect_rc "prove to stdout" 0
check "prove to stdout equals --out" cmp -s "$T/out" p3.proof
# --out to something that is not a regular file (a FIFO here; /dev/null as root was
# replaced by a regular file before the fix): written into, left what it was.
mkfifo proof.fifo
timeout 10 cat proof.fifo >fifo.got &
fifo_reader=$!
run prove 3 --out proof.fifo
expect_rc "prove --out a FIFO" 0
wait "$fifo_reader"
check "the FIFO got the proof" cmp -s fifo.got p3.proof
check "and is still a FIFO" test -p proof.fifo
run prove 3 --size 9
expect_rc "prove against an older checkpoint" 0
cp "$T/out" p3-9.proof
check "prove --size 9 carries that checkpoint" grep -qx 9 p3-9.proof
run verify-proof --pubkey "$PUBKEY" p3-9.proof entry3
expect_rc "verify-proof against the older checkpoint" 0
run prove 3 --size 5
expect_rc "prove against a size never signed" 2
expect_err "prove against a size never signed" "no signed checkpoint of size 5"
run prove 11
expect_rc "prove beyond the checkpoint" 2
expect_err "prove beyond the checkpoint" "entry 11 is not in the checkpoint of size 11"
run prove --consistency 4
expect_rc "prove --consistency" 0
check "consistency proof lines are base64 hashes" grep -qxE '[A-Za-z0-9+/]{43}=' "$T/out"
run prove --consistency 4 --size 9
expect_rc "prove --consistency --size" 0
run prove --consistency 0
expect_rc "prove --consistency 0" 2
run prove --consistency 12
expect_rc "prove --consistency beyond" 2

# The committed vectors (tests/vectors/README.md): their proof hashes and signed
# checkpoints put together into tlog-proof files, checked with the vectors' log key.
VKEY_VEC=example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ
vectors_checked=0
for proof in "$VECTORS"/cli/incl-*-*.proof; do
    [[ -e $proof ]] || continue
    name=$(basename "$proof" .proof)
    IFS=- read -r _ index size _ <<<"$name"
    leaf=$VECTORS/cli/leaf-$index.bin
    note=$VECTORS/checkpoints/checkpoint-$size.note
    [[ -e $leaf && -e $note ]] || continue
    { printf 'c2sp.org/tlog-proof@v1\nindex %s\n' "$index"; cat "$proof"; echo; cat "$note"; } \
        >"vec-$name.proof"
    run verify-proof --pubkey "$VKEY_VEC" "vec-$name.proof" "$leaf"
    if [[ $name == *bitflip* ]]; then
        expect_rc "verify-proof vector $name" 1
    else
        expect_rc "verify-proof vector $name" 0
    fi
    run verify-proof --pubkey "$PUBKEY" "vec-$name.proof" "$leaf"
    expect_rc "verify-proof vector $name with another key" 1
    vectors_checked=$((vectors_checked + 1))
done
check "tlog-proof vectors found" test "$vectors_checked" -ge 10

# ---- verify --------------------------------------------------------------------------

run verify --checkpoint cp9.note --pubkey "$PUBKEY"
expect_rc "verify with a trusted checkpoint" 0
expect_out "verify with a trusted checkpoint" "trusted-checkpoints: 1 checked"
expect_out "verify with a pinned key" "key: pinned"
run verify --json
expect_rc "verify --json" 0
expect_out "verify --json" '"verified":true'
run verify --quiet
expect_rc "verify --quiet" 0
check "verify --quiet prints nothing" test ! -s "$T/out"
run verify --pubkey "$OTHER_PUBKEY"
expect_rc "verify with another log's key" 1
expect_out "verify with another log's key" "FAILED: log 'L'"
run verify --pubkey not-a-key
expect_rc "verify with a malformed key" 2
run -d nolog verify
expect_rc "verify without a log" 2

printf '%064d\n' 0 >wrongkey
chmod 600 wrongkey
run verify --verification-key-file wrongkey
expect_rc "verify with the wrong verification key" 1
expect_out "verify with the wrong verification key" "failure: "
cp vkey vkey644
chmod 644 vkey644
run verify --verification-key-file vkey644
expect_rc "verification key file of mode 0644" 2
expect_err "verification key file of mode 0644" "refusing verification key file 'vkey644'"
printf 'not hex\n' >badkey
chmod 600 badkey
run verify --verification-key-file badkey
expect_rc "malformed verification key file" 2
run verify --verification-key-file nokey
expect_rc "missing verification key file" 2
set +e
"$EVIDENT" verify --verification-key-file - <vkey >"$T/out" 2>"$T/err"
rc=$?
set -e
expect_rc "verification key from stdin" 0

# ---- export, verify --bundle ---------------------------------------------------------

run export --out b.json
expect_rc "export" 0
expect_err "export says what it wrote" "exported 11 entries"
check "export writes a bundle" grep -q '^{"format":"evident-bundle/v1",' b.json
run verify --bundle b.json
expect_rc "verify --bundle" 0
expect_out "verify --bundle" "verified: bundle 'b.json'"
expect_out "verify --bundle says the key is not pinned" "NOT pinned"
expect_out "verify --bundle recomputes the root" "root: recomputed"
run verify --bundle b.json --pubkey "$PUBKEY" --verification-key-file vkey
expect_rc "verify --bundle pinned, with tags" 0
expect_out "verify --bundle pinned" "(pinned)"
expect_out "verify --bundle tags" "tags: checked"
run verify --bundle b.json --pubkey "$OTHER_PUBKEY"
expect_rc "verify --bundle with another key" 1
run verify --bundle b.json --verification-key-file wrongkey
expect_rc "verify --bundle with the wrong verification key" 1
expect_out "verify --bundle with the wrong verification key" "failure: tag"

# One changed byte anywhere fails: a byte inside an entry, then a sample of all offsets.
off=$(grep -abo '"entry":"' b.json | sed -n 4p | cut -d: -f1)
cp b.json bad.json
flip_byte bad.json $((off + 30))
run verify --bundle bad.json
expect_rc "bundle with a changed entry byte" 1
expect_out "bundle with a changed entry byte" "entry: 3"
len=$(stat -c %s b.json)
bad_passes=0
for ((o = 0; o < len; o += 61)); do
    cp b.json bad.json
    flip_byte bad.json "$o"
    if "$EVIDENT" verify --quiet --bundle bad.json --pubkey "$PUBKEY" \
        --verification-key-file vkey >/dev/null 2>&1; then
        bad_passes=$((bad_passes + 1))
    else
        [[ $? == 1 ]] || bad_passes=$((bad_passes + 1))
    fi
done
rc=$bad_passes
expect_rc "every sampled changed byte fails with exit 1" 0
head -c $((len - 100)) b.json >short.json
run verify --bundle short.json
expect_rc "truncated bundle" 1
run verify --bundle missing.json
expect_rc "missing bundle" 2

run export --from 2 --to 5 --out part.json
expect_rc "export a range" 0
run verify --bundle part.json --pubkey "$PUBKEY" --verification-key-file vkey
expect_rc "verify a range bundle with tags" 0
expect_out "range bundle" "range: 2..4 (3 entries)"
run export --from 5 --to 5 --out empty.json
expect_rc "export an empty range" 0
run verify --bundle empty.json
expect_rc "verify an empty range bundle" 0
run append --type custom.beyond.checkpoint
run export --to 13 --out beyond.json
expect_rc "export beyond the checkpoint" 2
expect_err "export beyond the checkpoint" "checkpoint --new"
run export
expect_rc "export without --out" 2

# ---- damage ----------------------------------------------------------------------------

run verify
expect_rc "verify before damage" 0
seg=$(ls L/segments/*.seg | head -n 1)
off=$(grep -abo corruptme "$seg" | head -n 1 | cut -d: -f1)
flip_byte "$seg" "$off"
run verify
expect_rc "verify a log with a changed byte" 1
expect_out "verify a log with a changed byte" "FAILED: log 'L'"
expect_out "verify names the entry" "entry: 2"
run verify --quiet
expect_rc "verify --quiet on failure" 1
expect_err "verify --quiet on failure" "FAILED verification: entry 2"
run verify --json
expect_rc "verify --json on failure" 1
expect_out "verify --json on failure" '"verified":false'

# ---- log --follow ----------------------------------------------------------------------

unset EVIDENT_DIR
"$EVIDENT" -d L2 log --follow --json >follow.out 2>follow.err &
FOLLOW_PID=$!
"$EVIDENT" -d L2 append --type custom.followed.event >/dev/null
for _ in $(seq 1 50); do
    grep -q followed.event follow.out && break
    sleep 0.1
done
check "log --follow prints new entries" grep -q '"type":"custom.followed.event"' follow.out
kill -INT "$FOLLOW_PID"
set +e
wait "$FOLLOW_PID"
rc=$?
set -e
FOLLOW_PID=
expect_rc "log --follow exits 0 on SIGINT" 0

# ---- the default directory -------------------------------------------------------------

mkdir here
(
    cd here
    "$EVIDENT" init --origin example.com/default >/dev/null 2>&1
    "$EVIDENT" append --type custom.default.dir >/dev/null
)
check "default directory ./evident-log" test -e here/evident-log/evident.meta
EVIDENT_DIR=$T/L2 run info
expect_out "EVIDENT_DIR picks the log" "origin: example.com/other"

# ---- one writer at a time ---------------------------------------------------------------

"$EVIDENT" -d "$T/LOCK" init --origin example.com/lock >/dev/null 2>&1
mkfifo "$T/hold"
"$EVIDENT" -d "$T/LOCK" append --jsonl <"$T/hold" >/dev/null 2>&1 &
holder=$!
exec 9>"$T/hold" # the writer holds the lock while its stdin stays open
for _ in $(seq 50); do grep -q "$holder" "$T/LOCK/lock" 2>/dev/null && break; sleep 0.1; done
EVIDENT_LOCK_TIMEOUT=1 run -d "$T/LOCK" append --type custom.lock.test
expect_rc "a second writer gives up after EVIDENT_LOCK_TIMEOUT" 2
expect_err "the lock error names the holder's pid" "held by pid $holder"
EVIDENT_LOCK_TIMEOUT=soon run -d "$T/LOCK" append --type custom.lock.test
expect_rc "a malformed EVIDENT_LOCK_TIMEOUT is refused" 2
exec 9>&-
wait "$holder"
EVIDENT_LOCK_TIMEOUT=0 run -d "$T/LOCK" append --type custom.lock.test
expect_rc "the lock is free again once the writer is gone" 0

echo "cli: $passed passed, $failed failed"
[[ $failed == 0 ]]
