#!/usr/bin/env bash
# The whole test suite: unit and end-to-end tests (normal build), the same under
# AddressSanitizer + UndefinedBehaviorSanitizer, the style and banned-function
# checks, and a short run of every fuzzer over its committed corpus.
# Prints one closing line "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export MESON_TESTTHREADS=${MESON_TESTTHREADS:-2}
fuzz_seconds=${EVIDENT_FUZZ_SECONDS:-20}
passed=0
failed=0
failures=()

count_meson() { # build dir: adds meson's counts
    local log="$1/meson-logs/testlog.json" ok bad
    ok=$(grep -c '"result": "OK"' "$log" 2>/dev/null || true)
    bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" 2>/dev/null || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || failures+=("meson test in $1")
}

step() { # name command...: a check that passes or fails as a whole
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

echo "== build and unit/e2e tests"
meson setup build >/dev/null 2>&1 || true
if meson compile -C build >/dev/null; then
    meson test -C build --print-errorlogs
    count_meson build
else
    failed=$((failed + 1)); failures+=("build")
fi

echo "== sanitizer build (ASan + UBSan) and tests"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debug >/dev/null
if meson compile -C build-asan >/dev/null; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --print-errorlogs
    count_meson build-asan
else
    failed=$((failed + 1)); failures+=("asan build")
fi

step "banned functions" scripts/check-banned.sh
step "clang-format" scripts/check-format.sh

if [ -x "$(command -v clang)" ]; then
    [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false >/dev/null
    if meson compile -C build-fuzz >/dev/null && [ -x fuzz/run.sh ]; then
        step "fuzzers (${fuzz_seconds}s each)" fuzz/run.sh build-fuzz "$fuzz_seconds"
    else
        failed=$((failed + 1)); failures+=("fuzz build")
    fi
fi

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
