#!/usr/bin/env bash
# The README's first command: installs what is missing, builds pdao-standalone and pdaoctl, starts
# the platform on its embedded defaults (SQLite + in-process bus, a dev CA made on first start) and
# walks the platform's whole job, printing each step and its rule: registry (a resource registered,
# graded, put to publicity; steps 1-5), authorization (plan, operator, agreement to ACTIVE; 6-10),
# the operator's product put to publicity (11), one move of the sandbox clock past both publicity
# periods and both registrations CODED (12-16), compliance (scenario approved, grant, CheckUsage;
# 17-19, 23), pricing (cap, price, metered use, statement; 20-24), then the audit log, /metrics and
# the public portal (25-29), and the disclosure's year: an annual report FLAGGED against the ledger
# (30), the clock moved to 1 April 2027 so that the 2026 report is published MISSING with an audit
# alert (31), the evaluations (32), the snapshot that discloses them verified (33) and, with
# PDAO_DEMO_BROWSER_CHECK=1, the page checked in headless Chromium (34); then, with March 2026 and
# the year 2026 ended, the rest of pricing: a PUBLIC_GOOD scenario approved and granted (35) and its
# use metered at 0 (36, rule 25), the agreement's distribution rule and March's distribution read by
# the department (37, rule 31), MAR and the 2026 yearly review (38, rules 27, 29; the treasury-yield
# file is written by this script with an illustrative figure), and last the portal's URL and its
# latest snapshot verified (39). Every registry step comes before step
# 31: the registry's holiday calendar covers 2025-2026 only. Leaves the platform's data
# in $PDAO_DEMO_DIR (default: a new temporary folder). A step added at the end is numbered after
# the last one and checked in tools/ci/check-demo.py.
#
#   PDAO_SKIP_SETUP=1        install nothing (tools/test.sh runs the demo this way after its build)
#   PDAO_BUILD_DIR=DIR       build directory (default: build)
#   PDAO_DEMO_PORT, PDAO_DEMO_METRICS_PORT   fixed ports (default: free loopback ports, picked
#                            again when another process takes one before pdao-standalone binds it)
#   PDAO_DEMO_BROWSER_CHECK=1  step 34 runs services/disclosure/testing/portal_checks/
#                            chromium_page.py against the running portal (fails the demo when it
#                            fails or chromium is missing); screenshot in $PDAO_BUILD_DIR/artifacts/
#                            demo/. tools/test.sh sets it; otherwise step 34 says it was skipped
#   PDAO_DEMO_START=RFC3339  where the sandbox clock starts (default 2026-03-02T09:00:00+08:00, a
#                            Monday): the walk's dates (deadlines in working days of the official
#                            holiday calendar, terms, months) do not depend on the day it runs;
#                            steps 30-33 name the years 2025 (reported) and 2026 (missing on
#                            1 April 2027): another start stays in 2026 before 10 March (the
#                            2025 report is then on time; check-demo.py checks it is not late)
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
dev_time() {  # dev_time SECONDS [FORMAT]: the platform's clock (dev-clock) + SECONDS; RFC 3339 UTC,
  # or FORMAT (strftime) in China Standard Time, the zone of civil dates and months (e.g. %Y-%m)
  as implementing_agency dev-clock GetTime | json_py '
import datetime, json, re, sys
now = re.sub(r"\.\d+", "", json.load(sys.stdin)["now"]).replace("Z", "+00:00")
t = datetime.datetime.fromisoformat(now) + datetime.timedelta(seconds=int(sys.argv[1]))
if len(sys.argv) > 2:
    print(t.astimezone(datetime.timezone(datetime.timedelta(hours=8))).strftime(sys.argv[2]))
else:
    print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$@"
}
verify_snapshot() {  # verify_snapshot N: pdaoctl disclosure verify on the portal's snapshot N,
  # once its proof is there (a signed checkpoint covers its audit entry within a second or so)
  local url="http://127.0.0.1:$PORTAL_PORT/snapshots/$1.json"
  for _ in $(seq 1 100); do
    "$CTL" disclosure verify "$url" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$CTL" disclosure verify "$url"
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
      --dev-clock --dev-clock-start "${PDAO_DEMO_START:-2026-03-02T09:00:00+08:00}" \
      --report-sweep-interval 1s --disclosure-agency-org demo-implementing-agency \
      --disclosure-agency-name "City Data Group (implementing agency)" \
      --treasury-yields "$DIR/treasury-yields.csv" \
      2>"$DIR/standalone.log" &
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
# The treasury-yield file (rule 27; format in services/pricing/domain/mar.h) is data the deployment
# supplies: no verified yearly averages ship with the repository (services/pricing/README.md, "Known
# limits"). The demo's file holds one ILLUSTRATIVE figure for 2025 (not an official average), so
# that step 38 computes a MAR for 2026 and shows a year without a yield (2024) refused, never zero.
mkdir -p "$DIR"
cat >"$DIR/treasury-yields.csv" <<'CSV'
# Illustrative figure for the demo only: not the official average 10-year government bond yield.
year,yield_bp
2025,170
CSV
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

# ---- Authorization (rules 11-16): plan, operator, agreement -------------------------------------
# The organizations are the ones the dev CA's role certificates name (spiffe://pdao/org/demo-<role>/
# role/<role>): the operator is demo-operator, the business entity demo-business-entity.
OPS=demo-operator
BIZ=demo-business-entity
TODAY=$(dev_time 0 %Y-%m-%d)

say "6. The implementing agency drafts an implementation plan over the resource (every section of rule 12); the data bureau submits it and the government approves it (rule 13)"
PLAN=$(as implementing_agency authorization CreatePlan "{\"content\": {
  \"title\": \"Public transport data: authorized operation plan\",
  \"mode\": \"AUTHORIZATION_MODE_DOMAIN\", \"mode_subject\": \"transport\",
  \"resource_ids\": [\"$RID\"], \"resource_catalog\": \"city transport data: bus arrivals\",
  \"operator_selection_conditions\": \"legal person; data-security certified\",
  \"authorization_term\": \"2 years\", \"exit_mechanism\": \"exit on revocation; data destroyed within 30 days\",
  \"supervision_and_evaluation\": \"yearly internal audit and evaluation\",
  \"cost_and_revenue_accounting\": \"separate books\", \"revenue_distribution\": \"谁投入、谁贡献、谁受益\",
  \"security_measures\": \"domain isolation, personal information protection, emergency plan\",
  \"products\": [{\"name\": \"Bus ETA API\", \"category\": \"PRODUCT_CATEGORY_COMMERCIAL\"}]}}")
echo "$PLAN" | show plan_id version_number state
PLANID=$(echo "$PLAN" | field plan_id)
as data_bureau authorization SubmitPlan "{\"plan_id\": \"$PLANID\", \"version_number\": 1}" | show state
as government authorization ApprovePlan "{\"plan_id\": \"$PLANID\", \"version_number\": 1,
  \"decision_number\": \"City Gov. Decision 2026-41\", \"decision_date\": \"$TODAY\"}" |
  show state decision_number

say "7. The agency registers the operator, a legal person with its 统一社会信用代码 (check digit verified) and qualifications, and selects it by open tender under the approved plan (rule 14)"
as implementing_agency authorization RegisterOperator "{\"operator\": {
  \"org\": \"$OPS\", \"name\": \"Demo Data Operations Co., Ltd.\", \"credit_code\": \"91220101MA0Y00002K\",
  \"legal_person\": true, \"legal_representative\": \"张三\",
  \"qualification\": {\"management_capability\": true, \"technical_capability\": true,
    \"business_standing\": true, \"credit_standing\": true, \"data_security_compliance\": true,
    \"review_reference\": \"Qualification review 2026-07\"},
  \"affiliate_credit_codes\": [\"91220101MA0Y00003N\"]}}" | show org credit_code state
SEL=$(as implementing_agency authorization SelectOperator "{\"operator_org\": \"$OPS\",
  \"plan_id\": \"$PLANID\", \"plan_version_number\": 1, \"method\": \"SELECTION_METHOD_OPEN_TENDER\",
  \"procurement\": {\"reference\": \"Tender 2026-118\", \"date\": \"$TODAY\", \"summary\": \"one qualified bid\"}}")
echo "$SEL" | show id operator_org method
SELID=$(echo "$SEL" | field id)

say "8. The agency drafts the authorization agreement (2-year term, collective decision; rule 15) and signs it"
AGR=$(as implementing_agency authorization CreateAgreement "{\"operator_org\": \"$OPS\",
  \"selection_id\": \"$SELID\", \"resource_ids\": [\"$RID\"],
  \"term_start\": \"$(dev_time 0)\", \"term_end\": \"$(dev_time $((730 * 86400)))\",
  \"collective_decision\": {\"meeting_reference\": \"Agency board meeting 2026-12\", \"date\": \"$TODAY\",
    \"summary\": \"authorize the operator for the transport domain\"}}")
echo "$AGR" | show id state term_start term_end
AGRID=$(echo "$AGR" | field id)
as implementing_agency authorization SignAgreement "{\"agreement_id\": \"$AGRID\"}" | show state

say "9. Activating an agreement that is not filed is refused (rule 15)"
as implementing_agency authorization ActivateAgreement "{\"agreement_id\": \"$AGRID\"}" || true

say "10. The agency files it with the province and the city, activates it, and the entitlement Check now allows the operator on the resource (rules 15, 16)"
as implementing_agency authorization FileAgreement "{\"agreement_id\": \"$AGRID\",
  \"filing\": {\"province_reference\": \"Province filing 2026-0311\", \"city_reference\": \"City filing 2026-0907\"}}" |
  show state
as implementing_agency authorization ActivateAgreement "{\"agreement_id\": \"$AGRID\"}" | show state
as operator authorization Check "{\"operator_org\": \"$OPS\", \"resource_id\": \"$RID\", \"action\": \"build-product\"}" |
  show decision reason

# ---- The operator's product (rule 10) ------------------------------------------------------------
say "11. While the resource's publicity runs, the operator registers its product built from the resource (lineage; the registry asks authorization that the agreement covers it, rules 10, 16) and applies for FIRST registration; the agency opens publicity"
PROD=$(as operator registry RegisterProduct "{\"spec\": {\"name\": \"Bus ETA API\",
  \"description\": \"Arrival predictions per stop, by API\", \"form\": \"PRODUCT_FORM_INTERFACE\",
  \"use_category\": \"USE_CATEGORY_COMMERCIAL\", \"source_resource_ids\": [\"$RID\"]}}")
echo "$PROD" | show id operator_org status
PRODID=$(echo "$PROD" | field id)
PSHA=$(printf 'Bus ETA API product description v1' | sha256sum | cut -d' ' -f1)
PEID=$(as operator registry RecordEvidence "{\"content_sha256\": \"$PSHA\"}" | field id)
PREG=$(as operator registry SubmitRegistration "{\"type\": \"REGISTRATION_TYPE_FIRST\",
  \"subject_kind\": \"SUBJECT_KIND_PRODUCT\", \"subject_id\": \"$PRODID\", \"evidence_id\": \"$PEID\"}")
PREGID=$(echo "$PREG" | field id)
for action in ACCEPT PASS_REVIEW START_PUBLICITY; do
  as implementing_agency registry AdvanceRegistration \
    "{\"registration_id\": \"$PREGID\", \"action\": \"ADVANCE_ACTION_$action\"}" | show state
done

say "12. The sandbox clock moves 21 days ahead (--dev-clock; never in production): both publicity periods end"
as implementing_agency dev-clock AdvanceTime '{"by": "1814400s"}' | show now

say "13. The resource's registration is coded: a query code is issued, valid 3 years (rules 6, 8)"
CODED=$(as implementing_agency registry AdvanceRegistration \
  "{\"registration_id\": \"$REGID\", \"action\": \"ADVANCE_ACTION_ISSUE_CODE\"}")
echo "$CODED" | show state query_code valid_until
CODE=$(echo "$CODED" | field query_code)

say "14. Anyone with a certificate looks the code up and sees only the publicity fields"
as business_entity registry QueryRegistrationCode "{\"query_code\": \"$CODE\"}"

say "15. The resource is now REGISTERED and eligible for authorized operation (rules 2-4)"
as implementing_agency registry CheckEligibility "{\"resource_ids\": [\"$RID\"]}" |
  show eligible grade

say "16. The product's registration is coded too: the product is CODED and may be sold (rules 6, 8, 10)"
as implementing_agency registry AdvanceRegistration \
  "{\"registration_id\": \"$PREGID\", \"action\": \"ADVANCE_ACTION_ISSUE_CODE\"}" | show state query_code
as operator registry GetProduct "{\"product_id\": \"$PRODID\"}" | show status

# ---- Compliance (rules 19-24): scenario, assessment, grant ---------------------------------------
say "17. A business entity drafts an application scenario through the operator (every part of rule 19) and hands it over; the operator endorses it and submits it to the agency (CC Art. 11)"
SCN=$(as business_entity compliance DraftScenario "{\"applicant_credit_code\": \"91220101MA0Y00001G\",
  \"operator_org\": \"$OPS\", \"content\": {
  \"title\": \"Delivery routing around bus stops\", \"purpose\": \"Plan delivery routes around bus lanes and stops\",
  \"use_category\": \"USE_CATEGORY_COMMERCIAL\",
  \"resources\": [{\"resource_id\": \"$RID\", \"fields\": [\"stop_id\", \"eta_seconds\"]}],
  \"product_ids\": [\"$PRODID\"], \"outputs\": \"route plans, aggregated hourly\",
  \"retention\": {\"period\": \"15552000s\", \"disposal\": \"deleted at the end of the period, deletion logged\"},
  \"personal_information\": {\"handling\": \"PERSONAL_INFO_HANDLING_NOT_INVOLVED\"},
  \"security_measures\": \"processing inside the operation domain only; access logged\",
  \"term_start\": \"$(dev_time 0)\", \"term_end\": \"$(dev_time $((365 * 86400)))\"}}")
echo "$SCN" | show scenario_id applicant_org state
SCNID=$(echo "$SCN" | field scenario_id)
as business_entity compliance SubmitScenario "{\"scenario_id\": \"$SCNID\", \"version_number\": 1}" |
  show state
as operator compliance EndorseScenario "{\"scenario_id\": \"$SCNID\", \"version_number\": 1,
  \"note\": \"fits the agreement's transport domain\"}" | show state

say "18. The agency assesses it against the named rules of rule 20 (facts asked from authorization and the registry, each verdict recorded) and approves it"
as implementing_agency compliance StartAssessment "{\"scenario_id\": \"$SCNID\", \"version_number\": 1}" |
  show state
as implementing_agency compliance AssessScenario "{\"scenario_id\": \"$SCNID\", \"version_number\": 1}" |
  show rule outcome passed
as implementing_agency compliance DecideScenario "{\"scenario_id\": \"$SCNID\", \"version_number\": 1,
  \"approve\": {\"conditions\": [\"outputs stay aggregated hourly\"], \"expires_at\": \"$(dev_time $((300 * 86400)))\"}}" |
  show state expires_at

say "19. The operator grants the business entity the use of its product under the approved scenario (rules 21, 24)"
GRANT=$(as operator compliance CreateGrant "{\"product_id\": \"$PRODID\", \"scenario_id\": \"$SCNID\",
  \"consumer_org\": \"$BIZ\"}")
echo "$GRANT" | show grant_id consumer_org consumer_credit_code state

# ---- Pricing (rules 25-31): cap, price, metering, statement --------------------------------------
say "20. The implementing agency sets the product's price cap (上限收费标准): at most 10 fen per call (rule 26)"
as implementing_agency pricing SetPriceCap "{\"product_id\": \"$PRODID\",
  \"basis\": {\"billing_unit\": \"BILLING_UNIT_PER_CALL\", \"unit_kind\": \"UNIT_KIND_CALL\", \"block_units\": 1},
  \"max_rate_fen\": 10, \"effective_from\": \"$(dev_time 0)\",
  \"decision_reference\": \"Price bureau decision 2026-17\"}" | show cap_id operator_org max_rate_fen

say "21. A price of 12 fen per call, above the cap, is refused (rule 26)"
FROM=$(dev_time 300)
as operator pricing SetPrice "{\"product_id\": \"$PRODID\",
  \"basis\": {\"billing_unit\": \"BILLING_UNIT_PER_CALL\", \"unit_kind\": \"UNIT_KIND_CALL\", \"block_units\": 1},
  \"tiers\": [{\"start_units\": 0, \"rate_fen\": 12}], \"effective_from\": \"$FROM\"}" || true

say "22. The operator sets its actual price (具体收费标准) under the cap: 8 fen per call from 5 minutes on, a trial price in its first year (rule 26); the sandbox clock moves 1 hour"
as operator pricing SetPrice "{\"product_id\": \"$PRODID\",
  \"basis\": {\"billing_unit\": \"BILLING_UNIT_PER_CALL\", \"unit_kind\": \"UNIT_KIND_CALL\", \"block_units\": 1},
  \"tiers\": [{\"start_units\": 0, \"rate_fen\": 8}], \"effective_from\": \"$FROM\"}" |
  show price_id rate_fen stage cap_id
as implementing_agency dev-clock AdvanceTime '{"by": "3600s"}' | show now

say "23. Every use is checked: 5 calls by the business entity under its approved scenario are allowed (rules 21, 24); the same product for a company the grant does not name is denied (rule 24: no pass-through)"
MONTH=$(dev_time 0 %Y-%m)
as operator compliance CheckUsage "{\"product_id\": \"$PRODID\", \"scenario_id\": \"$SCNID\",
  \"consumer_org\": \"$BIZ\", \"operator_org\": \"$OPS\", \"units\": 5, \"unit_kind\": \"UNIT_KIND_CALL\"}" |
  show decision reason usage_event_id
as operator compliance CheckUsage "{\"product_id\": \"$PRODID\", \"scenario_id\": \"$SCNID\",
  \"consumer_org\": \"demo-other-company\", \"operator_org\": \"$OPS\", \"units\": 5, \"unit_kind\": \"UNIT_KIND_CALL\"}" |
  show decision reason

say "24. Pricing meters the allowed use from compliance's usage_recorded event at the price in force into the separate books; the operator's statement for $MONTH shows the revenue and the regulator's reconciliation is clean (rule 30)"
# The event reaches pricing over the bus asynchronously: wait (bounded) for the ledger entry.
for _ in $(seq 1 50); do
  STATEMENT=$(as operator pricing GetStatement "{\"org\": \"$OPS\", \"month\": \"$MONTH\"}") ||
    STATEMENT='{}'
  [[ $(echo "$STATEMENT" | count entry_id) -ge 1 ]] && break
  sleep 0.1
done
echo "$STATEMENT" | show kind balances
as regulator pricing Reconcile "{\"month\": \"$MONTH\"}" | show metered_revenue_fen ledger_revenue_fen clean

say "25. Every action is in the tamper-evident audit log (rules 32-33): the regulator asks who did what"
# The outbox relay and the audit log's group commit run asynchronously: wait for the five entries.
for _ in $(seq 1 50); do
  N=$(as regulator audit Query "{\"object_id\": \"$REGID\"}" | count ingested_at) || N=0
  [[ "$N" -ge 5 ]] && break
  sleep 0.1
done
echo "$N log entries about registration $REGID (submitted, accepted, reviewed, publicity, coded)"
as regulator audit GetCheckpoint '{}' | show tree_size root_hash timestamp

say "26. Anyone can check the log: signed checkpoint, consistency, root recomputed from the entries"
"$CTL" audit verify-log --target "127.0.0.1:$PORT" --certs-dir "$DIR/certs" --as regulator \
  --state "$DIR/verify-log.state"

say "27. Every call is measured: /metrics (here the calls the platform refused, by code and method)"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null | grep '^pdao_grpc_server_handled_total' |
  grep -v 'code="OK"' || echo "(curl not installed)"

say "28. Anyone, with no certificate, reads the log's signed checkpoint and key on the public portal (C2SP tlog-checkpoint, rules 33, 41)"
echo "portal: http://127.0.0.1:$PORTAL_PORT/log/checkpoint  (tiles under /log/tile/, key at /log/key)"
python3 - "$PORTAL_PORT" <<'PY' || echo "(the portal did not answer)"
import sys, urllib.request
base = "http://127.0.0.1:%s/log/" % sys.argv[1]
for path in ("checkpoint", "key"):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        print("GET /log/%s -> %d" % (path, r.status))
        print(r.read().decode("utf-8"), end="" if path == "checkpoint" else "\n")
PY

say "29. The public disclosure (what was authorized and what it earned) is rebuilt from the events, and anyone checks it against the signed audit log (rules 37-41)"
echo "portal: http://127.0.0.1:$PORTAL_PORT/  (snapshots at /snapshots/latest.json)"
# Snapshots are rebuilt at most once a second from the events: wait for one that has the metered
# use of step 24, print what it discloses, then verify exactly that snapshot.
SNAPSHOT=$(python3 - "$PORTAL_PORT" <<'PY'
import json, sys, time, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
snap = {}
for _ in range(150):
    try:
        snap = json.load(urllib.request.urlopen(base + "/snapshots/latest.json", timeout=5))
    except Exception:
        snap = {}
    if any(u.get("revenue_fen") for o in snap.get("operators", []) for u in o.get("uses", [])):
        break
    time.sleep(0.1)
print("snapshot %s, built against the audit log at size %s" %
      (snap.get("sequence"), snap.get("built_from_tree_size")), file=sys.stderr)
for r in snap.get("agency", {}).get("resources", []):
    print("authorized resource %s (%s): %s, operators %s" %
          (r.get("resource_id"), r.get("name"), r.get("registration_status"),
           ",".join(r.get("operator_orgs", []))), file=sys.stderr)
for o in snap.get("operators", []):
    op = o.get("operator", {})
    for a in op.get("agreements", []):
        print("operator %s agreement %s: %s" % (op.get("operator_org"), a.get("agreement_id"),
                                                  a.get("state")), file=sys.stderr)
    for u in o.get("uses", []):
        print("operator %s product %s in %s: %s uses, %s units, revenue %s fen" %
              (op.get("operator_org"), u.get("product_id"), u.get("month"), u.get("uses", 0),
               u.get("units", 0), u.get("revenue_fen", 0)), file=sys.stderr)
print(snap.get("sequence", "latest"))
PY
)
verify_snapshot "$SNAPSHOT"

# ---- Disclosure: reports, evaluations, the missing-report warning (rules 35, 39-41) --------------
AGENCY=demo-implementing-agency
say "30. The operator submits its annual operation report for 2025 (rule 39; due by 31 March 2026): a report whose profit is not revenue - cost is refused; the consistent one claims revenue that pricing's separate books do not have for 2025, so it is published FLAGGED with both values (不得拒绝、隐匿、瞒报)"
report_figures() {  # report_figures PROFIT_FEN: the 2025 figures (revenue 12,000.00 yuan, cost 8,000.00)
  echo "{\"storage_bytes\": 500000000000, \"processing_jobs\": 120, \"analysis_jobs\": 48,
    \"fusion_jobs\": 6, \"contracts\": 3, \"customers\": 12,
    \"cost_fen\": 800000, \"revenue_fen\": 1200000, \"profit_fen\": $1,
    \"sales\": [{\"product_id\": \"$PRODID\", \"revenue_fen\": 1200000, \"units\": 150000}],
    \"mar_deviation_bp\": -150, \"price_changes\": \"none in 2025\"}"
}
as operator disclosure SubmitAnnualReport "{\"request_id\": \"demo-report-2025-bad\",
  \"operator_org\": \"$OPS\", \"year\": 2025, \"figures\": $(report_figures 500000)}" || true
REPORT=$(as operator disclosure SubmitAnnualReport "{\"request_id\": \"demo-report-2025\",
  \"operator_org\": \"$OPS\", \"year\": 2025, \"figures\": $(report_figures 400000)}")
echo "$REPORT" | show operator_org year status due_at late
# proto3 JSON leaves out a zero: a ledger value of 0 is printed as 0.
echo "$REPORT" | json_py '
import json, sys
for f in json.load(sys.stdin)["report"].get("flags", []):
    print("flag %s: reported %s fen, ledger %s fen (%s)" % (f["figure"], f.get("reported", "0"),
                                                        f.get("ledger", "0"), f.get("detail", "")))'

say "31. The sandbox clock moves to 1 April 2027 (every registry step is done: the registry's holiday calendar covers 2025-2026). The operator held an ACTIVE agreement in 2026 and has not reported for it: the sweep (every --report-sweep-interval, here 1s) publishes its 2026 report MISSING and the audit log raises the early warning (rules 35, 39)"
TO_APRIL=$(as implementing_agency dev-clock GetTime | json_py '
import datetime, json, re, sys
now = datetime.datetime.fromisoformat(
    re.sub(r"\.\d+", "", json.load(sys.stdin)["now"]).replace("Z", "+00:00"))
april = datetime.datetime.fromisoformat("2027-04-01T09:00:00+08:00")
print(int((april - now).total_seconds()))')
as implementing_agency dev-clock AdvanceTime "{\"by\": \"${TO_APRIL}s\"}" | show now
for _ in $(seq 1 100); do   # the sweep runs every second: wait (bounded) for the MISSING record
  MISSING=$(as regulator disclosure ListReports '{"year": 2026}') || MISSING='{}'
  echo "$MISSING" | grep -q REPORT_STATUS_MISSING && break
  sleep 0.1
done
echo "$MISSING" | show operator_org year status due_at
for _ in $(seq 1 100); do   # the alert monitor reads the event from the audit log: wait (bounded)
  ALERTS=$(as regulator audit ListAlerts '{}') || ALERTS='{}'
  echo "$ALERTS" | grep -q ALERT_RULE_REPORT_MISSING && break
  sleep 0.1
done
echo "$ALERTS" | json_py '
import json, sys
for a in json.load(sys.stdin).get("alerts", []):
    if a.get("rule") == "ALERT_RULE_REPORT_MISSING":
        print("alert %s %s: %s" % (a["id"], a["rule"], a.get("description", "")))'

say "32. The evaluations of 2026 (rule 40): the implementing agency records its evaluation of the operator (authorization, rule 17); the data bureau records its evaluation of the implementing agency (disclosure)"
as implementing_agency authorization RecordEvaluation "{\"request_id\": \"demo-eval-operator-2026\",
  \"evaluation\": {\"operator_org\": \"$OPS\", \"year\": 2026, \"kind\": \"EVALUATION_KIND_PERFORMANCE\",
    \"result\": \"EVALUATION_RESULT_PASS\",
    \"summary\": \"Bus ETA API operated under the agreement; prices under the cap; 2026 report not submitted\"}}" |
  show operator_org year kind result evaluator_org
as data_bureau disclosure RecordAgencyEvaluation "{\"request_id\": \"demo-eval-agency-2026\",
  \"agency_org\": \"$AGENCY\", \"year\": 2026, \"result\": \"GOOD\",
  \"summary\": \"Plan, selection and agreement by the rules; resources registered before operation\"}" |
  show kind evaluator_org evaluated_org year result

say "33. The next disclosure snapshot publishes the flagged report, the missing report and both evaluations; anyone checks it against the signed audit log (rules 39-41)"
SNAPSHOT=$(python3 - "$PORTAL_PORT" <<'PY'
import json, sys, time, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
def complete(snap):
    status = {(r.get("year"), r.get("status")) for r in snap.get("reports", [])}
    kinds = {e.get("kind") for e in snap.get("evaluations", [])}
    return ((2025, "REPORT_STATUS_FLAGGED") in status and (2026, "REPORT_STATUS_MISSING") in status
            and {"AGENCY_OF_OPERATOR", "DATA_BUREAU_OF_AGENCY"} <= kinds)
snap = {}
for _ in range(150):   # rebuilt at most once a second from the events: wait (bounded)
    try:
        snap = json.load(urllib.request.urlopen(base + "/snapshots/latest.json", timeout=5))
    except Exception:
        snap = {}
    if complete(snap):
        break
    time.sleep(0.1)
print("snapshot %s, built against the audit log at size %s" %
      (snap.get("sequence"), snap.get("built_from_tree_size")), file=sys.stderr)
for r in snap.get("reports", []):
    flags = "; ".join("%s reported %s ledger %s" % (f.get("figure"), f.get("reported", "0"),
                                                     f.get("ledger", "0"))
                      for f in r.get("flags", []))
    print("report %s %s: %s%s" % (r.get("operator_org"), r.get("year"),
                                  r.get("status", "").replace("REPORT_STATUS_", ""),
                                  " (%s)" % flags if flags else ""), file=sys.stderr)
for e in snap.get("evaluations", []):
    print("evaluation %s %s of %s for %s: %s" % (e.get("kind"), e.get("evaluator_org"),
                                                 e.get("evaluated_org"), e.get("year"),
                                                 e.get("result")), file=sys.stderr)
print(snap.get("sequence", "latest"))
PY
)
verify_snapshot "$SNAPSHOT"
echo "portal: http://127.0.0.1:$PORTAL_PORT/ (English: /en/; JSON: /api/index.json; reports: /api/reports.json)"

say "34. The page as a person sees it: headless Chromium loads / and /en/ and checks the DOM against the portal's JSON (both sets, the flagged figure's two values, the missing report, the evaluations, the charts) and saves a screenshot (rule 41)"
if [[ "${PDAO_DEMO_BROWSER_CHECK:-0}" == 1 ]]; then
  rc=0
  python3 services/disclosure/testing/portal_checks/chromium_page.py \
    "http://127.0.0.1:$PORTAL_PORT" "$BUILD/artifacts/demo" || rc=$?
  if ((rc != 0)); then
    echo "demo: the browser check failed (exit $rc; 77 = no chromium installed)" >&2
    exit 1
  fi
else
  echo "browser check skipped: set PDAO_DEMO_BROWSER_CHECK=1 (tools/test.sh does; needs chromium, tools/setup installs it)"
fi

# ---- Pricing, continued (rules 25, 27, 29, 31): a public-good use, distribution, yearly review ---
# After step 31 the sandbox clock is in April 2027: March 2026 (step 24's month) and the year 2026
# have ended, so their distribution and review can be computed. No registry step comes here.
say "35. A public-good use (rule 25): the business entity's second scenario on the same product, stop information for riders with visual impairments, is PUBLIC_GOOD (its term within the agreement's); it is endorsed, assessed against rule 20, approved and granted like the first (rules 19-21, 24), and 3 calls under it are allowed"
PGSCN=$(as business_entity compliance DraftScenario "{\"applicant_credit_code\": \"91220101MA0Y00001G\",
  \"operator_org\": \"$OPS\", \"content\": {
  \"title\": \"Accessible stop announcements\", \"purpose\": \"Spoken arrival times at stops for riders with visual impairments, free of charge\",
  \"use_category\": \"USE_CATEGORY_PUBLIC_GOOD\",
  \"resources\": [{\"resource_id\": \"$RID\", \"fields\": [\"stop_id\", \"eta_seconds\"]}],
  \"product_ids\": [\"$PRODID\"], \"outputs\": \"spoken arrival times per stop\",
  \"retention\": {\"period\": \"86400s\", \"disposal\": \"deleted after one day, deletion logged\"},
  \"personal_information\": {\"handling\": \"PERSONAL_INFO_HANDLING_NOT_INVOLVED\"},
  \"security_measures\": \"processing inside the operation domain only; access logged\",
  \"term_start\": \"$(dev_time 0)\", \"term_end\": \"$(dev_time $((300 * 86400)))\"}}")
echo "$PGSCN" | show scenario_id state
PGSCNID=$(echo "$PGSCN" | field scenario_id)
as business_entity compliance SubmitScenario "{\"scenario_id\": \"$PGSCNID\", \"version_number\": 1}" |
  show state
as operator compliance EndorseScenario "{\"scenario_id\": \"$PGSCNID\", \"version_number\": 1,
  \"note\": \"a public-good use of the transport domain's product\"}" | show state
as implementing_agency compliance StartAssessment "{\"scenario_id\": \"$PGSCNID\", \"version_number\": 1}" |
  show state
as implementing_agency compliance AssessScenario "{\"scenario_id\": \"$PGSCNID\", \"version_number\": 1}" |
  show outcome passed
as implementing_agency compliance DecideScenario "{\"scenario_id\": \"$PGSCNID\", \"version_number\": 1,
  \"approve\": {\"conditions\": [\"free of charge to riders\"], \"expires_at\": \"$(dev_time $((200 * 86400)))\"}}" |
  show state
as operator compliance CreateGrant "{\"product_id\": \"$PRODID\", \"scenario_id\": \"$PGSCNID\",
  \"consumer_org\": \"$BIZ\"}" | show state consumer_org
PGMONTH=$(dev_time 0 %Y-%m)
as operator compliance CheckUsage "{\"product_id\": \"$PRODID\", \"scenario_id\": \"$PGSCNID\",
  \"consumer_org\": \"$BIZ\", \"operator_org\": \"$OPS\", \"units\": 3, \"unit_kind\": \"UNIT_KIND_CALL\"}" |
  show decision usage_event_id

say "36. Pricing meters the public-good use from its usage_recorded event: PUBLIC_GOOD, charged 0 whatever the price in force, and still metered (/metrics counts it); nothing is posted: the operator's statement for $PGMONTH has no entry and the month reconciles clean at 0 fen (rules 25, 30)"
# The event reaches pricing over the bus asynchronously: wait (bounded) for the metered use.
METERED=$(python3 - "$METRICS_PORT" <<'PY'
import sys, time, urllib.request
url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
counts = {}
for _ in range(100):
    counts = {}
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode("utf-8")
    except Exception:
        text = ""
    for line in text.splitlines():
        if line.startswith("pdao_pricing_usage_metered_total{"):
            labels, value = line.rsplit(" ", 1)
            state = labels.split('state="', 1)[1].split('"', 1)[0] if 'state="' in labels else "?"
            counts[state] = counts.get(state, 0) + int(float(value))
    if counts.get("public_good", 0) >= 1:
        break
    time.sleep(0.1)
print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))
PY
)
echo "pdao_pricing_usage_metered_total: $METERED"
as operator pricing GetStatement "{\"org\": \"$OPS\", \"month\": \"$PGMONTH\"}" | json_py '
import json, sys
print("operator statement for %s: %d entries" % (sys.argv[1], len(json.load(sys.stdin).get("entries", []))))' "$PGMONTH"
# proto3 JSON leaves out zeros and false: print them as 0 / false.
as regulator pricing Reconcile "{\"month\": \"$PGMONTH\"}" | json_py '
import json, sys
r = json.load(sys.stdin)
print("reconcile %s: metered revenue %s fen, ledger revenue %s fen, clean %s" % (
    r.get("month"), r.get("metered_revenue_fen", "0"), r.get("ledger_revenue_fen", "0"),
    json.dumps(r.get("clean", False))))'

