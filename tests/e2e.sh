# SPDX-License-Identifier: Apache-2.0
#
# Helpers shared by the end-to-end scripts (sourced, not run). The script sets
# EVIDENT (the binary) and T (its temporary directory) first.
#
#   run ARGS...           runs evident; stdout in $T/out, stderr in $T/err, status in $rc
#   run_in FILE ARGS...   the same with FILE on standard input
#   expect_rc NAME CODE, expect_out NAME TEXT, expect_no_out NAME TEXT,
#   expect_err NAME TEXT, expect_out_exactly NAME TEXT, expect_err_exactly NAME TEXT,
#   check NAME COMMAND...  one check each, counted in $passed / $failed
#   finish NAME            prints "NAME: N passed, M failed"; fails if any failed

passed=0
failed=0
rc=0

run() {
    set +e
    "$EVIDENT" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}

run_in() {
    local input=$1
    shift
    set +e
    "$EVIDENT" "$@" >"$T/out" 2>"$T/err" <"$input"
    rc=$?
    set -e
}

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
    echo "  exit status: $rc" >&2
    sed 's/^/  stdout: /' "$T/out" | head -n 8 >&2 || true
    sed 's/^/  stderr: /' "$T/err" | head -n 8 >&2 || true
}
expect_rc() {
    if [[ $rc == "$2" ]]; then pass; else fail "$1: exit status $rc, expected $2"; fi
}
expect_out() {
    if grep -qF -- "$2" "$T/out"; then pass; else fail "$1: stdout lacks '$2'"; fi
}
expect_no_out() {
    if ! grep -qF -- "$2" "$T/out"; then pass; else fail "$1: stdout has '$2'"; fi
}
expect_err() {
    if grep -qF -- "$2" "$T/err"; then pass; else fail "$1: stderr lacks '$2'"; fi
}
expect_out_exactly() {
    if [[ $(cat "$T/out") == "$2" ]]; then pass; else fail "$1: stdout is not exactly '$2'"; fi
}
expect_err_exactly() {
    if [[ $(cat "$T/err") == "$2" ]]; then pass; else fail "$1: stderr is not '$2'"; fi
}
check() {
    local name=$1
    shift
    if "$@"; then pass; else fail "$name"; fi
}
