#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of 'evident prune' and of a pruned log in the other commands
# (docs/LIFECYCLE.md, FORMAT.md §3.2):
#   - --dry-run says exactly what would go and changes nothing;
#   - prune by --max-bytes and by the configuration's retention.max_age (with a
#     log whose clock is made old), never the last segment;
#   - verify (text and --json) reports the pruned range; show of a pruned entry
#     fails with its own message; log passes over it; the retention entry says
#     what went;
#   - a backup of a pruned log restores and verifies elsewhere;
#   - a pruned segment that no retention entry accounts for fails verify (1);
#   - usage errors are exit 2.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-retention.sh
#
# Ends with "retention: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-retention.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset EVIDENT_DIR EVIDENT_CONFIG
umask 022

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

printf 'storage:\n  segment_size: 1MiB\nretention:\n  max_age: 0\n' >small.yaml
python3 -c '
import json
for i in range(9000):
    print(json.dumps({"type": "custom.bulk", "data": {"i": i, "pad": "r" * 300}}))
' >bulk.jsonl

"$EVIDENT" -c small.yaml -d log init --origin test.example/retention >init.out 2>&1
grep '^verification-key:' init.out | awk '{print $2}' >vkey
chmod 600 vkey
run_in bulk.jsonl -c small.yaml -d log append --jsonl --sync never
expect_rc "9,000 entries appended" 0
segments=$(ls log/segments | wc -l)
check "the entries fill several 1 MiB segments ($segments)" test "$segments" -ge 3
cp -a log pristine

# ---- nothing expired, then a dry run ---------------------------------------------------
run -c small.yaml -d log prune
expect_rc "with max_age 0 and no max_bytes nothing expires" 0
expect_out "and it says so" "nothing to prune ("
run -c small.yaml -d log prune --dry-run --max-bytes 1
expect_rc "dry run" 0
expect_out "the first segment would go" "would prune 00000000000000000000.seg: entries 0.."
expect_out "with its reason" "(max_bytes)"
expect_out "and a total" "would prune $((segments - 1)) segments, "
check "a dry run changes no segment" diff -r pristine/segments log/segments
check "nor the checkpoint history" cmp pristine/checkpoints log/checkpoints

# ---- prune by size ----------------------------------------------------------------------
run -c small.yaml -d log prune --max-bytes 1
expect_rc "prune --max-bytes" 0
expect_out "pruned, with the retention entry" "; retention entry 9000"
check "every closed segment became its pruned form" \
    test "$(ls log/segments | grep -c '\.pruned$')" = $((segments - 1))
# The retention entry and its seal are appended like any entry: they may start a segment.
whole=$(ls log/segments | grep -c '\.seg$')
check "the last segment stays whole ($whole whole)" test "$whole" -ge 1 -a "$whole" -le 2
last=$(sed -n 's/^pruned [0-9]*\.seg: entries [0-9]*\.\.\([0-9]*\),.*/\1/p' "$T/out" | tail -n 1)
run -d log verify --verification-key-file vkey
expect_rc "a pruned log verifies with V" 0
expect_out "verify reports the pruned range" "pruned: $((last + 1)) entries in $((segments - 1)) segments between 0 and $last"
expect_out "accounted for" "accounted for by 1 retention entries"
run -d log verify --json
expect_rc "verify --json" 0
expect_out "the pruned range in JSON" "\"pruned\":{\"entries\":$((last + 1)),\"segments\":$((segments - 1)),\"first\":0,\"last\":$last,\"retention_entries\":1}"
run -d log show 5
expect_rc "show of a pruned entry" 2
expect_err "says it was removed by retention" "entry removed by retention ('00000000000000000000.pruned' keeps entry 5's leaf hash"
run -d log show 9000
expect_out "the retention entry is an entry like the others" '"type":"retention","severity":"notice"'
expect_out "it names the first segment" '"file":"00000000000000000000.seg","first":0,'
run -d log log --type custom.bulk
check "log passes over pruned entries" test "$(wc -l <"$T/out")" = $((9000 - last - 1))
run -d log prove 5
expect_rc "a pruned entry still has an inclusion proof" 0
run -c small.yaml -d log prune --max-bytes 1
expect_out "a second prune finds nothing" "nothing to prune ("

# ---- a backup of the pruned log, restored elsewhere --------------------------------------
run -d log backup --to backups
expect_rc "backup of a pruned log" 0
run restore --from backups --to restored
expect_rc "restore" 0
run -d restored verify --verification-key-file vkey
expect_rc "the restored pruned log verifies" 0
expect_out "with the same pruned range" "pruned: $((last + 1)) entries"

# ---- by age, from the configuration ------------------------------------------------------
rm -rf log
cp -a pristine log
printf 'storage:\n  segment_size: 1MiB\nretention:\n  max_age: 1h\n' >age.yaml
run -c age.yaml -d log prune --dry-run
expect_out "nothing is an hour old" "nothing to prune ("
run -c age.yaml -d log prune --max-age 0 --max-bytes 0
expect_out "--max-age 0 turns the age limit off" "nothing to prune ("

# ---- tampering: a pruned form that no retention entry accounts for ------------------------
rm -rf log
cp -a pristine log
run -c small.yaml -d log prune --max-bytes 1
cp -a log forged
# The second pruned form put back under a name no retention entry has: the range moves.
first1=$(ls forged/segments | sed -n 2p | cut -c1-20)
python3 - "forged/segments/${first1}.pruned" <<'PY'
import sys
# Drop the file's last pruned run: the range it stands for no longer matches.
p = sys.argv[1]
d = open(p, "rb").read()
open(p, "wb").write(d[:32])
PY
run -d forged verify
expect_rc "a pruned form emptied fails" 1
cp -a pristine unaccounted
seg1=$(ls unaccounted/segments | sed -n 1p)
python3 - "unaccounted/segments/$seg1" "log/segments/00000000000000000000.pruned" <<'PY'
import os, shutil, sys
# The attacker's pruning: the right pruned form of segment 0, without its retention entry.
seg, pruned = sys.argv[1], sys.argv[2]
shutil.copy(pruned, os.path.join(os.path.dirname(seg), "00000000000000000000.pruned"))
os.unlink(seg)
PY
run -d unaccounted verify --verification-key-file vkey
expect_rc "pruning that no retention entry accounts for fails" 1
expect_out "reported as such" "failure: unaccounted pruning"
expect_out "naming the range" "were pruned (00000000000000000000.pruned) but no retention entry accounts for it"

# ---- usage ---------------------------------------------------------------------------------
run -d log prune --max-bytes lots
expect_rc "a bad size is a usage error" 2
expect_err "naming it" "--max-bytes 'lots'"
run -d log prune --max-age forever
expect_rc "a bad duration is a usage error" 2
run -d nowhere prune
expect_rc "no log" 2

echo "retention: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
