#!/usr/bin/env bash
# Runs the PDAO services as separate processes on one machine, as a platform engineer would without
# Docker (docs/operations.md "Running the separate services on one machine"):
#   Redis 7 with AOF (appendonly yes, appendfsync everysec, noeviction) on 127.0.0.1,
#   a single-node KRaft Kafka broker from the jars tools/kafka/fetch.sh resolves, on 127.0.0.1,
#   a dev CA (pdaoctl certs init) and one --tls-dir per service assembled from it:
#     ca.pem, server-<svc>.crt/.key as server.crt/.key (serverAuth), service-<svc>.crt/.key as
#     client.crt/.key (the service's own identity when it calls another service),
#   pdao-registry, pdao-authorization, pdao-compliance, pdao-pricing, pdao-audit and
#   pdao-disclosure (each one that is built; registry, authorization and audit are required), each
#   with its own --listen, --health-listen and --metrics-listen port and the --<svc>-target of
#   every service it calls, all on Redis and Kafka; pdao-disclosure also serves the public portal.
#
# usage: tools/ops/run-separate.sh [--build DIR] [--work DIR] [--base-port N|auto] [--check]
#   --build DIR      the CMake build directory with the binaries (default: build)
#   --work DIR       where data, logs, certificates and the broker live (default: a new temp dir,
#                    removed on exit after a passing --check)
#   --base-port N    first of the ports used (default 18400): Redis N, Kafka N+1 (controller N+2),
#                    then per service API N+10+i, health N+20+i, metrics N+30+i, the portal N+40;
#                    auto: a random base whose 41 ports are all free, below the kernel's ephemeral
#                    port range (what the CI test uses; tests pick their ports in that range)
#   --check          the platform engineer's smoke test: start everything, then through the PDAO_*
#                    environment (pdaoctl) read audit's signed checkpoint, register a resource at
#                    the registry as the department and wait (bounded, 60 s) until its entry is in
#                    the audit log (audit Query by object id: registry → outbox → Kafka → audit),
#                    check the disclosure portal answers, stop everything; exit 0 only if all
#                    passed (on failure the tail of each log is printed)
# Without --check it prints how to reach the services and runs until Ctrl-C; it stops every process
# it started (by PID) on exit. Needs redis-server, Java 17, Maven (for fetch.sh, once), python3
# and curl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${root}/build"
work=""
base=18400
check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-separate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
made_work=0
if [[ -z "${work}" ]]; then work="$(mktemp -d "${TMPDIR:-/tmp}/pdao-separate.XXXXXX")"; made_work=1; fi
if [[ "${base}" == auto ]]; then
  # A random base whose 41 ports are all free (nothing listening), below the kernel's ephemeral
  # range: the test harness (common/testing/ports.h) and every outgoing connection take their ports
  # from that range, so a base inside it could see its Kafka controller port taken by a concurrently
  # running test between this check and the broker's bind (CI stop 16: the broker died on a taken
  # port and the script waited 240 s for it).
  ephemeral_low=32768
  read -r ephemeral_low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$(( (ephemeral_low - 100 - 10000) / 100 ))
  (( span > 0 )) || span=1
  for _ in $(seq 1 50); do
    base=$((10000 + RANDOM % span * 100))
    free=1
    for (( p=base; p<=base+40; p++ )); do
      if (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then free=0; break; fi
    done
    (( free )) && break
  done
  (( free )) || { echo "run-separate.sh: no free port range found" >&2; exit 2; }
fi
[[ "${base}" =~ ^[0-9]+$ ]] && (( base >= 1024 && base <= 65000 )) ||
  { echo "run-separate.sh: --base-port must be 1024..65000 or auto, not ${base}" >&2; exit 2; }
mkdir -p "${work}/logs"

bin() {  # path of a built binary, or empty
  local f
  for f in "${build}/services/$1/pdao-$1" "${build}/tools/pdaoctl/$1"; do
    [[ -x "${f}" ]] && { echo "${f}"; return; }
  done
}
pdaoctl="$(bin pdaoctl)"
[[ -n "${pdaoctl}" ]] || { echo "run-separate.sh: no pdaoctl in ${build} (cmake --build ${build} --target pdaoctl)" >&2; exit 2; }
services=()
all_services=(registry authorization compliance pricing audit disclosure)
for svc in "${all_services[@]}"; do
  if [[ -n "$(bin "${svc}")" ]]; then services+=("${svc}"); else echo "run-separate.sh: pdao-${svc} not built, skipped" >&2; fi
done
for needed in registry authorization audit; do
  [[ " ${services[*]} " == *" ${needed} "* ]] || { echo "run-separate.sh: pdao-${needed} is required (cmake --build ${build} --target pdao-${needed})" >&2; exit 2; }
done

pids=()
passed=0
stop_one() {  # TERM, then up to 30 s for it to exit, then KILL (a process never hangs the script)
  local pid=$1 deadline=$((SECONDS + 30))
  kill -TERM "${pid}" 2>/dev/null || return 0
  while kill -0 "${pid}" 2>/dev/null; do
    if (( SECONDS > deadline )); then
      echo "run-separate.sh: PID ${pid} did not exit 30 s after SIGTERM; killed" >&2
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "${pid}" 2>/dev/null || true
}
stop_all() {  # the services first (together), then Kafka, then Redis: pids[0] is Redis, [1] Kafka
  local i
  for (( i=${#pids[@]}-1; i>=2; i-- )); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for (( i=${#pids[@]}-1; i>=0; i-- )); do stop_one "${pids[i]}"; done
  if (( check && passed && made_work )); then rm -rf "${work}"; fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_port() {  # host port seconds what log pid: fails at once when the process to listen (pid) died
  local deadline=$((SECONDS + $3)) pid="$6"
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      echo "run-separate.sh: $4 (PID ${pid}) exited before listening on $1:$2; from $5:" >&2
      { grep -m 5 -E 'ERROR|FATAL|Caused by|BindException|Address already in use' "$5"; echo ...
        tail -n 10 "$5"; } >&2 || true
      exit 1
    fi
    if (( SECONDS > deadline )); then
      echo "run-separate.sh: $4 not listening on $1:$2 after $3 s; the tail of $5:" >&2
      tail -n 30 "$5" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# --- Redis with AOF
redis_port=${base}
mkdir -p "${work}/redis"
redis-server --bind 127.0.0.1 --port "${redis_port}" --dir "${work}/redis" --appendonly yes \
  --appendfsync everysec --maxmemory-policy noeviction --save "" --daemonize no \
  > "${work}/logs/redis.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "${redis_port}" 20 redis "${work}/logs/redis.log" "${pids[0]}"

# --- Kafka (KRaft, one node, loopback listeners)
kafka_port=$((base + 1)); controller_port=$((base + 2))
libs="$("${root}/tools/kafka/fetch.sh")"
java_cp=(java -Xms128m -Xmx512m -Djava.awt.headless=true -cp "${libs}/*")
mkdir -p "${work}/kafka"
cat > "${work}/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${controller_port}
listeners=PLAINTEXT://127.0.0.1:${kafka_port},CONTROLLER://127.0.0.1:${controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:${kafka_port},CONTROLLER://127.0.0.1:${controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${work}/kafka/data
num.partitions=6
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
if [[ ! -f "${work}/kafka/data/meta.properties" ]]; then
  cluster_id="$("${java_cp[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  "${java_cp[@]}" kafka.tools.StorageTool format -t "${cluster_id}" \
    -c "${work}/kafka/server.properties" --standalone > "${work}/logs/kafka-format.log" 2>&1
fi
"${java_cp[@]}" kafka.Kafka "${work}/kafka/server.properties" > "${work}/logs/kafka.log" 2>&1 &
pids+=($!)
# The JVM can take long to start on a loaded 2-core machine (90 s was once not enough with a build
# and other tests running); the test harness is as patient.
wait_port 127.0.0.1 "${kafka_port}" 240 kafka "${work}/logs/kafka.log" "${pids[1]}"

# --- Certificates: a dev CA and one tls dir per service
"${pdaoctl}" certs init --dir "${work}/certs" > "${work}/logs/certs.log"
for svc in "${services[@]}"; do
  tls="${work}/tls/${svc}"
  mkdir -p "${tls}"
  cp "${work}/certs/ca.pem" "${tls}/ca.pem"
  cp "${work}/certs/server-${svc}.crt" "${tls}/server.crt"
  cp "${work}/certs/server-${svc}.key" "${tls}/server.key"
  cp "${work}/certs/service-${svc}.crt" "${tls}/client.crt"
  cp "${work}/certs/service-${svc}.key" "${tls}/client.key"
  chmod 0600 "${tls}"/*.key
done

# --- The services
declare -A api svc_pid
i=0
for svc in "${all_services[@]}"; do api[${svc}]=$((base + 10 + i)); i=$((i + 1)); done
portal_port=$((base + 40))
target() { echo "--$1-target" "127.0.0.1:${api[$1]}"; }
i=0
for svc in "${all_services[@]}"; do
  if [[ " ${services[*]} " != *" ${svc} "* ]]; then i=$((i + 1)); continue; fi
  args=(--listen "127.0.0.1:${api[${svc}]}" --health-listen "127.0.0.1:$((base + 20 + i))"
        --metrics-listen "127.0.0.1:$((base + 30 + i))" --tls-dir "${work}/tls/${svc}"
        --data-dir "${work}/data/${svc}" --redis "127.0.0.1:${redis_port}"
        --kafka "127.0.0.1:${kafka_port}" --kafka-partitions 6 --kafka-replication-factor 1)
  # The services each one calls (its --<svc>-target flags; `pdao-<svc> --help` lists them).
  case "${svc}" in
    registry) args+=($(target authorization)) ;;
    authorization) args+=($(target registry)) ;;
    compliance) args+=($(target registry) $(target authorization) $(target audit)) ;;
    pricing) args+=($(target registry) $(target authorization)) ;;
    audit) args+=(--audit-dir "${work}/audit") ;;
    disclosure) args+=($(target audit) $(target authorization) $(target pricing)
                       --portal-listen "127.0.0.1:${portal_port}") ;;
  esac
  mkdir -p "${work}/data/${svc}"
  "$(bin "${svc}")" "${args[@]}" > "${work}/logs/${svc}.log" 2>&1 &
  pids+=($!)
  svc_pid[${svc}]=$!
  i=$((i + 1))
done
for svc in "${services[@]}"; do
  wait_port 127.0.0.1 "${api[${svc}]}" 60 "pdao-${svc}" "${work}/logs/${svc}.log" "${svc_pid[${svc}]}"
done

export PDAO_TARGET="127.0.0.1:${api[audit]}" PDAO_CERTS_DIR="${work}/certs" PDAO_AS=regulator
if (( check )); then
  fail() {
    echo "run-separate.sh --check FAILED: $*" >&2
    for f in "${work}"/logs/*.log; do echo "--- tail of ${f}" >&2; tail -n 15 "${f}" >&2; done
    exit 1
  }
  json_field() {  # json_field KEY < reply: the first value of a field named KEY (depth first)
    python3 -c '
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k, x
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
vals = [x for k, x in walk(json.load(sys.stdin)) if k == sys.argv[1]]
print(vals[0] if vals else "")' "$1"
  }
  echo "check 1: audit's signed checkpoint (pdaoctl audit GetCheckpoint as regulator)"
  "${pdaoctl}" audit GetCheckpoint '{}' || fail "audit GetCheckpoint"
  echo "check 2: a write through the registry (RegisterResource as department)"
  reply="$(PDAO_TARGET="127.0.0.1:${api[registry]}" PDAO_AS=department "${pdaoctl}" registry \
    RegisterResource '{"request_id": "run-separate-check",
      "spec": {"name": "Smoke test", "description": "run-separate.sh --check",
        "fields": [{"name": "id", "data_type": "string", "grade": "GRADE_GENERAL",
                    "personal_info_kind": "PERSONAL_INFO_KIND_NONE"}],
        "update_frequency": "daily", "volume_records": 1, "source": "RESOURCE_SOURCE_OWN",
        "open_attribute": {"openness": "OPENNESS_UNCONDITIONAL"},
        "share_attribute": {"openness": "OPENNESS_UNCONDITIONAL"}}}')" ||
    fail "registry RegisterResource"
  rid="$(json_field id <<< "${reply}")"
  [[ -n "${rid}" ]] || fail "no resource id in the reply: ${reply}"
  echo "  resource ${rid}"
  echo "check 3: its entry in the audit log (audit Query by object id, up to 60 s)"
  deadline=$((SECONDS + 60))
  while :; do
    entries="$("${pdaoctl}" audit Query "{\"object_id\": \"${rid}\"}" 2>/dev/null || echo '{}')"
    source="$(json_field source <<< "${entries}")"
    [[ -n "${source}" ]] && break
    (( SECONDS <= deadline )) || fail "no audit entry for resource ${rid} after 60 s"
    sleep 0.2
  done
  index="$(json_field index <<< "${entries}")"
  echo "  found: entry ${index:-0} from ${source}"
  if [[ " ${services[*]} " == *" disclosure "* ]]; then
    echo "check 4: the disclosure portal answers (GET /api/agency.json)"
    deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null "http://127.0.0.1:${portal_port}/api/agency.json"; do
      (( SECONDS <= deadline )) || fail "the portal on 127.0.0.1:${portal_port} did not answer"
      sleep 0.2
    done
  fi
  echo "run-separate.sh --check: OK (${services[*]})"
  passed=1
  exit 0
fi
cat <<INFO
PDAO is running in ${work} (logs in ${work}/logs). Redis 127.0.0.1:${redis_port} (AOF),
Kafka 127.0.0.1:${kafka_port}. Services (mTLS API / health / metrics):
INFO
i=0
for svc in "${all_services[@]}"; do
  [[ " ${services[*]} " == *" ${svc} "* ]] &&
    echo "  pdao-${svc}  127.0.0.1:${api[${svc}]}  127.0.0.1:$((base + 20 + i))  http://127.0.0.1:$((base + 30 + i))/metrics"
  i=$((i + 1))
done
[[ " ${services[*]} " == *" disclosure "* ]] && echo "  public portal  http://127.0.0.1:${portal_port}/"
cat <<INFO
Try:
  export PDAO_CERTS_DIR=${work}/certs
  PDAO_TARGET=127.0.0.1:${api[audit]} PDAO_AS=regulator ${pdaoctl} audit GetCheckpoint
  PDAO_TARGET=127.0.0.1:${api[registry]} PDAO_AS=department ${pdaoctl} methods
Ctrl-C stops everything.
INFO
wait
