#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of 'evident backup', 'restore', 'publish' and 'verify
# --checkpoint-dir' (docs/LIFECYCLE.md):
#   - backups taken while another evident process appends in a loop each
#     verify on their own (public key and verification key);
#   - a repeated backup with nothing new copies nothing; after new appends it
#     copies only about the new bytes (measured from --json) and hard-links the
#     closed segments;
#   - --keep bounds the generations; no secret is ever in a backup;
#   - a generation moved elsewhere restores and verifies with only the public
#     key and V;
#   - checkpoints published to a directory (integrity.publish) catch a
#     truncated and a forked log with 'verify --checkpoint-dir' (exit 1).
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-backup.sh
#
# Ends with "backup: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-backup.XXXXXX")
writer_pid=
cleanup() {
    if [[ -n $writer_pid ]]; then
        touch "$T/stop-writer"
        pkill -P "$writer_pid" 2>/dev/null || true
        kill "$writer_pid" 2>/dev/null || true
        wait "$writer_pid" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
unset EVIDENT_DIR EVIDENT_CONFIG
umask 022

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

json_field() { # json_field NAME: a number from the one-line JSON in $T/out
    sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" "$T/out"
}

# ---- a log, a writer appending in a loop ------------------------------------------------
run -d L init --origin backup.test/log
expect_rc "init" 0
PUB=$(sed -n 's/^public-key: //p' "$T/out")
sed -n 's/^verification-key: //p' "$T/out" >V
chmod 600 V
check "public key shown" test -n "$PUB"

# Small segments so that there are closed ones to share; a checkpoint every few lines.
printf 'storage:\n  segment_size: 1MiB\nintegrity:\n  checkpoint_interval: 1s\n' >small.yaml
line='{"type":"custom.load","data":{"pad":"0123456789012345678901234567890123456789012345678901234567890123456789"}}'
for _ in $(seq 1 20000); do echo "$line"; done >batch.jsonl
run_in batch.jsonl -c small.yaml -d L append --jsonl --sync never
expect_rc "first batch" 0

# The writer stops at a file, after its current batch: killing the loop's shell would leave
# its `evident append` running on, appending behind the backups that follow.
rm -f stop-writer
(
    while [ ! -e stop-writer ]; do
        "$EVIDENT" -c small.yaml -d L append --jsonl --sync never <batch.jsonl >/dev/null 2>&1 || exit 0
        "$EVIDENT" -d L checkpoint --new >/dev/null 2>&1 || true
    done
) &
writer_pid=$!

for i in 1 2 3; do
    run -d L backup --to B --json
    expect_rc "backup $i while writing" 0
    gen=$(sed -n 's/.*"generation":"\([^"]*\)".*/\1/p' "$T/out")
    run -d "B/$gen" verify --pubkey "$PUB" --verification-key-file V
    expect_rc "generation $i verifies (pubkey and V)" 0
    expect_out "generation $i: verified" "verified: log 'B/$gen'"
    sleep 0.3
done
touch stop-writer
wait "$writer_pid" 2>/dev/null || true
writer_pid=
run -d L checkpoint --new
expect_rc "writer stopped, last checkpoint" 0

# ---- incremental: nothing new copies nothing; new data copies about itself ----------------
run -d L backup --to B --json
expect_rc "backup after the writer" 0
run -d L backup --to B --json
expect_rc "backup again" 0
expect_out "nothing new: unchanged" '"unchanged":true'
check "nothing new: 0 bytes copied" test "$(json_field bytes_copied)" = 0

for _ in $(seq 1 500); do echo "$line"; done >small.jsonl
run_in small.jsonl -d L append --jsonl --sync never
run -d L checkpoint --new
run -d L backup --to B --json
expect_rc "incremental backup" 0
copied=$(json_field bytes_copied)
linked=$(json_field bytes_linked)
cloned=$(json_field bytes_cloned)
# 500 records of ~200 bytes: ~100 kB new, against several MB already backed up.
check "incremental copies about the new bytes ($copied)" test "$copied" -lt 400000
check "incremental reuses the rest ($linked linked, $cloned cloned)" \
    test "$((linked + cloned))" -gt 2000000
check "closed segments are hard links" test "$(json_field segments_linked)" -gt 0
echo "incremental: copied $copied bytes, linked $linked, cloned $cloned" >&2

# ---- keep bounds the generations; no secrets ------------------------------------------------
run -d L append --type custom.more
run -d L checkpoint --new
run -d L backup --to B --keep 2
expect_rc "backup with --keep 2" 0
check "two generations left" test "$(find B -mindepth 1 -maxdepth 1 -name '2*' | wc -l)" = 2
check "no signing key in a backup" test -z "$(find B -name signing.key)"
check "no key state in a backup" test -z "$(find B -name keystate)"
check "no temporary left" test -z "$(find B -maxdepth 1 -name '.tmp-*')"

# ---- restore elsewhere with only the public key and V ---------------------------------------
mkdir -p elsewhere
cp -a B elsewhere/B
rm -rf B
run restore --from elsewhere/B --to R
expect_rc "restore the latest generation" 0
expect_out "restore says what" "restored: 'R'"
run -d R verify --pubkey "$PUB" --verification-key-file V
expect_rc "restored log verifies with the public key and V" 0
run -d R log --type custom.more
expect_rc "restored log is readable" 0
expect_out "restored log has the last event" "custom.more"
run restore --from elsewhere/B --to R
expect_rc "restore into a non-empty directory" 2
run -d R append --type custom.x
expect_rc "a restored log cannot be appended to" 2
oldest=$(find elsewhere/B -mindepth 1 -maxdepth 1 -name '2*' | sort | head -n 1)
run restore --from "$oldest" --to R2
expect_rc "restore a named generation" 0
run -d R2 verify --pubkey "$PUB"
expect_rc "named generation verifies" 0

# ---- publishing and verify --checkpoint-dir -------------------------------------------------
printf 'integrity:\n  publish:\n    - relative/dir\n' >bad.yaml
run -c bad.yaml -d L info
expect_rc "a relative publish destination is refused" 2
expect_err "the error names the option" "integrity.publish"
cp -a L L0 # the same log, kept aside by an intruder (below)
printf 'integrity:\n  publish:\n    - %s/pub\n' "$T" >pub.yaml
run -c pub.yaml -d L append --type custom.published
expect_rc "append publishes" 0
check "a checkpoint file was published" test -n "$(find pub -name '*.checkpoint')"
run -c pub.yaml -d L seal
expect_rc "seal publishes" 0
run -d L publish --to "$T/pub"
expect_rc "publish --to" 0
expect_out "publish: already there" "1 already had it"
count=$(find pub -name '*.checkpoint' | wc -l)
check "one file per tree size ($count)" test "$count" -ge 2
run -d L verify --checkpoint-dir pub --pubkey "$PUB"
expect_rc "log agrees with the published checkpoints" 0
expect_out "verify counts them" "published-checkpoints: $count found"
run -d L verify --checkpoint-dir empty-dir-that-is-not-there
expect_rc "missing checkpoint dir: could not check" 2
mkdir -p nothing
run -d L verify --checkpoint-dir nothing
expect_rc "no published checkpoint: could not check" 2

# Truncation: the log rolled back to an older backup (records and checkpoint files).
run restore --from "$oldest" --to TRUNC
run -d TRUNC verify --pubkey "$PUB"
expect_rc "rolled-back log verifies on its own" 0
run -d TRUNC verify --pubkey "$PUB" --checkpoint-dir pub
expect_rc "rolled-back log fails against published checkpoints" 1
expect_out "reported as truncated" "failure: truncated"

# Fork: root on the host holds the signing key and the key state, so it can keep a
# copy of the log from before the published checkpoints and write other events
# into it: same origin, same key, another history.
# L0 takes one other event where L took custom.published: its checkpoint has the
# size of one L published, over another tree.
run -d L0 append --type custom.other --data '{"forked":true}'
expect_rc "the copy takes another event" 0
run -d L0 verify --pubkey "$PUB" --verification-key-file V
expect_rc "the forked copy verifies on its own" 0
run -d L0 verify --pubkey "$PUB" --checkpoint-dir pub
expect_rc "the forked copy fails against published checkpoints" 1
expect_out "reported as forked" "failure: forked"
fork_size=$("$EVIDENT" -d L0 checkpoint | sed -n 2p)
run -d L0 publish --to "$T/pub"
expect_rc "publishing the fork's checkpoint over a published size is caught" 1
expect_err "the publisher says forked" "forked"
check "both notes of size $fork_size are kept" \
    test "$(find pub -name "*0$fork_size*.checkpoint" | wc -l)" = 2
run -d FORK init --origin backup.test/log
run -d FORK verify --checkpoint-dir pub
expect_rc "another log of the same origin (another key) fails" 1
expect_out "reported as a bad signature" "failure: bad signature"

echo "backup: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
