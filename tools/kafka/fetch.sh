#!/usr/bin/env bash
# Resolves the Apache Kafka broker (pinned in pom.xml) and its runtime jars into
#   ${PDAO_CACHE:-$HOME/.cache/pdao}/kafka-<version>/libs
# for the integration-test harness (common/testing/kafka/kafka_broker.h). Idempotent: does nothing
# when the folder is already complete. Needs Maven and Java 17. Prints the libs folder on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="${here}/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "${pom}")"
if [[ -z "${version}" ]]; then
  echo "fetch.sh: no <kafka.version> in ${pom}" >&2
  exit 1
fi
dest="${PDAO_CACHE:-$HOME/.cache/pdao}/kafka-${version}/libs"
marker="${dest}/.complete"

if [[ -f "${marker}" && -f "${dest}/kafka_2.13-${version}.jar" ]]; then
  echo "${dest}"
  exit 0
fi

tmp="$(mktemp -d "${dest%/libs}.tmp.XXXXXX" 2>/dev/null || true)"
if [[ -z "${tmp}" ]]; then
  mkdir -p "$(dirname "${dest}")"
  tmp="$(mktemp -d "${dest%/libs}.tmp.XXXXXX")"
fi
trap 'rm -rf "${tmp}"' EXIT

mvn -q -B -Dstyle.color=never -f "${pom}" dependency:copy-dependencies -DoutputDirectory="${tmp}/libs" >&2
if [[ ! -f "${tmp}/libs/kafka_2.13-${version}.jar" ]]; then
  echo "fetch.sh: maven did not produce kafka_2.13-${version}.jar" >&2
  exit 1
fi
touch "${tmp}/libs/.complete"
rm -rf "${dest}"
mkdir -p "$(dirname "${dest}")"
mv "${tmp}/libs" "${dest}"
echo "${dest}"
