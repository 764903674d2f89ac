#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, lints and runs every test.
# .ci/run calls exactly this.
#
#   tools/test.sh            everything: lint, unit + integration + e2e tests (real Redis and Kafka,
#                            started by the tests' harness on loopback ports), then the unit tests
#                            again under AddressSanitizer + UndefinedBehaviorSanitizer
#   PDAO_SKIP_ASAN=1         skip the sanitizer pass (local iteration only)
#   PDAO_BUILD_DIR=DIR       build directory (default: build)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${PDAO_BUILD_DIR:-build}
ASAN_BUILD=${BUILD}-asan
JOBS=${PDAO_JOBS:-$(nproc)}
export PDAO_CACHE=${PDAO_CACHE:-$HOME/.cache/pdao}
export PATH="$PDAO_CACHE/bin:$PATH"
export PDAO_RFC6962_TESTDATA=${PDAO_RFC6962_TESTDATA:-$ROOT/tests/testdata/rfc6962}
step() { printf '\n=== %s (%ss)\n' "$*" "$SECONDS"; }

step "install dependencies"
tools/setup/install-deps.sh
step "fetch the Kafka broker (Maven Central, cached)"
tools/kafka/fetch.sh

step "lint"
LINT_OK=1
tools/ci/lint.sh buf clang-format helm deploy || LINT_OK=0   # reported at the end; tests still run

step "build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j "$JOBS"

step "test: unit, integration and end-to-end"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 600

if [[ "${PDAO_SKIP_ASAN:-0}" != 1 ]]; then
  step "build with ASan+UBSan ($ASAN_BUILD)"
  cmake -S . -B "$ASAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPDAO_SANITIZE=ON >/dev/null
  cmake --build "$ASAN_BUILD" -j "$JOBS" --target pdao_unit_tests
  step "test: unit tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS" -L unit --timeout 600
fi
if [[ $LINT_OK != 1 ]]; then
  step "tests passed but lint FAILED (see the lint step above)"
  exit 1
fi
step "all checks passed"
