#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of 'evident summary' and 'evident report': a log made with
# the CLI, its summary as text and JSON, reports in HTML (rendered in headless
# Chromium: the page must show the numbers, the checkpoint's tree size and
# "verified", and run no script), JSON and Markdown, the auditor's re-check
# commands from the report, and a tampered log (exit 1, the report says so).
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-report.sh
#
# Screenshots: ${EVIDENT_ARTIFACTS:-/tmp}/report.png and report-failed.png,
# copied to <builddir>/artifacts/. Ends with "report: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
EVIDENT=$(cd "$(dirname "$EVIDENT")" && pwd)/$(basename "$EVIDENT")
ARTIFACTS=${EVIDENT_ARTIFACTS:-/tmp}
BUILD_ARTIFACTS=$(cd "$(dirname "$EVIDENT")/../.." && pwd)/artifacts
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-report.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset EVIDENT_DIR
umask 022
mkdir -p "$T/home"

passed=0
failed=0
rc=0

# run ARGS...: runs evident; stdout in $T/out, stderr in $T/err, exit status in $rc.
run() {
    set +e
    "$EVIDENT" "$@" >"$T/out" 2>"$T/err" </dev/null
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
# expect_in NAME FILE TEXT: FILE contains TEXT; expect_not_in: it does not.
expect_in() {
    if grep -qF -- "$3" "$2"; then pass; else fail "$1: '$2' lacks '$3'"; fi
}
expect_not_in() {
    if ! grep -qF -- "$3" "$2"; then pass; else fail "$1: '$2' has '$3'"; fi
}
# expect_eq NAME GOT WANT
expect_eq() {
    if [[ $2 == "$3" ]]; then pass; else fail "$1: got '$2', expected '$3'"; fi
}
# jget FILE FILTER: a value of a JSON file.
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v) if not isinstance(v,str) else v, end="")' "$1" "$2"; }

# chrome ARGS... URL: headless Chromium with a throwaway profile, 60 s at most.
chrome() {
    HOME=$T/home timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --user-data-dir="$T/chrome" --hide-scrollbars "$@" 2>"$T/chrome.err"
}

# ---- a log made with the CLI ---------------------------------------------------------

E() { "$EVIDENT" -d "$T/log" "$@"; }
E init --origin audit.example/prod >"$T/init" 2>&1
sed -n 's/^verification-key: //p' "$T/init" >"$T/vkey.hex"
chmod 600 "$T/vkey.hex"
E append --type security_assessment --severity warning --source '{"program":"bandit"}' \
    --data '{"findings":[{"rule_id":"B602","severity":"critical","message":"shell"},{"rule_id":"B101","severity":"high"},{"rule_id":"B101","severity":"high"}],"tool":"bandit","target":"src/"}' >/dev/null
E append --type container_creation --severity notice --source '{"program":"dockerd"}' \
    --data '{"container_id":"c1","image":"alpine:3.20","name":"builder","privileged":true}' >/dev/null
E append --type resource_violation --severity warning --source '{"program":"sandbox"}' \
    --data '{"action":"killed","limit":268435456,"observed":536870912,"resource":"memory","unit":"bytes"}' >/dev/null
E append --type custom.login --severity info --source '{"program":"sshd"}' \
    --data '{"outcome":"success","user":"alice"}' >/dev/null
E append --type custom.login --severity error --source '{"program":"sshd"}' \
    --data '{"outcome":"failure","user":"mallory"}' >/dev/null
E seal >/dev/null
E append --type custom.alert --severity critical \
    --source '{"program":"<img src=x onerror=alert(2)>"}' \
    --data '{"description":"<script>document.title=\"pwned\"</script>","marker":"tamper-target"}' >/dev/null
SIZE=$(E info | sed -n 's/^size: //p')
EVENTS=6

# ---- summary -------------------------------------------------------------------------

