#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of 'evident ingest': the real Bandit run over the
# vulnerable sample (tests/data/ingest/vulnerable/) and its report ingested
# and checked in the stored entry; Semgrep, SARIF (CodeQL, Trivy, several
# runs) and docker/podman inspect reports; malformed and truncated reports
# refused with exit 2, the JSON path in the message and the log left byte for
# byte as it was; the policy dropping some events of a report; and the log
# verifying at the end.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-ingest.sh
#
# Needs bandit on PATH (Debian: apt install bandit); EVIDENT_SKIP_BANDIT=1
# skips that part. Ends with "ingest: N passed, M failed".
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd) # absolute: the script changes directory
DATA=$SRCDIR/tests/data/ingest

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-ingest.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset EVIDENT_DIR EVIDENT_CONFIG

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

# entry_has N TEXT: the stored bytes of entry N contain TEXT.
entry_has() {
    "$EVIDENT" -d L entry "$1" >"$T/entry" 2>/dev/null && grep -qF -- "$2" "$T/entry"
}
# The state of every file of the log, to show that a refused report wrote nothing.
log_state() { (cd L && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

run -d L init --origin example.com/ingest
expect_rc "init" 0

# ---- usage -----------------------------------------------------------------------------------

run ingest --help
expect_rc "ingest --help" 0
expect_out "--help names the formats" "docker-inspect"
expect_out "--help gives the exit codes" "Exit codes"
run -d L ingest
expect_rc "ingest without arguments" 2
expect_err "ingest without arguments says why" "expected a format and a report file"
run -d L ingest nessus report.xml
expect_rc "unknown format" 2
expect_err "unknown format lists the formats" "unknown format 'nessus'"
run -d L ingest bandit "$T/missing.json"
expect_rc "missing report" 2
expect_err "missing report names it" "cannot read '$T/missing.json'"
run -d L ingest bandit "$DATA/bandit-1.6.2.json" --sync sometimes
expect_rc "bad --sync" 2
run -d L ingest bandit "$DATA/bandit-1.6.2.json" --target ''
expect_rc "empty --target" 2

# ---- the real Bandit over the vulnerable sample ----------------------------------------------

index=0
if [[ ${EVIDENT_SKIP_BANDIT:-0} == 1 ]]; then
    echo "ingest: bandit part skipped (EVIDENT_SKIP_BANDIT=1)" >&2
elif ! command -v bandit >/dev/null 2>&1; then
    rc=127
    fail "bandit is not installed (apt install bandit, or set EVIDENT_SKIP_BANDIT=1)"
else
    set +e
    (cd "$DATA" && bandit -q -f json -o "$T/bandit.json" -r vulnerable) >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    # Bandit exits 1 when it finds issues, which it must here.
    expect_rc "bandit finds issues in the sample" 1
    check "bandit wrote its report" test -s "$T/bandit.json"

    # What Bandit itself counted: the metrics' totals and the test ids of its results.
    read -r high medium low total < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = r["metrics"]["_totals"]
print(int(t["SEVERITY.HIGH"]), int(t["SEVERITY.MEDIUM"]), int(t["SEVERITY.LOW"]), len(r["results"]))
' "$T/bandit.json")
    version=$(bandit --version 2>/dev/null | head -n 1 | awk '{print $2}')
    if [[ $version == 1.6.2 ]]; then
        # Debian's Bandit 1.6.2 (the version tests/data/ingest/bandit-1.6.2.json comes from).
        check "bandit 1.6.2 finds 14 issues: 4 high, 6 medium, 4 low" \
            test "$high $medium $low $total" = "4 6 4 14"
    fi

    before=$(log_state)
    run -d L ingest bandit "$T/bandit.json" --target vulnerable/
    expect_rc "ingest bandit" 0
    expect_out "ingest bandit says what it appended" \
        "bandit: 1 security_assessment ($total findings: $high high, $medium medium, $low low) at index $index"
    check "the log grew" test "$(log_state)" != "$before"
    check "entry is a security_assessment" entry_has $index '"type":"security_assessment"'
    check "entry names the tool" entry_has $index '"tool":"bandit"'
    check "entry names the target" entry_has $index '"target":"vulnerable/"'
    check "entry holds exact counts" entry_has $index \
        "\"counts\":{\"critical\":0,\"high\":$high,\"info\":0,\"low\":$low,\"medium\":$medium}"
    check "entry holds every finding" entry_has $index "\"findings_total\":$total"
    check "entry holds the report's SHA-256" entry_has $index \
        "\"report_sha256\":\"$(sha256sum "$T/bandit.json" | cut -c1-64)\""
    check "entry holds the report's size" entry_has $index \
        "\"report_bytes\":$(wc -c <"$T/bandit.json" | tr -d ' ')"
    check "the highest severity reaches the envelope" entry_has $index '"severity":"error"'
    for id in $(grep -o '"test_id": "B[0-9]*"' "$T/bandit.json" | cut -d'"' -f4 | sort -u); do
        check "entry holds rule $id" entry_has $index "\"rule_id\":\"$id\""
    done
    if [[ $version == 1.6.2 ]]; then
        check "entry holds the shell=True finding" entry_has $index \
            '{"confidence":"high","file":"vulnerable/app.py","line":18,"message":"subprocess call with shell=True identified, security issue.","rule_id":"B602","severity":"high"}'
    fi
    run -d L show $index
    expect_rc "show the bandit entry" 0
    expect_out "show prints the entry" '"tool":"bandit"'

    # The real report cut short, and cut at its last byte: refused, nothing written.
    before=$(log_state)
    head -c $(($(wc -c <"$T/bandit.json") / 2)) "$T/bandit.json" >"$T/bandit-half.json"
    run -d L ingest bandit "$T/bandit-half.json"
    expect_rc "a truncated bandit report is refused" 2
    expect_err "the truncation is named" \
        "evident: cannot ingest bandit report: $T/bandit-half.json: invalid JSON: the file is truncated"
    head -c $(($(wc -c <"$T/bandit.json") - 1)) "$T/bandit.json" >"$T/bandit-cut.json"
    run -d L ingest bandit "$T/bandit-cut.json"
    expect_rc "a bandit report missing its last byte is refused" 2
    check "refused bandit reports wrote nothing" test "$(log_state)" = "$before"
    index=$((index + 1))
fi

# ---- malformed reports: exit 2, the JSON path, nothing written -------------------------------

before=$(log_state)
bad() {
    local format=$1 file=$2 message=$3
    run -d L ingest "$format" "$DATA/bad/$file"
    expect_rc "$file is refused" 2
    expect_err "$file: the message" "evident: cannot ingest ${format/podman/docker} report: $DATA/bad/$file: $message"
}
bad bandit bandit-truncated.json "invalid JSON: the file is truncated (line 118, column 7"
bad bandit bandit-line-string.json "results[3].line_number: expected an integer"
bad bandit bandit-bad-severity.json \
    "results[1].issue_severity: expected one of UNDEFINED, LOW, MEDIUM, HIGH"
bad bandit bandit-no-results.json "results: missing"
bad bandit bandit-no-test-id.json "results[5].test_id: missing"
bad bandit bandit-duplicate-key.json "invalid JSON at line 1, column 39: duplicate object key"
bad bandit not-json.txt "invalid JSON at line 1, column 3"
bad bandit empty.json "empty file"
bad semgrep semgrep-no-start.json "results[2].start: missing"
bad semgrep semgrep-cwe-number.json "results[0].extra.metadata.cwe[0]: expected a string"
bad sarif sarif-version.sarif 'version: "2.0.0" is not SARIF 2.1.0'
bad sarif sarif-rule-index.sarif \
    "runs[0].results[2].ruleIndex: 9 is out of range (the tool component has 4 rules)"
bad sarif sarif-no-results.sarif "runs[0].results: missing"
bad sarif sarif-bad-score.sarif \
    "runs[0].results[1]: the rule's properties.security-severity: expected a score from 0 to 10"
bad sarif sarif-bad-level.sarif "runs[1].results[1].level: expected one of none, note, warning"
bad docker-inspect docker-image.json "[0]: no HostConfig: not a container (inspect of an image?)"
bad docker-inspect docker-truncated.json "invalid JSON: the file is truncated"
bad docker-inspect docker-privileged-string.json \
    "[1].HostConfig.Privileged: expected true or false"
bad docker-inspect docker-mount-no-destination.json "[0].Mounts[1].Destination: missing"
bad docker-inspect docker-empty.json "empty array: no container to record"
# A report of one format named as another.
run -d L ingest docker-inspect "$DATA/semgrep.json"
expect_rc "semgrep JSON as docker-inspect is refused" 2
expect_err "the wrong format is named" "expected a JSON array of containers"
run -d L ingest sarif "$DATA/bandit-1.6.2.json"
expect_rc "bandit JSON as sarif is refused" 2
expect_err "sarif needs its version" "bandit-1.6.2.json: version: missing"
# Over the size limit (a sparse file: nothing is read past the limit).
truncate -s 65M "$T/huge.json"
run -d L ingest bandit "$T/huge.json"
expect_rc "a report over 64 MiB is refused" 2
expect_err "the size limit is named" "larger than 67108864 bytes"
check "refused reports wrote nothing" test "$(log_state)" = "$before"

# ---- Semgrep, SARIF, inspect -----------------------------------------------------------------

run -d L ingest semgrep "$DATA/semgrep.json" --target vulnerable/
expect_rc "ingest semgrep" 0
expect_out_exactly "ingest semgrep says what it appended" \
    "semgrep: 1 security_assessment (4 findings: 1 high, 2 medium, 1 low) at index $index"
expect_err "semgrep's own errors are noted" "the report lists 1 error of the tool itself"
check "semgrep entry holds the version" entry_has $index '"tool_version":"1.56.0"'
check "semgrep entry holds the CWE" entry_has $index '"cwe":78'
index=$((index + 1))

run -d L ingest sarif "$DATA/codeql.sarif" --target github.com/example/app
expect_rc "ingest CodeQL SARIF" 0
expect_out_exactly "CodeQL: what was appended" \
    "sarif: 1 security_assessment (CodeQL 2.16.1: 4 findings: 2 critical, 1 high, 1 low) at index $index"
check "CodeQL entry: critical from security-severity 9.8" entry_has $index \
    '"rule_id":"py/command-line-injection","severity":"critical"'
check "CodeQL entry: the suppressed result is not counted" entry_has $index '"findings_total":4'
check "CodeQL entry: envelope severity" entry_has $index '"severity":"critical"'
index=$((index + 1))

run_in "$DATA/trivy.sarif" -d L ingest sarif - --target python:3.11-alpine
expect_rc "ingest Trivy SARIF from stdin" 0
expect_out_exactly "Trivy: what was appended" \
    "sarif: 1 security_assessment (Trivy 0.49.1: 4 findings: 1 critical, 2 high, 1 medium) at index $index"
check "Trivy entry: the target" entry_has $index '"target":"python:3.11-alpine"'
check "Trivy entry: the digest of what came on stdin" entry_has $index \
    "\"report_sha256\":\"$(sha256sum "$DATA/trivy.sarif" | cut -c1-64)\""
index=$((index + 1))

run -d L ingest sarif "$DATA/multi-run.sarif"
expect_rc "ingest a SARIF log of two runs" 0
expect_out_exactly "two runs: two entries" "sarif: 2 security_assessments at index $index-$((index + 1))
  index $index: gitleaks v8.18.2: 2 findings: 2 medium
  index $((index + 1)): example-linter 1.4: 3 findings: 1 medium, 1 low, 1 info"
check "first run's entry" entry_has $index '"tool":"gitleaks"'
check "second run's entry" entry_has $((index + 1)) '"tool":"example-linter"'
index=$((index + 2))

run -d L ingest docker-inspect "$DATA/docker-inspect.json"
expect_rc "ingest docker inspect" 0
expect_out "docker: two containers" "docker-inspect: 2 container_creations at index $index-$((index + 1))"
expect_out "docker: the risky one" "  index $index: ci-runner: risks: privileged"
expect_out "docker: the hardened one" "  index $((index + 1)): api: no risks"
check "risky entry: privileged" entry_has $index '"privileged":true'
check "risky entry: the docker socket" entry_has $index '"source":"/var/run/docker.sock"'
check "risky entry: CAP_SYS_ADMIN" entry_has $index '"cap_add":["CAP_SYS_ADMIN","CAP_NET_ADMIN"]'
check "risky entry: seccomp" entry_has $index '"seccomp_profile":"unconfined"'
check "risky entry: host network" entry_has $index '"network_mode":"host"'
check "risky entry: risks computed" entry_has $index '"container_socket_mount"'
check "hardened entry: read-only rootfs" entry_has $((index + 1)) '"read_only_rootfs":true'
check "hardened entry: limits" entry_has $((index + 1)) '"cpu_millicores":1500'
index=$((index + 2))

run -d L ingest podman-inspect "$DATA/podman-inspect.json"
expect_rc "ingest podman inspect" 0
expect_out "podman: one container" "docker-inspect: 1 container_creation (webdev: risks:"
check "podman entry: the runtime" entry_has $index '"runtime":"podman"'
check "podman entry: ImageDigest" entry_has $index \
    '"image_digest":"sha256:7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d"'
index=$((index + 1))

# ---- the policy: events it drops are reported, not written -----------------------------------

cat >"$T/policy.yaml" <<'EOF'
policies:
  container_creation:
    min_severity: error
EOF
run -d L -c "$T/policy.yaml" ingest docker-inspect "$DATA/docker-inspect.json"
expect_rc "ingest under a policy" 0
expect_out_exactly "the policy drops the hardened container" \
    "docker-inspect: 1 container_creation at index $index (1 dropped by the policy)
  index $index: ci-runner: risks: privileged, runs_as_root, cap_sys_admin, cap_net_admin, writable_rootfs, seccomp_unconfined, apparmor_unconfined, new_privileges_allowed, host_network, host_pid, container_socket_mount, sensitive_host_mount, no_memory_limit, no_pids_limit, no_cpu_limit
  dropped: api: no risks"
index=$((index + 1))
cat >"$T/off.yaml" <<'EOF2'
policies:
  container_creation:
    enabled: false
EOF2
run -d L -c "$T/off.yaml" ingest docker-inspect "$DATA/docker-inspect.json"
expect_rc "ingest where the policy drops everything" 0
expect_out "nothing appended" \
    "docker-inspect: nothing appended: the policy drops all 2 container_creations"

# ---- the log still verifies ------------------------------------------------------------------

run -d L verify
expect_rc "verify after every ingest" 0
expect_out "verify counts every entry" "entries: $index"

echo "ingest: $passed passed, $failed failed"
[[ $failed == 0 ]]
