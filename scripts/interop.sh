#!/usr/bin/env bash
# Interoperability: checkpoints, tlog-proof files and consistency proofs written
# by evident must verify with an implementation that is not ours: tlogref, built
# on Go's own golang.org/x/mod/sumdb/tlog and sumdb/note (../shared/tools/tlogref).
#
#   scripts/interop.sh EVIDENT_BINARY [TLOGREF_SOURCE_DIR]
#
# Prints "interop: N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
evident=$(realpath "$1")
src=${2:-$(dirname "$0")/../../shared/tools/tlogref}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # description, command...
    local what=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "interop: FAILED: $what" >&2
        sed 's/^/    /' "$work/out" >&2
    fi
}
expect_fail() { # the reference must reject what is wrong
    local what=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        failed=$((failed + 1))
        echo "interop: FAILED (accepted): $what" >&2
    else
        passed=$((passed + 1))
    fi
}

[ -d "$src" ] || { echo "interop: no tlogref sources at $src" >&2; exit 2; }
bash "$src/build.sh" "$work/tlogref" >/dev/null
ref=$work/tlogref

log=$work/log
"$evident" -d "$log" init --origin interop.example/log >/dev/null 2>&1
vkey=$("$evident" -d "$log" pubkey)
for i in $(seq 1 37); do
    printf '{"type":"code_execution","data":{"language":"sh","command":"echo %d","exit_code":%d}}\n' "$i" "$i"
done | "$evident" -d "$log" append --jsonl --sync never >/dev/null
"$evident" -d "$log" checkpoint --new >"$work/old.cp"
old_size=$(sed -n 2p "$work/old.cp")
for i in $(seq 1 100); do
    printf '{"type":"custom.interop","severity":"warning","data":{"i":%d}}\n' "$i"
done | "$evident" -d "$log" append --jsonl >/dev/null
"$evident" -d "$log" checkpoint --new >"$work/new.cp"
size=$(sed -n 2p "$work/new.cp")

check "checkpoint signature" "$ref" verify --vkey "$vkey" --checkpoint "$work/new.cp"
check "old checkpoint signature" "$ref" verify --vkey "$vkey" --checkpoint "$work/old.cp"

# The whole tree: every entry's exact bytes, one file each, give the signed root.
mkdir "$work/leaves"
for ((i = 0; i < size; i++)); do "$evident" -d "$log" entry "$i" >"$work/leaves/$i"; done
check "root of all $size entries" "$ref" verify --vkey "$vkey" --checkpoint "$work/new.cp" \
    --leaves "$work/leaves"

# Inclusion: the hashes of evident's tlog-proof file, one base64 hash per line.
for i in 0 1 "$old_size" $((size / 2)) $((size - 1)); do
    "$evident" -d "$log" prove "$i" >"$work/p$i.tlog-proof"
    awk 'NR>2 && /^$/ {exit} NR>2 && !/^index / && !/^extra / {print}' \
        "$work/p$i.tlog-proof" >"$work/p$i.hashes"
    # The checkpoint inside the proof file is the one the proof is for.
    awk 'f {print} /^$/ && !f {f=1}' "$work/p$i.tlog-proof" >"$work/p$i.cp"
    check "inclusion proof of entry $i" "$ref" verify --vkey "$vkey" --checkpoint "$work/p$i.cp" \
        --inclusion "$work/leaves/$i,$i,$work/p$i.hashes"
done
# One changed character in the first proof hash (A<->B keeps it valid base64).
awk 'NR == 1 { c = substr($0, 1, 1); $0 = (c == "A" ? "B" : "A") substr($0, 2) } { print }' \
    "$work/p1.hashes" >"$work/bad.hashes"
cmp -s "$work/p1.hashes" "$work/bad.hashes" && { echo "interop: proof not altered" >&2; exit 2; }
expect_fail "a changed proof hash is rejected" "$ref" verify --vkey "$vkey" \
    --checkpoint "$work/p1.cp" --inclusion "$work/leaves/1,1,$work/bad.hashes"

# Consistency between the two checkpoints.
"$evident" -d "$log" prove --consistency "$old_size" --size "$size" >"$work/cons.proof"
check "consistency $old_size -> $size" "$ref" verify --vkey "$vkey" --checkpoint "$work/new.cp" \
    --consistency "$work/old.cp,$work/cons.proof"

# Retention (FORMAT.md §3.2): after the oldest segments lose their entry bytes, proofs
# of pruned and kept entries and the consistency of the trees before and after still
# verify with the reference, given the entries saved before the pruning.
plog=$work/pruned
printf 'storage:\n  segment_size: 1MiB\n' >"$work/small.yaml"
"$evident" -c "$work/small.yaml" -d "$plog" init --origin interop.example/pruned >/dev/null 2>&1
pvkey=$("$evident" -d "$plog" pubkey)
python3 -c '
import json
for i in range(5000):
    print(json.dumps({"type": "custom.interop", "data": {"i": i, "pad": "p" * 300}}))
' | "$evident" -c "$work/small.yaml" -d "$plog" append --jsonl --sync never >/dev/null
"$evident" -d "$plog" checkpoint --new >"$work/before.cp"
before=$(sed -n 2p "$work/before.cp")
mkdir "$work/pleaves"
for i in 0 1 2000 $((before - 1)); do "$evident" -d "$plog" entry "$i" >"$work/pleaves/$i"; done
"$evident" -c "$work/small.yaml" -d "$plog" prune --max-bytes 1 >"$work/prune.out"
check "the oldest segments were pruned" grep -q '^pruned 00000000000000000000.seg:' "$work/prune.out"
check "a pruned entry cannot be read" sh -c "! '$evident' -d '$plog' entry 1"
"$evident" -d "$plog" checkpoint --new >"$work/after.cp" 2>/dev/null ||
    "$evident" -d "$plog" checkpoint >"$work/after.cp"
after=$(sed -n 2p "$work/after.cp")
check "checkpoint after pruning" "$ref" verify --vkey "$pvkey" --checkpoint "$work/after.cp"
for i in 1 2000 $((before - 1)); do
    "$evident" -d "$plog" prove "$i" >"$work/pp$i.tlog-proof"
    awk 'NR>2 && /^$/ {exit} NR>2 && !/^index / && !/^extra / {print}' \
        "$work/pp$i.tlog-proof" >"$work/pp$i.hashes"
    awk 'f {print} /^$/ && !f {f=1}' "$work/pp$i.tlog-proof" >"$work/pp$i.cp"
    check "inclusion proof of entry $i after pruning" "$ref" verify --vkey "$pvkey" \
        --checkpoint "$work/pp$i.cp" --inclusion "$work/pleaves/$i,$i,$work/pp$i.hashes"
done
"$evident" -d "$plog" prove --consistency "$before" --size "$after" >"$work/pcons.proof"
check "consistency $before -> $after across the pruning" "$ref" verify --vkey "$pvkey" \
    --checkpoint "$work/after.cp" --consistency "$work/before.cp,$work/pcons.proof"

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