run -d "$T/log" summary
expect_rc "summary" 0
expect_in "summary: events" "$T/out" "Security events: $EVENTS"
expect_in "summary: seals apart" "$T/out" "Integrity: 1 seals"
expect_in "summary: by type" "$T/out" "custom.login"
expect_in "summary: violations" "$T/out" "memory killed"
expect_in "summary: rules" "$T/out" "critical B602"
run -d "$T/log" summary --json
expect_rc "summary --json" 0
cp "$T/out" "$T/summary.json"
expect_eq "summary --json: events" "$(jget "$T/summary.json" entries.events)" "$EVENTS"
expect_eq "summary --json: critical" "$(jget "$T/summary.json" by_severity.items.2.count)" 1
expect_eq "summary --json: findings" "$(jget "$T/summary.json" assessments.findings_by_severity.high)" 2
expect_eq "summary --json: risky" "$(jget "$T/summary.json" containers.risky)" 1
run -d "$T/log" summary --since 2099-01-01T00:00:00Z --json
expect_rc "summary --since (future)" 0
expect_eq "summary --since: nothing" "$(jget "$T/out" entries.events)" 0
run -d "$T/log" summary --since 2030-01-01T00:00:00Z --until 2020-01-01T00:00:00Z
expect_rc "summary: since after until" 2
run -d "$T/log" summary --to 999999
expect_rc "summary --to past the end" 2
run -d "$T/nolog" summary
expect_rc "summary: no log" 2
run summary --help
expect_rc "summary --help" 0
expect_in "summary --help: exit codes" "$T/out" "Exit codes"

# ---- report: usage -------------------------------------------------------------------

run -d "$T/log" report --out "$T/r.html"
expect_rc "report without --format" 2
run -d "$T/log" report --format pdf --out "$T/r.pdf"
expect_rc "report --format pdf" 2
run -d "$T/log" report --format html
expect_rc "report without --out" 2
run -d "$T/log" report --format html --out "$T/r.html" --pubkey nonsense
expect_rc "report --pubkey malformed" 2
run -d "$T/nolog" report --format html --out "$T/r.html"
expect_rc "report: no log" 2
run report --help
expect_rc "report --help" 0
expect_in "report --help: exit codes" "$T/out" "Exit codes"

# ---- report: JSON, and the auditor's commands ----------------------------------------

run -d "$T/log" report --format json --out "$T/report.json" --verification-key-file "$T/vkey.hex"
expect_rc "report --format json" 0
expect_eq "json: verified" "$(jget "$T/report.json" integrity.verified)" true
expect_eq "json: tags checked" "$(jget "$T/report.json" integrity.verification.tags_checked)" true
expect_eq "json: tree size" "$(jget "$T/report.json" integrity.checkpoint.tree_size)" "$SIZE"
expect_eq "json: events" "$(jget "$T/report.json" summary.entries.events)" "$EVENTS"
expect_eq "json: notable" "$(jget "$T/report.json" notable_events.total)" 5
jget "$T/report.json" integrity.checkpoint.note >"$T/checkpoint.txt"
if cmp -s "$T/checkpoint.txt" "$T/log/checkpoint"; then pass; else fail "json: checkpoint note is the log's"; fi
KEY=$(jget "$T/report.json" integrity.public_key)
expect_eq "json: public key" "$KEY" "$(E pubkey | tail -n 1)"
run -d "$T/log" verify --pubkey "$KEY" --checkpoint "$T/checkpoint.txt"
expect_rc "auditor: verify against the report's checkpoint" 0
run -d "$T/log" summary --to "$SIZE" --json
python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["summary"]; b=json.load(open(sys.argv[2]))
sys.exit(0 if a==b else 1)' "$T/report.json" "$T/out" && pass || fail "auditor: summary --to N recomputes the report's numbers"
expect_in "json: commands name the checkpoint" "$T/report.json" "--checkpoint checkpoint.txt"

# ---- report: Markdown ----------------------------------------------------------------

run -d "$T/log" report --format md --out "$T/report.md"
expect_rc "report --format md" 0
expect_in "md: verified" "$T/report.md" "**Verified.**"
expect_in "md: escaped" "$T/report.md" "&lt;script&gt;"
expect_not_in "md: no raw script" "$T/report.md" "<script"
expect_in "md: checkpoint" "$T/report.md" "audit.example/prod"

