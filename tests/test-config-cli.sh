#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of 'evident config': check, show, doc and example, with
# exact exit codes (0 ok, 2 invalid configuration, unreadable file or usage)
# and what they print. Helpers as in tests/test-cli.sh.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-config-cli.sh
#
# Ends with "config-cli: N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd) # absolute: the script changes directory

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-config-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset EVIDENT_DIR

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"

# ---- help and usage ------------------------------------------------------------------------

run config --help
expect_rc "config --help" 0
expect_out "config --help shows the usage" "usage: evident config check FILE..."
expect_out "config --help lists the exit codes" "Exit codes: 0 ok; 2"
run config
expect_rc "config without an action is a usage error" 2
expect_err "config without an action says what is missing" "missing action"
run config frobnicate
expect_rc "an unknown action is a usage error" 2
expect_err "an unknown action is named" "unknown action 'frobnicate'"
run config check
expect_rc "check without a FILE is a usage error" 2
run config doc extra
expect_rc "doc takes no argument" 2
run config show a.yaml b.yaml
expect_rc "show takes at most one FILE" 2

# ---- check -----------------------------------------------------------------------------------

: >empty.yaml
run config check empty.yaml
expect_rc "an empty file is valid" 0
expect_out "check says ok" "empty.yaml: ok"

printf '# nothing but comments\n\n' >comments.yaml
run config check comments.yaml empty.yaml
expect_rc "several valid files" 0
expect_out "each file is named" "comments.yaml: ok"

run config check "$SRCDIR/config/evident.yaml"
expect_rc "the shipped example is valid" 0

printf 'storage:\n  segment_size: big\n' >bad.yaml
run config check bad.yaml
expect_rc "a bad value gives exit 2" 2
expect_err_exactly "the error names file, line, column and key" \
    "bad.yaml:2:17: storage.segment_size: expected a size such as 64MiB"

printf 'storage:\n  segment_sise: 1GiB\n' >typo.yaml
run config check typo.yaml
expect_rc "an unknown key gives exit 2" 2
expect_err_exactly "an unknown key gets a suggestion" \
    "typo.yaml:2:3: storage.segment_sise: unknown key (did you mean 'segment_size'?)"

printf 'privacy:\n  patterns:\n    - name: x\n      regex: "a(b"\n' >regex.yaml
run config check regex.yaml
expect_rc "a regex that does not compile gives exit 2" 2
expect_err "the regex error gives the offset" "regex does not compile at offset 3"

printf 'log: &a\n  dir: x\nstorage: *a\n' >alias.yaml
run config check alias.yaml
expect_rc "aliases are refused" 2
expect_err "the alias error is plain" "anchors and aliases are not allowed"

run config check empty.yaml bad.yaml
expect_rc "one bad file among several gives exit 2" 2
expect_out "the good one is still reported" "empty.yaml: ok"

run config check missing.yaml
expect_rc "a missing file gives exit 2" 2
expect_err "a missing file is named" "evident: cannot read config 'missing.yaml'"

head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >big.yaml
run config check big.yaml
expect_rc "a file over 1 MiB gives exit 2" 2
expect_err "the size limit is named" "big.yaml: larger than 1048576 bytes"

# ---- show ------------------------------------------------------------------------------------

run config show
expect_rc "show without FILE shows the defaults" 0
expect_out "the defaults include segment_size" "segment_size: 64MiB"
cp "$T/out" defaults-shown.yaml
run config check defaults-shown.yaml
expect_rc "what show prints is a valid configuration" 0

printf 'storage:\n  segment_size: 1GiB\nlog:\n  sync: never\n' >custom.yaml
run config show custom.yaml
expect_rc "show FILE" 0
expect_out "show gives the file's values" "segment_size: 1GiB"
expect_out "show gives the file's choices" "sync: never"
expect_out "show fills in the defaults" "seal_interval: 15m"
cp "$T/out" custom-shown.yaml
run config show custom-shown.yaml
check "show's output shows back to itself" cmp -s "$T/out" custom-shown.yaml

run config show bad.yaml
expect_rc "show of a bad file gives exit 2" 2
expect_err "show of a bad file says why" "bad.yaml:2:17: storage.segment_size"

# ---- doc and example: the committed files are what they print --------------------------------

run config doc
expect_rc "doc" 0
check "docs/CONFIG.md is 'evident config doc'" cmp -s "$T/out" "$SRCDIR/docs/CONFIG.md"
run config example
expect_rc "example" 0
check "config/evident.yaml is 'evident config example'" cmp -s "$T/out" \
    "$SRCDIR/config/evident.yaml"

# ---- the configuration drives the other commands -------------------------------------------

cat >"$T/policy.yaml" <<'YAML'
log:
  dir: LOGDIR
  origin: config.example/log
  sync: never
integrity:
  seal_interval: 2h
levels:
  default: minimal
policies:
  system_event:
    enabled: false
  resource_violation:
    min_severity: warning
  code_execution:
    level: basic
privacy:
  patterns:
    - name: ticket
      regex: 'TICKET-[0-9]{4}'
YAML
sed -i "s|LOGDIR|$T/cfglog|" "$T/policy.yaml"
run -c "$T/policy.yaml" init
expect_rc "init takes log.dir and log.origin from the configuration" 0
run -d "$T/cfglog" info
expect_out "the configured origin is the log's" "config.example/log"
run -c "$T/policy.yaml" event system_event --action startup
expect_rc "a disabled type is dropped, not an error" 0
expect_err "a dropped event is reported" "not appended: the policy drops system_event events"
run -c "$T/policy.yaml" event resource_violation --resource cpu --limit 1 --observed 2 \
    --action warned
expect_err "below the type's minimum severity is dropped" "not appended: the policy drops"
run -c "$T/policy.yaml" event resource_violation --resource cpu --limit 1 --observed 2 \
    --action killed
expect_rc "at the minimum severity it is appended" 0
expect_out "the first kept event is entry 0" "0"
run -c "$T/policy.yaml" event code_execution --language sh --stdout 'see TICKET-1234 now' \
    --dry-run
expect_out "a configured pattern redacts" '"redacted":1'
check "the ticket never reaches the output" bash -c "! grep -q 'TICKET-1234' '$T/out'"
expect_out "the marker names the pattern" "see [REDACTED:ticket] now"
run -c "$T/policy.yaml" event security_event --category auth --description d \
    --details '{"k":"v"}' --dry-run
check "levels.default minimal drops details" bash -c "! grep -q 'details' '$T/out'"
EVIDENT_CONFIG="$T/policy.yaml" run event code_execution --language sh --stdout 'x' --dry-run
expect_out "EVIDENT_CONFIG is read" '"stdout":{"bytes":1,'
printf 'privacy:\n  sanitize: false\n' >"$T/nosan.yaml"
run -c "$T/nosan.yaml" event code_execution --language sh --stdout 'key AKIAIOSFODNN7EXAMPLE' \
    --dry-run
expect_out "sanitize: false keeps the text as given" "AKIAIOSFODNN7EXAMPLE"
run -c "$T/missing.yaml" event code_execution --language sh
expect_rc "a missing configuration is trouble" 2

echo "config-cli: $passed passed, $failed failed"
[[ $failed == 0 ]]
