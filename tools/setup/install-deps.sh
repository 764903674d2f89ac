#!/usr/bin/env bash
# Installs everything PDAO needs to build, test and lint on Debian 12 (run as root; idempotent).
#
#   tools/setup/install-deps.sh [--no-npm] [--no-helm]
#
# What it does, each step skipped when already satisfied:
#   1. Debian packages: the toolchain list of TOOLCHAIN.md, clang-format, clang-tidy and clang-14
#      (the CI's -Wthread-safety build) with libFuzzer's runtime libclang-rt-14-dev (the fuzz
#      gate, tools/ci/fuzz.sh), every name in tools/setup/extra-packages.txt, Java 17 + Maven
#      (only when `java`/`mvn` are missing; the real Kafka broker of the integration tests needs
#      them), Node/npm (only when missing). `apt-get update` runs only when a package is missing.
#   2. buf (pinned) and the offline manifest validators (kubernetes-models, js-yaml; pinned) from
#      npm into ${PDAO_CACHE:-$HOME/.cache/pdao}/npm; buf is linked into $PDAO_CACHE/bin.
#   3. helm (pinned) built with `go install helm.sh/helm/v3/cmd/helm@<version>` into
#      $PDAO_CACHE/bin: the module is verified against the Go checksum database (sum.golang.org).
#      Needs Go >= 1.21 (it fetches the toolchain helm's go.mod asks for); without it the step
#      fails and says what to install (or pass --no-helm and skip the helm lint).
#   4. grpcurl (pinned, go install) and the Go module of tests/tlog-verify (go mod download).
#   5. pyshacl and feedparser (pinned, PyPI) into a venv at $PDAO_CACHE/venv: the portal's DCAT-AP
#      conformance and Atom feed checks (services/disclosure/testing/portal_checks/).
#
# Put "${PDAO_CACHE:-$HOME/.cache/pdao}/bin" on PATH to use buf and helm (tools/ci/lint.sh does).
# Exit status: 0 when everything is in place; non-zero with a message naming the failed step.
set -euo pipefail

BUF_VERSION=1.75.0
HELM_VERSION=v3.19.0
HELM_K8S_MINOR=34   # helm v3.19.0 is built against client-go v0.34
KUBERNETES_MODELS_VERSION=5.1.0
JS_YAML_VERSION=4.1.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PDAO_CACHE=${PDAO_CACHE:-$HOME/.cache/pdao}
BIN=$PDAO_CACHE/bin
NPM_DIR=$PDAO_CACHE/npm
DO_NPM=1
DO_HELM=1
for arg in "$@"; do
  case "$arg" in
    --with-clang-tidy) ;;  # accepted for old scripts: clang-tidy is always installed now
    --no-npm) DO_NPM=0 ;;
    --no-helm) DO_HELM=0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

START=$(date +%s.%N)
say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: FAILED: %s\n' "$*" >&2; exit 1; }
mkdir -p "$BIN" "$NPM_DIR"

