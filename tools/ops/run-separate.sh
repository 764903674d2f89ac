#!/usr/bin/env bash
# Runs the PDAO services as separate processes on one machine, as a platform engineer would without
# Docker (docs/operations.md "Running the separate services on one machine"):
#   Redis 7 with AOF (appendonly yes, appendfsync everysec, noeviction) on 127.0.0.1,
#   a single-node KRaft Kafka broker from the jars tools/kafka/fetch.sh resolves, on 127.0.0.1,
#   a dev CA (pdaoctl certs init) and one --tls-dir per service assembled from it:
#     ca.pem, server-<svc>.crt/.key as server.crt/.key (serverAuth), service-<svc>.crt/.key as
#     client.crt/.key (the service's own identity when it calls another service),
#   pdao-registry, pdao-authorization, pdao-compliance (when built) and pdao-audit, each with its
#   own --listen, --health-listen and --metrics-listen port, all on Redis and Kafka.
#
# usage: tools/ops/run-separate.sh [--build DIR] [--work DIR] [--base-port N] [--check]
#   --build DIR      the CMake build directory with the binaries (default: build)
#   --work DIR       where data, logs, certificates and the broker live (default: a new temp dir)
#   --base-port N    first of the ports used (default 18400): Redis N, Kafka N+1 (controller N+2),
#                    then per service API N+10+i, health N+20+i, metrics N+30+i
#   --check          start everything, call `pdaoctl audit GetCheckpoint` through the PDAO_*
#                    environment, stop everything and exit with that call's status (a smoke test)
# Without --check it prints how to reach the services and runs until Ctrl-C; it stops every process
# it started (by PID) on exit. Needs redis-server, Java 17 and Maven (for fetch.sh, once).
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
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-separate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "${work}" ]] || work="$(mktemp -d "${TMPDIR:-/tmp}/pdao-separate.XXXXXX")"
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
for svc in registry authorization compliance audit; do
  if [[ -n "$(bin "${svc}")" ]]; then services+=("${svc}"); else echo "run-separate.sh: pdao-${svc} not built, skipped" >&2; fi
done
for needed in registry authorization audit; do
  [[ " ${services[*]} " == *" ${needed} "* ]] || { echo "run-separate.sh: pdao-${needed} is required (cmake --build ${build} --target pdao-${needed})" >&2; exit 2; }
done

pids=()
stop_all() {
  local i
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for (( i=${#pids[@]}-1; i>=0; i-- )); do wait "${pids[i]}" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_port() {  # host port seconds what
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    if (( SECONDS > deadline )); then echo "run-separate.sh: $4 not listening on $1:$2 after $3 s (log: ${work}/logs)" >&2; exit 1; fi
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
wait_port 127.0.0.1 "${redis_port}" 20 redis

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
wait_port 127.0.0.1 "${kafka_port}" 90 kafka

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
declare -A api
i=0
for svc in registry authorization compliance audit; do api[${svc}]=$((base + 10 + i)); i=$((i + 1)); done
targets=(--registry-target "127.0.0.1:${api[registry]}"
         --authorization-target "127.0.0.1:${api[authorization]}")
i=0
for svc in registry authorization compliance audit; do
  if [[ " ${services[*]} " != *" ${svc} "* ]]; then i=$((i + 1)); continue; fi
  args=(--listen "127.0.0.1:${api[${svc}]}" --health-listen "127.0.0.1:$((base + 20 + i))"
        --metrics-listen "127.0.0.1:$((base + 30 + i))" --tls-dir "${work}/tls/${svc}"
        --data-dir "${work}/data/${svc}" --redis "127.0.0.1:${redis_port}"
        --kafka "127.0.0.1:${kafka_port}" --kafka-partitions 6 --kafka-replication-factor 1)
  case "${svc}" in
    registry) args+=(--authorization-target "127.0.0.1:${api[authorization]}") ;;
    authorization) args+=(--registry-target "127.0.0.1:${api[registry]}") ;;
    compliance) args+=("${targets[@]}") ;;
    audit) args+=(--audit-dir "${work}/audit") ;;
  esac
  mkdir -p "${work}/data/${svc}"
  "$(bin "${svc}")" "${args[@]}" > "${work}/logs/${svc}.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done
for svc in "${services[@]}"; do wait_port 127.0.0.1 "${api[${svc}]}" 60 "pdao-${svc}"; done

export PDAO_TARGET="127.0.0.1:${api[audit]}" PDAO_CERTS_DIR="${work}/certs" PDAO_AS=regulator
if (( check )); then
  "${pdaoctl}" audit GetCheckpoint '{}'
  exit $?
fi
cat <<INFO
PDAO is running in ${work} (logs in ${work}/logs). Redis 127.0.0.1:${redis_port} (AOF),
Kafka 127.0.0.1:${kafka_port}. Services (mTLS API / health / metrics):
INFO
i=0
for svc in registry authorization compliance audit; do
  [[ " ${services[*]} " == *" ${svc} "* ]] &&
    echo "  pdao-${svc}  127.0.0.1:${api[${svc}]}  127.0.0.1:$((base + 20 + i))  http://127.0.0.1:$((base + 30 + i))/metrics"
  i=$((i + 1))
done
cat <<INFO
Try:
  export PDAO_CERTS_DIR=${work}/certs
  PDAO_TARGET=127.0.0.1:${api[audit]} PDAO_AS=regulator ${pdaoctl} audit GetCheckpoint
  PDAO_TARGET=127.0.0.1:${api[registry]} PDAO_AS=department ${pdaoctl} methods
Ctrl-C stops everything.
INFO
wait
