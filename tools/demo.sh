#!/usr/bin/env bash
# The README's first command: installs what is missing, builds pdao-standalone and pdaoctl, starts
# the platform on its embedded defaults (SQLite + in-process bus, a dev CA made on first start) and
# walks through registering and grading a resource and taking its registration to CODED, printing
# each step. Leaves the platform's data in $PDAO_DEMO_DIR (default: a new temporary folder).
#
#   PDAO_SKIP_SETUP=1        install nothing (tools/test.sh runs the demo this way after its build)
#   PDAO_BUILD_DIR=DIR       build directory (default: build)
#   PDAO_DEMO_PORT, PDAO_DEMO_METRICS_PORT   fixed ports (default: free loopback ports, picked
#                            again when another process takes one before pdao-standalone binds it)
#
# The replies of pdaoctl are JSON and are read with python3's json module. tools/ci/check-demo.py
# checks what this script prints (tools/test.sh runs both).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${PDAO_BUILD_DIR:-build}
DIR=${PDAO_DEMO_DIR:-$(mktemp -d /tmp/pdao-demo.XXXXXX)}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[[ "${PDAO_SKIP_SETUP:-0}" == 1 ]] || tools/setup/install-deps.sh --no-npm --no-helm
say "building pdao-standalone and pdaoctl (first build takes a few minutes)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target pdao-standalone pdaoctl

STANDALONE="$BUILD/services/standalone/pdao-standalone"
CTL="$BUILD/tools/pdaoctl/pdaoctl"