# ---------------------------------------------------------------- 1. Debian packages
APT_PACKAGES=(
  # TOOLCHAIN.md "Packages"
  g++ cmake ninja-build ccache pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  protobuf-compiler grpc-proto librdkafka-dev libhiredis-dev redis-server prometheus-cpp-dev
  libgtest-dev libgmock-dev libsqlite3-dev libssl-dev libabsl-dev
  # lint, the -Wthread-safety build (clang-14) and fetching
  clang-format clang-tidy clang-14 ca-certificates
  # libFuzzer's runtime for clang-14 (tools/ci/fuzz.sh, tests/fuzz)
  libclang-rt-14-dev
)
if [[ -f "$ROOT/tools/setup/extra-packages.txt" ]]; then
  while read -r line; do
    line=${line%%#*}
    for word in $line; do APT_PACKAGES+=("$word"); done
  done < "$ROOT/tools/setup/extra-packages.txt"
fi
# Java 17 + Maven run the real Kafka broker of the integration tests.
if ! command -v java >/dev/null 2>&1; then
  APT_PACKAGES+=(default-jre-headless)
else
  java_major=$(java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  if [[ -n "$java_major" && "$java_major" -lt 17 ]]; then
    APT_PACKAGES+=(openjdk-17-jre-headless)
  fi
fi
command -v mvn >/dev/null 2>&1 || APT_PACKAGES+=(maven)
if [[ "$DO_NPM" == 1 || "$DO_HELM" == 1 ]]; then
  command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
fi

installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${APT_PACKAGES[@]}" 2>/dev/null |
  awk '$1 == "ii" {print $2}' || true)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  grep -qxF -- "${p%%:*}" <<<"$installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  say "apt: all ${#APT_PACKAGES[@]} packages present"
else
  SUDO=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "apt: missing ${missing[*]} and not root (run as root)"
    SUDO=(sudo)
  fi
  say "apt: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq || die "apt-get update"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]}"
  say "apt: installed ${#missing[@]} package(s)"
fi

# ---------------------------------------------------------------- 2. npm tools (buf, validators)
npm_pkg_version() {  # prints the installed version of an npm package in $NPM_DIR, or nothing
  local f="$NPM_DIR/node_modules/$1/package.json"
  [[ -f "$f" ]] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$f" | head -n1
  return 0
}
if [[ "$DO_NPM" == 1 ]]; then
  want=("@bufbuild/buf@$BUF_VERSION" "kubernetes-models@$KUBERNETES_MODELS_VERSION"
        "js-yaml@$JS_YAML_VERSION")
  need=()
  for spec in "${want[@]}"; do
    name=${spec%@*}; ver=${spec##*@}
    [[ "$(npm_pkg_version "$name")" == "$ver" ]] || need+=("$spec")
  done
  if ((${#need[@]} > 0)); then
    say "npm: installing ${need[*]} into $NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error --save-exact \
      "${need[@]}" >/dev/null || die "npm install ${need[*]}"
  fi
  # Link the native buf binary (skips the node shim: faster start).
  case "$(uname -m)" in
    x86_64) buf_native="$NPM_DIR/node_modules/@bufbuild/buf-linux-x64/bin/buf" ;;
    aarch64|arm64) buf_native="$NPM_DIR/node_modules/@bufbuild/buf-linux-aarch64/bin/buf" ;;
    *) buf_native="" ;;
  esac
  [[ -x "$buf_native" ]] || buf_native="$NPM_DIR/node_modules/.bin/buf"
  ln -sfn "$buf_native" "$BIN/buf"
  got=$("$BIN/buf" --version 2>/dev/null) || die "buf does not run ($BIN/buf)"
  [[ "$got" == "$BUF_VERSION" ]] || die "buf is $got, want $BUF_VERSION"
  if ((${#need[@]} == 0)); then
    say "npm: buf $BUF_VERSION, kubernetes-models $KUBERNETES_MODELS_VERSION, js-yaml $JS_YAML_VERSION present"
  fi
fi

# ---------------------------------------------------------------- 3. helm
go_minor() {  # prints N for go1.N.x, or 0 when Go is missing
  local v
  v=$(go env GOVERSION 2>/dev/null) || { echo 0; return; }
  v=${v#go1.}; echo "${v%%.*}"
}
if [[ "$DO_HELM" == 1 ]]; then
  stamp="$BIN/.helm-version"
  # The release ldflags: real version string, and the Kubernetes version helm assumes offline
  # (client-go v0.34 -> 1.34; without them `helm template` assumes Kubernetes 1.20).
  HELM_LDFLAGS="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    HELM_LDFLAGS+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  go_stamp="$HELM_VERSION k8s-1.$HELM_K8S_MINOR (go install)"
  have_stamp=$(cat "$stamp" 2>/dev/null || true)
  if [[ -x "$BIN/helm" && "$have_stamp" == "$go_stamp" ]]; then
    say "helm: $have_stamp present in $BIN"
  elif (($(go_minor) >= 21)); then
    # Go >= 1.21 fetches the toolchain helm's go.mod asks for through the module proxy itself.
    # The module and its dependencies are checked against the Go checksum database: GOSUMDB is
    # pinned to its default and nothing may exempt them (GONOSUMDB, GOPRIVATE, GOINSECURE).
    say "helm: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (a few minutes on 2 cores)"
    env -u GONOSUMDB -u GONOSUMCHECK -u GOPRIVATE -u GOINSECURE -u GOFLAGS \
      GOSUMDB=sum.golang.org GOBIN="$BIN" go install -buildvcs=false -ldflags "$HELM_LDFLAGS" \
      "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ||
      die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (needs the Go module proxy or the module's origin, and sum.golang.org)"
    echo "$go_stamp" > "$stamp"
  else
    die "helm: building helm $HELM_VERSION needs Go >= 1.21 ($(go env GOVERSION 2>/dev/null || echo 'no go on PATH')). Install Go >= 1.21 (https://go.dev/dl/), or put helm $HELM_VERSION at $BIN/helm and write '$go_stamp' into $stamp, or run with --no-helm (PDAO_SKIP_SETUP=1 for tools/test.sh) and skip the helm lint"
  fi
  "$BIN/helm" version --short >/dev/null 2>&1 || die "helm does not run ($BIN/helm)"
fi

# ---------------------------------------------------------------- grpcurl (h-rpc, issue 7 §4)
# grpcurl (pinned), for tests/e2e/grpc_clients_e2e_test.cc: built with `go install` into
# $PDAO_CACHE/bin (the Go checksum database verifies the module). Without Go: a clear failure.
GRPCURL_VERSION=v1.9.3
grpcurl_stamp="$BIN/.grpcurl-version"
if [[ -x "$BIN/grpcurl" && "$(cat "$grpcurl_stamp" 2>/dev/null)" == "$GRPCURL_VERSION" ]]; then
  say "grpcurl: $GRPCURL_VERSION present in $BIN"
else
  command -v go >/dev/null 2>&1 ||
    die "grpcurl: Go is needed to install grpcurl $GRPCURL_VERSION (go install); install Go >= 1.21"
  say "grpcurl: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install \
    "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" ||
    die "go install grpcurl@$GRPCURL_VERSION"
  "$BIN/grpcurl" -version >/dev/null 2>&1 || die "grpcurl does not run ($BIN/grpcurl)"
  echo "$GRPCURL_VERSION" > "$grpcurl_stamp"
fi
# ---------------------------------------------------------------- end grpcurl

# ---------------------------------------------------------------- tests/tlog-verify (issue 13)
# The independent C2SP verifier of tests/e2e/tlog_verify_e2e_test.cc is a Go module pinning
# golang.org/x/mod v0.43.0 (go.mod, go.sum): fetched into the module cache here through the Go
# module proxy and checked against go.sum, so the test builds it offline.
command -v go >/dev/null 2>&1 ||
  die "tlog-verify: Go is needed for tests/tlog-verify (go mod download); install Go >= 1.21"
(cd "$ROOT/tests/tlog-verify" && GOFLAGS=-mod=readonly go mod download) ||
  die "tlog-verify: go mod download in tests/tlog-verify (needs the Go module proxy)"
say "tlog-verify: golang.org/x/mod $(sed -n 's/^require golang.org\/x\/mod //p' "$ROOT/tests/tlog-verify/go.mod") in the module cache"

# ---------------------------------------------------------------- portal checks (issue 13)
# pyshacl validates the DCAT-AP 3.0.1 catalogue against the SEMIC shapes; feedparser reads the
# Atom feed. Pinned, from PyPI, into a venv of Debian's python3 (the checks re-exec into it).
PYSHACL_VERSION=0.40.1
FEEDPARSER_VERSION=6.0.11
VENV=$PDAO_CACHE/venv
venv_has() {  # venv_has NAME VERSION
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" \
    2>/dev/null
}
if venv_has pyshacl "$PYSHACL_VERSION" && venv_has feedparser "$FEEDPARSER_VERSION"; then
  say "python: pyshacl $PYSHACL_VERSION, feedparser $FEEDPARSER_VERSION present in $VENV"
else
  [[ -x "$VENV/bin/python" ]] || /usr/bin/python3 -m venv "$VENV" || die "python: venv $VENV (python3-venv)"
  say "python: pip install pyshacl==$PYSHACL_VERSION feedparser==$FEEDPARSER_VERSION into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "pyshacl==$PYSHACL_VERSION" \
    "feedparser==$FEEDPARSER_VERSION" || die "pip install pyshacl/feedparser (needs PyPI)"
fi
# ---------------------------------------------------------------- end portal checks

END=$(date +%s.%N)
say "done in $(awk -v a="$START" -v b="$END" 'BEGIN {printf "%.1f", b - a}') s; tools in $BIN"