say "37. The distribution rule of the agreement (rule 31; 谁投入、谁贡献、谁受益): shares in basis points that do not sum to 10,000 are refused; the department 40 %, the operator 45 % and the implementing agency 15 % are recorded; the distribution of $MONTH is computed from the ledger's revenue and posted, and the department reads its share and the postings behind it"
AGENCY_ORG=demo-implementing-agency
DEPT=demo-department
AGR_START=$(echo "$AGR" | field term_start)
dist_rule() {  # dist_rule DEPT_BP OPERATOR_BP AGENCY_BP
  echo "{\"agreement_id\": \"$AGRID\", \"operator_org\": \"$OPS\", \"shares\": [
    {\"contributor_org\": \"$DEPT\", \"role\": \"CONTRIBUTOR_ROLE_DEPARTMENT\", \"share_bp\": $1},
    {\"contributor_org\": \"$OPS\", \"role\": \"CONTRIBUTOR_ROLE_OPERATOR\", \"share_bp\": $2},
    {\"contributor_org\": \"$AGENCY_ORG\", \"role\": \"CONTRIBUTOR_ROLE_IMPLEMENTING_AGENCY\", \"share_bp\": $3}],
    \"basis\": \"Agreement clause 9: revenue distribution\", \"effective_from\": \"$AGR_START\"}"
}
as implementing_agency pricing SetDistributionRule "{\"request_id\": \"demo-dist-rule-bad\",
  \"rule\": $(dist_rule 4000 4500 1000)}" || true
as implementing_agency pricing SetDistributionRule "{\"request_id\": \"demo-dist-rule\",
  \"rule\": $(dist_rule 4000 4500 1500)}" | show contributor_org share_bp version
as implementing_agency pricing ComputeDistribution "{\"request_id\": \"demo-dist-$MONTH\",
  \"agreement_id\": \"$AGRID\", \"month\": \"$MONTH\"}" | show month total_fen contributor_org amount_fen
as department pricing GetDistribution "{\"agreement_id\": \"$AGRID\", \"month\": \"$MONTH\"}" | json_py '
import json, sys
r = json.load(sys.stdin)
d = r.get("distribution", {})
for p in d.get("parts", []):
    print("share of %s: %s bp of %s fen = %s fen (entry %s)" % (
        p["contributor_org"], p.get("share_bp", "0"), d.get("total_fen", "0"),
        p.get("amount_fen", "0"), p.get("entry_id", "")))
for e in r.get("entries", []):
    for q in e.get("postings", []):
        side = "debit" if int(q.get("debit_fen", 0)) else "credit"
        print("posting %s: %s %s %s fen" % (e["entry_id"], side, q["account"],
                                            q.get("debit_fen") or q.get("credit_fen", "0")))'

say "38. The yearly review of 2026 (rules 27, 29): MAR inputs for a period whose prior year has no treasury yield are refused (never zero); the 2026 inputs give a MAR from the 2025 yield (illustrative file, see the script); the review compares the ledger's 2026 revenue with it and classifies the deviation"
mar_inputs() {  # mar_inputs FIRST LAST: the MAR inputs of the operator for months FIRST..LAST
  echo "{\"operator_org\": \"$OPS\", \"cycle_id\": \"demo-cycle-$1\",
    \"period\": {\"first_month\": \"$1\", \"last_month\": \"$2\"},
    \"operating_cost_fen\": 34, \"subsidies_fen\": 0, \"tax_fen\": 2, \"profit_rate_bp\": 500}"
}
as implementing_agency pricing SetMarInputs "{\"request_id\": \"demo-mar-2025\",
  \"inputs\": $(mar_inputs 2025-01 2025-12)}" || true
as implementing_agency pricing SetMarInputs "{\"request_id\": \"demo-mar-2026\",
  \"inputs\": $(mar_inputs 2026-01 2026-12)}" | show operating_cost_fen tax_fen profit_rate_bp
as implementing_agency pricing ComputeMar "{\"request_id\": \"demo-mar-2026-compute\",
  \"operator_org\": \"$OPS\", \"period\": {\"first_month\": \"2026-01\", \"last_month\": \"2026-12\"}}" |
  show yield_year yield_bp rate_cap_bp allowed_profit_fen gross_fen mar_fen
as implementing_agency pricing RunYearlyReview "{\"request_id\": \"demo-review-2026\",
  \"operator_org\": \"$OPS\", \"year\": 2026}" |
  show mar_fen actual_revenue_fen deviation_fen deviation_bp outcome task_assignee due_date excess_to_deduct_fen

say "39. The public portal shows all of the above; anyone verifies its latest snapshot against the signed audit log (rule 41)"
echo "portal: http://127.0.0.1:$PORTAL_PORT/ (English: /en/; JSON: /api/index.json; DCAT-AP: /dcat/catalog.jsonld; Atom: /feed.atom)"
verify_snapshot latest

say "done: stopping pdao-standalone (SIGTERM drains calls and flushes events)"
kill -TERM $PID; wait $PID || true; PID=; trap - EXIT
tail -n 2 "$DIR/standalone.log"
echo "data and certificates kept in $DIR"