# ---- report: HTML in a browser -------------------------------------------------------

run -d "$T/log" report --format html --out "$T/report.html"
expect_rc "report --format html" 0
expect_not_in "html: no raw script" "$T/report.html" "<script"
expect_in "html: escaped" "$T/report.html" "&lt;script&gt;document.title"

if [[ -n $CHROMIUM && -x $CHROMIUM ]]; then
    chrome --dump-dom "file://$T/report.html" >"$T/dom.html" || true
    expect_in "dom: total events" "$T/dom.html" "id=\"total-events\">$EVENTS<"
    expect_in "dom: critical" "$T/dom.html" "id=\"sev-critical\">1<"
    expect_in "dom: warnings" "$T/dom.html" "id=\"sev-warning\">2<"
    expect_in "dom: errors" "$T/dom.html" "id=\"sev-error\">1<"
    expect_in "dom: tree size" "$T/dom.html" "id=\"tree-size\">$SIZE<"
    expect_in "dom: verified" "$T/dom.html" "Log verified"
    expect_in "dom: result" "$T/dom.html" "id=\"verification\">verified<"
    expect_not_in "dom: no script element" "$T/dom.html" "<script"
    expect_not_in "dom: no injected image" "$T/dom.html" "<img"
    expect_not_in "dom: the hostile script did not run" "$T/dom.html" "<title>pwned"
    expect_in "dom: hostile text shown as text" "$T/dom.html" "&lt;script&gt;document.title"
    mkdir -p "$ARTIFACTS" "$BUILD_ARTIFACTS"
    rm -f "$ARTIFACTS/report.png"
    chrome --screenshot="$ARTIFACTS/report.png" --window-size=1280,2400 \
        "file://$T/report.html" >/dev/null || true
    if [[ -s $ARTIFACTS/report.png ]]; then
        pass
        cp "$ARTIFACTS/report.png" "$BUILD_ARTIFACTS/report.png"
    else
        fail "screenshot: $ARTIFACTS/report.png not written"
    fi
else
    echo "report: chromium not found: browser checks skipped" >&2
fi

# ---- a tampered log ------------------------------------------------------------------

cp -a "$T/log" "$T/bad"
SEGMENT=$(ls "$T/bad/segments/"*.seg | tail -n 1)
OFFSET=$(grep -obUaF "tamper-target" "$SEGMENT" | head -n 1 | cut -d: -f1)
printf 'X' | dd of="$SEGMENT" bs=1 seek="$OFFSET" conv=notrunc 2>/dev/null
run -d "$T/bad" report --format html --out "$T/bad.html"
expect_rc "tampered: report exits 1" 1
expect_in "tampered: says why on stderr" "$T/err" "FAILED verification"
expect_in "tampered: html says so" "$T/bad.html" "VERIFICATION FAILED"
expect_not_in "tampered: html does not say verified" "$T/bad.html" "Log verified"
run -d "$T/bad" report --format json --out "$T/bad.json"
expect_rc "tampered: json report exits 1" 1
expect_eq "tampered: json verified" "$(jget "$T/bad.json" integrity.verified)" false
case "$(jget "$T/bad.json" integrity.status)" in
FAILED:*) pass ;;
*) fail "tampered: json status" ;;
esac
run -d "$T/bad" report --format md --out "$T/bad.md"
expect_rc "tampered: md report exits 1" 1
expect_in "tampered: md says so" "$T/bad.md" "VERIFICATION FAILED"
if [[ -n $CHROMIUM && -x $CHROMIUM ]]; then
    chrome --dump-dom "file://$T/bad.html" >"$T/bad-dom.html" || true
    expect_in "tampered dom: failure shown" "$T/bad-dom.html" "VERIFICATION FAILED"
    chrome --screenshot="$ARTIFACTS/report-failed.png" --window-size=1280,1200 \
        "file://$T/bad.html" >/dev/null || true
    [[ -s $ARTIFACTS/report-failed.png ]] && cp "$ARTIFACTS/report-failed.png" "$BUILD_ARTIFACTS/" || true
fi

echo "report: $passed passed, $failed failed"
[[ $failed == 0 ]]
