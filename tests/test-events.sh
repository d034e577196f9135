#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end tests of typed security events (docs/EVENTS.md) through the CLI:
# 'evident event TYPE --field value' for every type, --dry-run, the ways of
# giving a value (@file, @-, @@text, lists, JSON), the validation errors (exit
# 2, nothing appended), 'append --type' and 'append --jsonl' going through the
# same validation, secrets never reaching any byte of the log directory, and
# 'evident event --schema' matching docs/EVENTS.md. Helpers as in
# tests/test-cli.sh.
#
#   EVIDENT=build/src/cli/evident SRCDIR=. bash tests/test-events.sh
#
# Ends with "events: N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

: "${EVIDENT:?set EVIDENT to the evident binary}"
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SRCDIR=$(cd "$SRCDIR" && pwd) # absolute: the script changes directory

T=$(mktemp -d "${TMPDIR:-/tmp}/evident-events.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset EVIDENT_DIR
umask 022

# run, run_in, expect_*, check: tests/e2e.sh
. "$SRCDIR/tests/e2e.sh"
# expect_same NAME GOT WANT: two strings are equal.
expect_same() {
    if [[ $2 == "$3" ]]; then
        pass
    else
        fail "$1"
        echo "  got:  $2" >&2
        echo "  want: $3" >&2
    fi
}

# size: the number of entries in the log L.
size() { "$EVIDENT" -d L info | sed -n 's/^size: //p'; }
# data_of N: the data object of entry N, byte for byte (the last member of the entry; the
# default source has no nested object).
data_of() { "$EVIDENT" -d L entry "$1" | sed -E 's/^.*,"source":\{[^}]*\},"data"://; s/\}$//'; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# expect_size NAME N: the log holds N entries.
expect_size() {
    local got
    got=$(size)
    if [[ $got == "$2" ]]; then pass; else fail "$1: log size $got, expected $2"; fi
}

run -d L init --origin example.com/events
expect_rc "init" 0

# ---- the schema is docs/EVENTS.md's ------------------------------------------------------------

run event --schema
expect_rc "event --schema" 0
sed -n '/^<!-- schema:begin -->$/,/^<!-- schema:end -->$/p' "$SRCDIR/docs/EVENTS.md" |
    sed '1d;$d' >doc-schema.md
check "docs/EVENTS.md has the schema markers" test -s doc-schema.md
check "event --schema equals the generated section of docs/EVENTS.md" cmp -s out doc-schema.md

# ---- each type from fields ---------------------------------------------------------------------

# code_execution at the default level (basic): exact canonical bytes, digests computed here.
printf 'hello world\n' >stdout.txt
run -d L event code_execution --language python --code 'print("hello world")' \
    --command 'python3 main.py' --exit-code 0 --duration-ms 42 --stdout @stdout.txt \
    --sandbox-id sb-1
expect_rc "code_execution appended" 0
expect_out_exactly "code_execution prints its index" "0"
want='{"code":{"bytes":20,"sha256":"'$(sha 'print("hello world")')'"},"command":"python3 main.py",'
want+='"duration_ms":42,"exit_code":0,"language":"python","sandbox_id":"sb-1",'
want+='"stdout":{"bytes":12,"sha256":"'$(sha256sum stdout.txt | cut -d' ' -f1)'",'
want+='"text":"hello world\n"}}'
expect_same "code_execution data is canonical with digests (basic: no code text)" \
    "$(data_of 0)" "$want"
run -d L entry 0
expect_out "code_execution type in the entry" '"type":"code_execution","severity":"info"'

run -d L event security_assessment --tool bandit --tool-version 1.7.5 --target src/ \
    --findings '{"rule_id":"B101","severity":"low","file":"a.py","line":3}' \
    --findings '{"rule_id":"B602","severity":"high","cwe":78,"message":"shell=True"}' \
    --recommendations 'avoid shell=True' --recommendations 'remove asserts'
expect_rc "security_assessment appended" 0
expect_out_exactly "security_assessment is entry 1" "1"
d=$(data_of 1)
check "security_assessment counts derived" grep -qF '"counts":{"critical":0,"high":1,"info":0,"low":1,"medium":0}' <<<"$d"
check "security_assessment findings most severe first" \
    grep -qF '"findings":[{"cwe":78,"message":"shell=True","rule_id":"B602","severity":"high"},{"file":"a.py","line":3,"rule_id":"B101","severity":"low"}]' <<<"$d"
check "security_assessment score computed" grep -qF '"score":89' <<<"$d"
check "security_assessment findings_total" grep -qF '"findings_total":2' <<<"$d"
check "security_assessment recommendations" \
    grep -qF '"recommendations":["avoid shell=True","remove asserts"]' <<<"$d"
run -d L entry 1
expect_out "security_assessment severity from the worst finding" '"severity":"error"'

run -d L event container_creation --container-id c0ffee --image nginx:1.25 --user 1000 \
    --cap-add NET_RAW --cap-add SYS_ADMIN --cap-drop ALL --read-only-rootfs true \
    --no-new-privileges true --memory-limit-bytes 1048576 --pids-limit 64 --cpu-millicores 500 \
    --mounts '{"source":"/srv/data","destination":"/data","type":"bind","read_only":true}' \
    --mounts '[{"source":"/var/run/docker.sock","destination":"/var/run/docker.sock"}]'
expect_rc "container_creation appended" 0
d=$(data_of 2)
check "container_creation repeated --cap-add keeps the order" \
    grep -qF '"cap_add":["NET_RAW","SYS_ADMIN"],"cap_drop":["ALL"]' <<<"$d"
check "container_creation --mounts JSON object and array" \
    grep -qF '"mounts":[{"destination":"/data","read_only":true,"source":"/srv/data","type":"bind"},{"destination":"/var/run/docker.sock","source":"/var/run/docker.sock"}]' <<<"$d"
check "container_creation risks derived" \
    grep -qF '"risks":["cap_sys_admin","cap_net_raw","container_socket_mount"]' <<<"$d"
check "container_creation booleans" grep -qF '"no_new_privileges":true' <<<"$d"
run -d L entry 2
expect_out "container_creation with an escape risk is an error" '"severity":"error"'

run -d L event resource_violation --resource memory --limit 536870912 --observed 612368384 \
    --unit bytes --action killed --pid 4242 --container-id c0ffee
expect_rc "resource_violation appended" 0
expect_same "resource_violation data" "$(data_of 3)" \
    '{"action":"killed","container_id":"c0ffee","limit":536870912,"observed":612368384,"pid":4242,"resource":"memory","unit":"bytes"}'
run -d L entry 3
expect_out "resource_violation killed is an error" '"severity":"error"'

run -d L event security_event --category authentication --description 'failed login' \
    --outcome failure --actor.user alice --actor.uid 1000 --host web-1 \
    --details '{"attempts":5,"source_ip":"10.0.0.7"}'
expect_rc "security_event appended" 0
expect_same "security_event data (dotted --actor.user, --details JSON)" "$(data_of 4)" \
    '{"actor":{"uid":1000,"user":"alice"},"category":"authentication","description":"failed login","details":{"attempts":5,"source_ip":"10.0.0.7"},"host":"web-1","outcome":"failure"}'
run -d L entry 4
expect_out "security_event failure is a warning" '"severity":"warning"'

old=$(sha old-config)
new=$(sha new-config)
run -d L event system_event --action config_change --component evidentd --version 0.3.0 \
    --config-old-sha256 "$old" --config-new-sha256 "$new" --severity notice
expect_rc "system_event appended" 0
expect_same "system_event data" "$(data_of 5)" \
    '{"action":"config_change","component":"evidentd","config_new_sha256":"'"$new"'","config_old_sha256":"'"$old"'","version":"0.3.0"}'
run -d L entry 5
expect_out "system_event --severity given" '"severity":"notice"'

run -d L event custom.deploy.v2 --data '{"service":"api","version":"1.2.3"}'
expect_rc "custom type appended" 0
expect_same "custom data as given, canonical" "$(data_of 6)" '{"service":"api","version":"1.2.3"}'

run -d L log --json
expect_rc "log --json" 0
check "log --json has one line per event" test "$(wc -l <out)" -eq 7
check "log --json line 7 is the custom type" grep -q '^{"v":1,"seq":6,.*"type":"custom.deploy.v2"' out
expect_size "seven events" 7

# ---- ways of giving values ---------------------------------------------------------------------

run -d L event code_execution --language python --exit-code 3 --dry-run
expect_rc "--dry-run" 0
expect_out_exactly "--dry-run prints type, severity and data" \
    '{"type":"code_execution","severity":"info","data":{"exit_code":3,"language":"python"}}'
expect_size "--dry-run appends nothing" 7

run -d L event code_execution --language=python --exit_code=-1 --dry-run
expect_rc "--FIELD=VALUE and underscores" 0
expect_out "--exit_code=-1" '"exit_code":-1,"language":"python"'

printf 'echo from stdin\n' >code.sh
run_in code.sh -d L event code_execution --language bash --code @- --dry-run
expect_rc "--code @- reads standard input" 0
expect_out "--code @- digest" '"code":{"bytes":16,"sha256":"'"$(sha256sum code.sh | cut -d' ' -f1)"'"}'
printf 'line one\nline two\n' >out2.txt
run_in out2.txt -d L event code_execution --language bash --stdout @- --dry-run
expect_rc "--stdout @-" 0
expect_out "--stdout @- text" '"text":"line one\nline two\n"'
run -d L event code_execution --language bash --stdout @stdout.txt --dry-run
expect_out "--stdout @file text" '"text":"hello world\n"'
run -d L event code_execution --language @@python --command @@notafile --dry-run
expect_rc "@@text" 0
expect_out "@@text is the literal @text" '"command":"@notafile","language":"@python"'
run -d L event code_execution --language bash --stdout @missing.txt
expect_rc "@file that does not exist" 2
expect_err "@file that does not exist is named" "missing.txt"

digest=$(sha 'not sent')
run -d L event code_execution --language bash --stdout.sha256 "$digest" --stdout.bytes 8 \
    --stderr.bytes 0 --dry-run
expect_rc "--stdout.sha256 / --stdout.bytes" 0
expect_out "a capture described, not sent" \
    '"stderr":{"bytes":0},"stdout":{"bytes":8,"sha256":"'"$digest"'"}'
expect_size "dry runs append nothing" 7

# ---- errors: exit 2, nothing appended ----------------------------------------------------------

run -d L event code_execution --language python --exit-status 1
expect_rc "unknown field" 2
expect_err "unknown field is named" "--exit-status: code_execution has no field 'exit_status'"
expect_err "unknown field: the fields are listed" \
    "(it has: actor, code, command, container_id, correlation_id, cpu_time_ms, duration_ms, exit_code, host, language, outcome, peak_memory_bytes, program, sandbox_id, security_level, stderr, stdout)"
run -d L event code_execution --language python --actor.name bob
expect_rc "unknown field in an object" 2
expect_err "unknown field in an object: its fields are listed" \
    "--actor.name: actor has no field 'actor.name' (it has: session, uid, user)"
run -d L event code_execution --language python --redacted 3
expect_rc "a derived field is not an option" 2
run -d L event code_execution --language python --exit-code x
expect_rc "wrong kind" 2
expect_err_exactly "wrong kind message" "evident: --exit-code: 'x' is not an integer"
run -d L event container_creation --container-id c --image i --privileged yes
expect_rc "wrong kind, boolean" 2
expect_err_exactly "boolean message" "evident: --privileged: expected true or false, not 'yes'"
run -d L event code_execution --language python --exit-code 4294967296
expect_rc "integer out of range" 2
expect_err "integer out of range names the field" "data.exit_code: 4294967296 is outside -2147483648..2147483647"
run -d L event resource_violation --resource gpu --limit 1 --observed 2 --action killed
expect_rc "enum bad value" 2
expect_err_exactly "enum bad value lists the values" \
    "evident: invalid resource_violation event: malformed input (data.resource: not one of: cpu, memory, disk, pids, wall_time, network, files)"
run -d L event resource_violation --resource cpu --limit 1 --observed 2
expect_rc "missing required" 2
expect_err_exactly "missing required names it" \
    "evident: invalid resource_violation event: malformed input (data.action: required)"
run -d L event code_execution
expect_rc "missing required language" 2
expect_err "missing language" "data.language: required"
run -d L event frobnicate --x 1
expect_rc "unknown type" 2
expect_err "unknown type mentions custom.NAME" "custom types are named 'custom.NAME'"
expect_err "unknown type names it" "unknown event type 'frobnicate'"
run -d L event seal
expect_rc "the engine's seal type" 2
run -d L event custom.deploy --service api
expect_rc "custom type with --field" 2
expect_err "custom type with --field is a usage error" "custom types take their data with --data JSON"
run -d L event custom.deploy --data '{"a":1'
expect_rc "custom type with bad JSON" 2
run -d L event security_event --category c --description d --details '{"a":'
expect_rc "--details not JSON" 2
expect_err "--details not JSON named" "--details: invalid JSON"
run -d L event code_execution --language python --language ruby
expect_rc "a field given twice" 2
expect_err "a field given twice is named" "--language: given twice"
run -d L event system_event --action startup --config-old-sha256 ABC
expect_rc "a bad digest" 2
expect_err "a bad digest is named" "data.config_old_sha256: expected a SHA-256"
expect_size "no error appended anything" 7

# ---- append --type and --jsonl: the same validation --------------------------------------------

run -d L append --type code_execution --data '{"language":"go","exit_code":2}'
expect_rc "append --type code_execution" 0
expect_out_exactly "append --type prints the index" "7"
expect_same "append --type data" "$(data_of 7)" '{"exit_code":2,"language":"go"}'
run -d L append --type code_execution --data '{"language":"go","exit_code":"2"}'
expect_rc "append --type, wrong kind" 2
expect_err "append --type, wrong kind names the field" "data.exit_code: expected an integer"
run -d L append --type code_execution --data '{"language":"go","exitcode":2}'
expect_rc "append --type, unknown field" 2
expect_err "append --type, unknown field named" "data.exitcode: unknown field (code_execution has: actor,"
run -d L append --type security_assessment --data '{"tool":"t","findings":[{"rule_id":"r","severity":"low","line":0}]}'
expect_rc "append --type, nested field out of range" 2
expect_err "append --type, nested path" "data.findings[0].line: 0 is outside 1..2147483647"
run -d L append --type container_creation --data '{"container_id":"c","image":"i","risks":[]}'
expect_rc "append --type, a derived field" 2
expect_err "append --type, a derived field is refused" "data.risks: set by evident, not by producers"
run -d L append --type code_execution
expect_rc "append --type without data" 2
expect_err "append --type without data: language required" "data.language: required"
expect_size "append errors appended nothing" 8

cat >mixed.jsonl <<'EOF'
{"type":"code_execution","data":{"language":"python","exit_code":0}}
{"type":"code_execution","data":{"language":"python","exit_code":"zero"}}
{"type":"custom.note","data":{"text":"first custom"}}
{"type":"resource_violation","data":{"resource":"cpu","limit":1000,"observed":2000,"action":"throttled","pid":-1}}
{"type":"security_event","severity":"critical","data":{"category":"integrity","description":"hash mismatch"}}
{"type":"container_creation","data":{"container_id":"c"}}
{"type":"custom.note","data":{"text":"second custom"}}
EOF
run_in mixed.jsonl -d L append --jsonl
expect_rc "append --jsonl with invalid typed lines exits 3" 3
expect_out_exactly "the valid lines are appended in order" "$(printf '8\n9\n10\n11')"
expect_err "line 2 reported with its field" "line 2: malformed event (data.exit_code: expected an integer)"
expect_err "line 4 reported with its field" "line 4: malformed input (data.pid: -1 is outside 0..2147483647)"
expect_err "line 6 reported with its field" "line 6: malformed input (data.image: required)"
check "exactly three lines reported" test "$(grep -c '^evident: line ' err)" -eq 3
expect_size "four of seven lines appended" 12
check "jsonl line 1 is entry 8" grep -qF '"type":"code_execution"' <("$EVIDENT" -d L entry 8)
expect_same "jsonl line 3 is entry 9" "$(data_of 9)" '{"text":"first custom"}'
check "jsonl line 5 is entry 10, severity kept" \
    grep -qF '"type":"security_event","severity":"critical"' <("$EVIDENT" -d L entry 10)
expect_same "jsonl line 7 is entry 11" "$(data_of 11)" '{"text":"second custom"}'

# ---- secrets never reach the disk --------------------------------------------------------------

AWS=AKIAIOSFODNN7EXAMPLE
GH=ghp_1234567890abcdefghijklmnopqrstuvwxyZ
URLPW=Tr0ub4dor3xyz
printf 'export AWS_ACCESS_KEY_ID=%s\ntoken %s\n' "$AWS" "$GH" >secret-out.txt
run -d L event code_execution --language bash --stdout @secret-out.txt \
    --command "git clone https://deploy:$URLPW@git.example.com/repo.git" \
    --stderr "push with $GH failed"
expect_rc "code_execution with secrets" 0
run -d L event custom.leak --data "{\"aws\":\"$AWS\",\"gh\":\"use $GH\",\"url\":\"https://u:$URLPW@db.example.com/x\",\"nested\":{\"db_password\":\"$URLPW\"}}"
expect_rc "custom type with secrets" 0
printf '{"type":"custom.leak","data":{"note":"%s"}}\n{"type":"security_event","data":{"category":"c","description":"key %s","details":{"k":"%s"}}}\n' \
    "$AWS" "$GH" "https://a:$URLPW@h/" >secrets.jsonl
run_in secrets.jsonl -d L append --jsonl
expect_rc "append --jsonl with secrets" 0
run -d L entry 12
expect_out "the stdout secret is replaced" '"text":"export AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key]\ntoken [REDACTED:github_token]\n"'
expect_out "the command keeps the URL but not its password" 'https://deploy:[REDACTED:url_password]@git.example.com/repo.git'
expect_out "redacted counts the secrets" '"redacted":4'
expect_out "the digest is of the original bytes" "\"sha256\":\"$(sha256sum secret-out.txt | cut -d' ' -f1)\""
run -d L entry 13
expect_out "custom secrets replaced" '"aws":"[REDACTED:aws_access_key]"'
expect_out "custom credential key replaced whole" '"db_password":"[REDACTED:credential]"'
for s in "$AWS" "$GH" "$URLPW"; do
    check "'$s' is in no byte of the log directory" bash -c "! grep -r -a -q -F -- '$s' L"
done
check "'[REDACTED:' is in the log directory" grep -r -a -q -F -- '[REDACTED:' L
# A secret replaced early in a long output shortens the text the sanitizer saw: what is kept
# at level basic (1 KiB) must not reach the edge where the sanitized window was cut, or the
# password below, cut there before its '@', would be written unrecognized.
{
    printf -- '-----BEGIN RSA PRIVATE KEY-----\n'
    for _ in $(seq 137); do printf '%064d\n' 0 | tr 0 A; done
    printf -- '-----END RSA PRIVATE KEY-----\n'
} >long-out.txt
scheme=https://deploy:
edge=$((1024 + 8192 - ${#scheme} - ${#URLPW}))
pad=$((edge - $(wc -c <long-out.txt)))
head -c "$pad" /dev/zero | tr '\0' x >>long-out.txt
printf 'https://deploy:%s@git.example.com/r.git\n' "$URLPW" >>long-out.txt
run -d L event code_execution --language bash --stdout @long-out.txt
expect_rc "a long output with a key block and a URL password" 0
run -d L entry 16
expect_out "the URL password past the key block is replaced" \
    'https://deploy:[REDACTED:url_password]@git.example.com/r.git\n"}'
check "'$URLPW' is still in no byte of the log directory" \
    bash -c "! grep -r -a -q -F -- '$URLPW' L"

# Markers are longer than what they replace: custom data that fits on input may not once
# sanitized, and is refused then, --dry-run included, rather than shown as if it could be
# written.
printf '{"m":"%s"}' "$(for _ in $(seq 2700); do printf 'pwd=x '; done)" >grows.json
run -d L event custom.grow --data "$(cat grows.json)" --dry-run
expect_rc "custom data too big once sanitized is refused" 2
expect_err "custom data too big once sanitized: the message says why" \
    "bytes once canonical and sanitized; with the source and the envelope, over the entry limit of 65535"
expect_no_out "custom data too big once sanitized: nothing printed" "REDACTED"

run -d L event code_execution --language bash --stdout "$AWS" --dry-run
expect_no_out "--dry-run shows the sanitized text" "$AWS"
expect_out "--dry-run shows the marker" '"text":"[REDACTED:aws_access_key]"'

# ---- the log is still sound --------------------------------------------------------------------

expect_size "every append counted" 17
run -d L verify
expect_rc "verify passes" 0
expect_out "verify says so" "verified: log 'L'"

echo "events: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