as() {  # as ROLE SERVICE METHOD JSON: one call with ROLE's certificate; prints the reply
  local role=$1; shift
  "$CTL" --target "127.0.0.1:$PORT" --certs-dir "$DIR/certs" --as "$role" "$@"
}
# The replies are JSON: read them with a JSON parser (python3), never with grep/sed.
json_py() { python3 -c "$1" "${@:2}"; }
JSON_WALK='
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k, x
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
reply = json.load(sys.stdin)
'
field() {  # field KEY < reply: the first value of a field named KEY (depth first); fails if none
  json_py "$JSON_WALK"'
vals = [x for k, x in walk(reply) if k == sys.argv[1]]
if not vals: sys.exit("no field %r in the reply" % sys.argv[1])
print(vals[0] if isinstance(vals[0], str) else json.dumps(vals[0]))' "$1"
}
show() {  # show KEY... < reply: prints "KEY": value for every field named KEY, in reply order
  json_py "$JSON_WALK"'
for k, x in walk(reply):
    if k in sys.argv[1:]: print("  %s: %s" % (json.dumps(k), json.dumps(x)))' "$@"
}
count() {  # count KEY < reply: how many fields are named KEY
  json_py "$JSON_WALK"'
print(sum(1 for k, _ in walk(reply) if k == sys.argv[1]))' "$1"
}
free_port() {  # a loopback port that was free a moment ago (start_standalone retries on a clash)
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts pdao-standalone and waits until it answers. With picked ports, a port taken by another
# process before pdao-standalone binds it means: pick new ports and start again (5 attempts).
start_standalone() {
  local attempt
  for attempt in 1 2 3 4 5; do
    PORT=${PDAO_DEMO_PORT:-$(free_port)}
    METRICS_PORT=${PDAO_DEMO_METRICS_PORT:-$(free_port)}
    PORTAL_PORT=${PDAO_DEMO_PORTAL_PORT:-$(free_port)}
    [[ "$PORT" != "$METRICS_PORT" && "$PORT" != "$PORTAL_PORT" && "$METRICS_PORT" != "$PORTAL_PORT" ]] ||
      continue
    say "starting pdao-standalone --data-dir $DIR (mTLS on 127.0.0.1:$PORT, /metrics on :$METRICS_PORT, public portal on :$PORTAL_PORT)"
    "$STANDALONE" --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
      --metrics-listen "127.0.0.1:$METRICS_PORT" --portal-listen "127.0.0.1:$PORTAL_PORT" \
      --dev-clock 2>"$DIR/standalone.log" &
    PID=$!
    for _ in $(seq 1 200); do
      as implementing_agency dev-clock GetTime >/dev/null 2>&1 && return 0
      kill -0 $PID 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true
    if [[ -z "${PDAO_DEMO_PORT:-}${PDAO_DEMO_METRICS_PORT:-}${PDAO_DEMO_PORTAL_PORT:-}" ]] &&
       grep -qiE 'address already in use|problem binding to port' "$DIR/standalone.log"; then
      echo "a picked port was taken meanwhile (attempt $attempt); picking new ports"
      continue
    fi
    cat "$DIR/standalone.log" >&2
    echo "demo: pdao-standalone did not start (log above)" >&2
    exit 1
  done
  echo "demo: pdao-standalone could not bind free ports in 5 attempts" >&2
  exit 1
}
PID=
trap '[[ -n "$PID" ]] && { kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }' EXIT
start_standalone
grep -h '"pdao-standalone ready"' "$DIR/standalone.log" || true
echo "client certificates for every role: $(ls "$DIR/certs" | grep -c '\.crt$') in $DIR/certs"

say "1. The transport department registers a resource; its grade is the highest field grade (rule 2)"
RES=$(as department registry RegisterResource '{
  "request_id": "demo-bus-arrivals",
  "spec": {"name": "Bus arrivals", "description": "Real-time arrival predictions per stop",
    "fields": [
      {"name": "stop_id", "data_type": "string", "grade": "GRADE_GENERAL", "personal_info_kind": "PERSONAL_INFO_KIND_NONE"},
      {"name": "eta_seconds", "data_type": "int64", "grade": "GRADE_GENERAL", "personal_info_kind": "PERSONAL_INFO_KIND_NONE"},
      {"name": "vehicle_plate", "data_type": "string", "grade": "GRADE_IMPORTANT", "personal_info_kind": "PERSONAL_INFO_KIND_NONE"}],
    "update_frequency": "realtime", "volume_records": 2500000, "source": "RESOURCE_SOURCE_OWN",
    "open_attribute": {"openness": "OPENNESS_CONDITIONAL", "conditions": "transport apps and research"},
    "share_attribute": {"openness": "OPENNESS_UNCONDITIONAL"}}}')
echo "$RES" | show id grade eligible
RID=$(echo "$RES" | field id)

say "2. An operator may not register a department's resource (PERMISSION_DENIED, nothing written)"
as operator registry RegisterResource '{"spec": {"name": "x"}}' || true

say "3. The department records its evidence (存证, rule 7) and applies for FIRST registration"
SHA=$(printf 'Bus arrivals catalog entry v1' | sha256sum | cut -d' ' -f1)
EID=$(as department registry RecordEvidence "{\"content_sha256\": \"$SHA\"}" | field id)
REG=$(as department registry SubmitRegistration "{\"type\": \"REGISTRATION_TYPE_FIRST\",
  \"subject_kind\": \"SUBJECT_KIND_RESOURCE\", \"subject_id\": \"$RID\", \"evidence_id\": \"$EID\"}")
REGID=$(echo "$REG" | field id)
echo "$REG" | show id state accept_due

say "4. The implementing agency accepts, reviews and opens the 10-working-day publicity (rule 6)"
for action in ACCEPT PASS_REVIEW START_PUBLICITY; do
  as implementing_agency registry AdvanceRegistration \
    "{\"registration_id\": \"$REGID\", \"action\": \"ADVANCE_ACTION_$action\"}" |
    show state review_due publicity_start publicity_end
done

say "5. Coding before publicity ends is refused (rule 6)"
as implementing_agency registry AdvanceRegistration \
  "{\"registration_id\": \"$REGID\", \"action\": \"ADVANCE_ACTION_ISSUE_CODE\"}" || true

say "6. The sandbox clock moves 21 days ahead (--dev-clock; never in production)"
as implementing_agency dev-clock AdvanceTime '{"by": "1814400s"}' | show now

say "7. The registration is coded: a query code is issued, valid 3 years (rules 6, 8)"
CODED=$(as implementing_agency registry AdvanceRegistration \
  "{\"registration_id\": \"$REGID\", \"action\": \"ADVANCE_ACTION_ISSUE_CODE\"}")
echo "$CODED" | show state query_code valid_until
CODE=$(echo "$CODED" | field query_code)

say "8. Anyone with a certificate looks the code up and sees only the publicity fields"
as business_entity registry QueryRegistrationCode "{\"query_code\": \"$CODE\"}"

say "9. The resource is now REGISTERED and eligible for authorized operation (rules 2-4)"
as implementing_agency registry CheckEligibility "{\"resource_ids\": [\"$RID\"]}" |
  show eligible grade

say "10. Every action is in the tamper-evident audit log (rules 32-33): the regulator asks who did what"
# The outbox relay and the audit log's group commit run asynchronously: wait for the five entries.
for _ in $(seq 1 50); do
  N=$(as regulator audit Query "{\"object_id\": \"$REGID\"}" | count ingested_at) || N=0
  [[ "$N" -ge 5 ]] && break
  sleep 0.1
done
echo "$N log entries about registration $REGID (submitted, accepted, reviewed, publicity, coded)"
as regulator audit GetCheckpoint '{}' | show tree_size root_hash timestamp

say "11. Anyone can check the log: signed checkpoint, consistency, root recomputed from the entries"
"$CTL" audit verify-log --target "127.0.0.1:$PORT" --certs-dir "$DIR/certs" --as regulator \
  --state "$DIR/verify-log.state"

say "12. Every call is measured: /metrics"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null | grep '^pdao_grpc_server_handled_total' | head -8 ||
  echo "(curl not installed)"

say "13. Anyone, with no certificate, reads the log's signed checkpoint and key on the public portal (C2SP tlog-checkpoint, rules 33, 41)"
echo "portal: http://127.0.0.1:$PORTAL_PORT/log/checkpoint  (tiles under /log/tile/, key at /log/key)"
python3 - "$PORTAL_PORT" <<'PY' || echo "(the portal did not answer)"
import sys, urllib.request
base = "http://127.0.0.1:%s/log/" % sys.argv[1]
for path in ("checkpoint", "key"):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        print("GET /log/%s -> %d" % (path, r.status))
        print(r.read().decode("utf-8"), end="" if path == "checkpoint" else "\n")
PY

say "done: stopping pdao-standalone (SIGTERM drains calls and flushes events)"
kill -TERM $PID; wait $PID || true; PID=; trap - EXIT
tail -n 2 "$DIR/standalone.log"
echo "data and certificates kept in $DIR"
