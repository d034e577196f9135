#!/usr/bin/env bash
# A short tour of evident on a local directory: start evidentd, record sample
# security events through it (Unix socket, HTTP, syslog), stop it, verify the
# log, prove one entry offline, then damage a copy and watch verification
# catch it.
#
#   scripts/demo.sh [EVIDENT [EVIDENTD]]   (default build/src/cli/evident and
#                                           build/src/daemon/evidentd)
set -euo pipefail
evident=$(realpath "${1:-build/src/cli/evident}")
evidentd=$(realpath "${2:-build/src/daemon/evidentd}")
work=${EVIDENT_DEMO_DIR:-$(mktemp -d /tmp/evident-demo.XXXXXX)}
mkdir -p "$work"
log=$work/audit
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

say "Create a log (the verification key is shown once: an auditor keeps it off this host)"
run "$evident" -d "$log" init --origin demo.example/audit --seal-interval 1s \
    --verification-key-file "$work/verification.key"

say "Start evidentd, the daemon producers write to (Unix socket, HTTP, syslog)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(port)
syslog_port=$(port)
token=$("$evident" token new 2>/dev/null)
token_hash=$(printf '%s' "$token" | "$evident" token hash)
cat >"$work/evidentd.yaml" <<YAML
log:
  dir: $log
server:
  unix_socket: $work/evidentd.sock
  http_listen: ["127.0.0.1:$http_port"]
  syslog_tcp: 127.0.0.1:$syslog_port
  writer_tokens: ["$token_hash"]
YAML
cat "$work/evidentd.yaml"
printf '$ %s &\n' "$evidentd --config $work/evidentd.yaml"
"$evidentd" --config "$work/evidentd.yaml" 2>"$work/evidentd.err" &
daemon=$!
trap 'kill -9 $daemon 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
run curl -s "http://127.0.0.1:$http_port/healthz"
echo

say "Record security events through it (typed: validated, levels and secret sanitization applied)"
ev() { run "$evident" -c "$work/evidentd.yaml" "$@"; }
ev event code_execution --language python --code 'print(open("/etc/passwd").read())' \
    --sandbox-id sbx-42 --exit-code 0 --duration-ms 84 --actor.user agent-7 \
    --stdout 'connecting with AWS key AKIAIOSFODNN7EXAMPLE'
ev event container_creation --container-id c0ffee --image python:3.12-slim \
    --privileged true --cap-add SYS_ADMIN --mounts '{"source":"/var/run/docker.sock","destination":"/var/run/docker.sock","type":"bind"}'
cat >"$work/events.jsonl" <<'JSONL'
{"type":"security_assessment","data":{"tool":"bandit","target":"app/","findings":[{"rule_id":"B602","severity":"high","cwe":78,"file":"app/run.py","line":12,"message":"subprocess call with shell=True"}]}}
{"type":"resource_violation","data":{"resource":"memory","limit":536870912,"observed":612368384,"unit":"bytes","action":"killed","sandbox_id":"sbx-42"}}
JSONL
printf '$ %s < events.jsonl\n' "$evident -c $work/evidentd.yaml append --jsonl"
"$evident" -c "$work/evidentd.yaml" append --jsonl <"$work/events.jsonl"
body='{"type":"security_event","severity":"critical","data":{"category":"authorization","description":"sudo denied for uid 1001","outcome":"denied"}}'
printf '$ curl -H "Authorization: Bearer $TOKEN" --data %s http://127.0.0.1:%s/v1/events\n' \
    "'$body'" "$http_port"
curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data "$body" \
    "http://127.0.0.1:$http_port/v1/events"
echo
run logger --tcp --server 127.0.0.1 --port "$syslog_port" -t sshd -p auth.warning \
    "Failed password for invalid user admin from 203.0.113.9 port 52211 ssh2"
sleep 1.5

say "Read it back over HTTP: the signed checkpoint and the daemon's metrics"
run curl -s "http://127.0.0.1:$http_port/v1/checkpoint"
curl -s "http://127.0.0.1:$http_port/metrics" |
    grep -E '^evident_(events_total\{.*\} [1-9]|tree_size|fdatasync_seconds_count)' || true

say "Stop the daemon: SIGTERM commits, seals, checkpoints and exits 0"
run kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
trap - EXIT
cat "$work/evidentd.err"
echo "evidentd exited with status $status"
run "$evident" -d "$log" log

say "Verify: with the public key, then with the auditor's verification key"
run "$evident" -d "$log" verify
run "$evident" -d "$log" verify --verification-key-file "$work/verification.key"

say "Summarize, and write an audit report that carries its own checkpoint and verification"
run "$evident" -d "$log" summary
run "$evident" -d "$log" report --format html --out "$work/audit-report.html"
echo "open $work/audit-report.html in a browser (one self-contained file)"

say "Prove entry 2 offline, without the log"
run "$evident" -d "$log" prove 2 >"$work/entry2.tlog-proof"
"$evident" -d "$log" entry 2 >"$work/entry2.json"
cat "$work/entry2.tlog-proof"
run "$evident" verify-proof --pubkey "$("$evident" -d "$log" pubkey)" \
    "$work/entry2.tlog-proof" "$work/entry2.json"

say "Damage a copy: change one byte of a recorded event"
cp -a "$log" "$work/damaged"
seg=$(ls "$work/damaged/segments/"*.seg | head -n 1)
offset=$(grep -boa 'sbx-42' "$seg" | head -n 1 | cut -d: -f1)
printf 'x' | dd of="$seg" bs=1 seek="$offset" conv=notrunc status=none
echo "changed 'sbx-42' to 'xbx-42' at byte $offset of $(basename "$seg")"
set +e
run "$evident" -d "$work/damaged" verify --verification-key-file "$work/verification.key"
status=$?
set -e
echo "exit status $status (1 = verification failed)"

say "Damage another copy like a careful attacker: fix the record checksum too"
echo "(the tag, keyed by a key erased long ago, and the signed root still catch it)"
cp -a "$log" "$work/forged"
seg=$(ls "$work/forged/segments/"*.seg | head -n 1)
python3 - "$seg" <<'PY' 2>/dev/null || echo "(python3 not available: skipped)"
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
def crc32c(buf, crc=0):
    crc ^= 0xffffffff
    for b in buf:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
    return crc ^ 0xffffffff
off = 32
while off < len(data):
    n = struct.unpack_from('<I', data, off)[0]
    entry = bytes(data[off + 12: off + 12 + n])
    if b'sbx-42' in entry:
        i = off + 12 + entry.index(b'sbx-42')
        data[i:i + 6] = b'sbx-43'
        crc = crc32c(bytes(data[off + 8: off + 12 + n + 32]), crc32c(bytes(data[off: off + 4])))
        struct.pack_into('<I', data, off + 4, crc)
        break
    off += 44 + n
open(path, 'wb').write(data)
PY
set +e
run "$evident" -d "$work/forged" verify --verification-key-file "$work/verification.key"
status=$?
set -e
echo "exit status $status (1 = verification failed)"

say "Done. The demo log is in $log"
