#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Crash test: a writer ('evident append --jsonl') is killed with SIGKILL at a
# random moment, round after round. After each kill, a new append recovers the
# log (docs/FORMAT.md §10), and then:
#   - every index the writer printed (acknowledged as durable) exists, holds its
#     own seq, and holds the event of the line that it acknowledged;
#   - 'evident verify --verification-key-file' exits 0.
# Segments are 1 MiB, so that writers rotate while they are killed. Odd rounds
# append with --sync never: there the library's flusher thread writes and a
# rotation hands the closing segment's sync to it (docs/DESIGN.md, writer step
# 4); a printed index is not a durability promise, so only the indexes below
# the one the recovering append gets must hold their lines (those above were
# lost with the writer's memory, as never allows).
#
# Environment: EVIDENT (the CLI, required), CRASH_ROUNDS (default 30),
# CRASH_SECONDS (no new round starts after this many seconds, default 90),
# CRASH_SEED (for $RANDOM, default the pid; printed on failure).
# Last line: "crash: N passed, M failed". Exit 0 only if M is 0; 77 (skip) if
# the CLI cannot create a log yet.
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the path of the evident binary}"
rounds=${CRASH_ROUNDS:-30}
deadline=${CRASH_SECONDS:-90}
seed=${CRASH_SEED:-$$}
RANDOM=$seed

work=$(mktemp -d "${TMPDIR:-/tmp}/evident-crash.XXXXXX")
dir=$work/log
keyfile=$work/verification-key
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

ev() {
    "$EVIDENT" -d "$dir" -c "$work/crash.yaml" "$@"
}
mkdir -p "$work"
printf 'storage:\n  segment_size: 1MiB\n' >"$work/crash.yaml"

if ! ev init --origin crash.test/log --verification-key-file "$keyfile" \
    >"$work/init.out" 2>"$work/init.err"; then
    if [[ ! -s $work/init.err ]]; then
        echo "crash: skipped: '$EVIDENT' cannot create a log yet"
        exit 77
    fi
    echo "crash: init failed:" >&2
    cat "$work/init.err" >&2
    exit 1
fi

passed=0
failed=0
start=$SECONDS

# Reports a failed round on stderr (with what is needed to replay it).
fail_round() {
    echo "crash: round $1 failed (CRASH_SEED=$seed): $2" >&2
    if [[ -s $work/err.$1 ]]; then
        sed 's/^/  writer: /' "$work/err.$1" >&2
    fi
    failed=$((failed + 1))
}

# Checks entry $2 of round $1: its seq, and the line ($3) whose event it holds.
check_entry() {
    local round=$1 index=$2 line=$3 bytes
    if ! bytes=$(ev entry "$index" 2>"$work/entry.err"); then
        echo "acknowledged entry $index is missing: $(cat "$work/entry.err")"
        return 1
    fi
    if [[ $bytes != "{\"v\":1,\"seq\":$index,"* ]]; then
        echo "entry $index does not hold seq $index: ${bytes:0:80}"
        return 1
    fi
    if [[ $bytes != *"\"data\":{\"line\":$line,\"round\":$round}}" ]]; then
        echo "entry $index does not hold line $line of round $round: ${bytes:0:200}"
        return 1
    fi
    return 0
}

run_round() {
    local round=$1 fifo=$work/fifo.$1 ack=$work/ack.$1 gen wpid delay sync=always
    if ((round % 2 == 1)); then
        sync=never
    fi
    mkfifo "$fifo"
    # Events faster than the writer takes them: it is never idle when killed.
    awk -v r="$round" 'BEGIN {
        for (i = 0; i < 100000; i++)
            printf "{\"type\":\"custom.test\",\"data\":{\"round\":%d,\"line\":%d}}\n", r, i
    }' >"$fifo" 2>/dev/null &
    gen=$!
    pids+=("$gen")
    # Created here: a kill before the child's own redirection would leave no file.
    : >"$ack"
    # Not through ev(): $! must be the writer itself, not a subshell around it.
    "$EVIDENT" -d "$dir" -c "$work/crash.yaml" append --jsonl --sync "$sync" <"$fifo" >"$ack" \
        2>"$work/err.$round" &
    wpid=$!
    pids+=("$wpid")
    delay=$((RANDOM % 201))
    sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
    kill -9 "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    kill -9 "$gen" 2>/dev/null || true
    wait "$gen" 2>/dev/null || true
    pids=()
    rm -f "$fifo"

    # Acknowledged: the complete lines the writer printed before it died.
    local complete acked=()
    complete=$(wc -l <"$ack")
    if ((complete > 0)); then
        mapfile -t acked < <(head -n "$complete" "$ack")
    fi
    if ((${#acked[@]} > 0)) && ! awk '!/^[0-9]+$/ || (NR > 1 && $1 + 0 <= prev) { bad = NR; exit } { prev = $1 + 0 }
              END { exit bad ? 1 : 0 }' < <(printf '%s\n' "${acked[@]}"); then
        fail_round "$round" "the writer printed something other than increasing indexes"
        return
    fi

    # Recovery: the next writer opens the crashed log.
    if ! echo "{\"type\":\"custom.test\",\"data\":{\"round\":$round,\"recovered\":true}}" |
        ev append --jsonl >"$work/recover.out" 2>"$work/recover.err"; then
        fail_round "$round" "append after the crash failed: $(cat "$work/recover.err")"
        return
    fi

    # Every acknowledged index: the last, the first and a sample in between
    # (acknowledgements come in order, so the k-th printed index holds line k).
    # Under never only those below the recovering append's index.
    local n=${#acked[@]} step=1 msg k recovered
    recovered=$(head -n 1 "$work/recover.out")
    if [[ $sync == never ]]; then
        while ((n > 0 && acked[n - 1] >= recovered)); do
            n=$((n - 1))
        done
    fi
    if ((n > 40)); then
        step=$((n / 30))
    fi
    for ((k = 0; k < n; k += step)); do
        if ! msg=$(check_entry "$round" "${acked[$k]}" "$k"); then
            fail_round "$round" "$msg"
            return
        fi
    done
    if ((n > 0)) && ! msg=$(check_entry "$round" "${acked[$((n - 1))]}" "$((n - 1))"); then
        fail_round "$round" "$msg"
        return
    fi

    if ! ev verify --verification-key-file "$keyfile" >"$work/verify.out" 2>&1; then
        fail_round "$round" "verify failed: $(tr '\n' ' ' <"$work/verify.out")"
        return
    fi
    passed=$((passed + 1))
}

for ((round = 0; round < rounds; round++)); do
    if ((SECONDS - start >= deadline)); then
        break
    fi
    run_round "$round"
done

echo "crash: $passed passed, $failed failed"
((failed == 0))
