#!/usr/bin/env bash
# The fuzz gate (issue 9 "Fuzzing"; tests/fuzz/README.md): builds the libFuzzer targets of tests/fuzz
# in a clang tree with ASan+UBSan and runs each on its corpus tests/fuzz/corpus/<target>/ for a
# short time. Any crash, leak, sanitizer report, timeout or out-of-memory fails the run.
#
#   tools/ci/fuzz.sh [TARGET...]       default: every target (the *_fuzz executables)
#
#   PDAO_FUZZ_SECONDS=N    seconds per target (default 15); the long run sets e.g. 600
#   PDAO_FUZZ_MERGE=1      afterwards merge the inputs that add coverage into the repository's
#                          corpus (libFuzzer -merge=1: only inputs that add coverage are kept)
#   PDAO_BUILD_DIR=DIR     build directory prefix (default: build); the fuzz tree is DIR-fuzz
#   PDAO_JOBS=N            targets run at once and build jobs (default: nproc)
#   PDAO_CLANGXX / PDAO_CLANGC   the compilers (default clang++-14 / clang-14)
#
# New inputs go to a scratch copy, never into the repository, unless PDAO_FUZZ_MERGE=1. A failing
# input is kept as $FUZZ_BUILD/artifacts/fuzz/<target>-crash-<sha1> (or leak-, timeout-, oom-);
# reproduce with `$FUZZ_BUILD/tests/fuzz/<target> <that file>`.
# Exit status: 0 when every target ran clean; 1 otherwise, naming each failed target.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
FUZZ_BUILD=${PDAO_BUILD_DIR:-build}-fuzz
JOBS=${PDAO_JOBS:-$(nproc)}
SECONDS_PER_TARGET=${PDAO_FUZZ_SECONDS:-15}
CLANGXX=${PDAO_CLANGXX:-clang++-14}
CLANGC=${PDAO_CLANGC:-clang-14}
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1

CC=$CLANGC CXX=$CLANGXX cmake -S . -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DPDAO_FUZZ=ON >/dev/null
cmake --build "$FUZZ_BUILD" -j "$JOBS" --target pdao_fuzz_targets

TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  for bin in "$FUZZ_BUILD"/tests/fuzz/*_fuzz; do TARGETS+=("$(basename "$bin")"); done
fi
ARTIFACTS=$FUZZ_BUILD/artifacts/fuzz
WORK=$(mktemp -d /tmp/pdao-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ARTIFACTS"

# One target: the repository's corpus is read, new inputs land in $WORK/<target>.
run_one() {
  local target=$1 bin=$FUZZ_BUILD/tests/fuzz/$1 corpus=$ROOT/tests/fuzz/corpus/$1
  [[ -x "$bin" ]] || { echo "fuzz: no target $target in $FUZZ_BUILD/tests/fuzz" >&2; return 1; }
  [[ -d "$corpus" ]] || { echo "fuzz: no corpus $corpus" >&2; return 1; }
  mkdir -p "$WORK/$target"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
     "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2560 \
       -max_len=65536 -detect_leaks=1 -print_final_stats=1 \
       -artifact_prefix="$ARTIFACTS/$target-" "$WORK/$target" "$corpus" \
       > "$WORK/$target.log" 2>&1; then
    echo "fuzz: $target: clean ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$WORK/$target.log" | grep -o '[0-9]*$') runs in ${SECONDS_PER_TARGET}s," \
      "$(find "$WORK/$target" -type f | wc -l) new inputs)"
  else
    tail -n 80 "$WORK/$target.log"
    echo "fuzz: $target: FAILED (input in $ARTIFACTS/$target-*)"
    return 1
  fi
}
export -f run_one
export FUZZ_BUILD ROOT WORK ARTIFACTS SECONDS_PER_TARGET

FAILED=()
# $JOBS targets at once (each target is one process).
while read -r line; do
  echo "$line"
  [[ "$line" == *": FAILED "* ]] && FAILED+=("${line#fuzz: }")
done < <(printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}' 2>&1 || true)

if [[ "${PDAO_FUZZ_MERGE:-0}" == 1 ]]; then
  for target in "${TARGETS[@]}"; do
    "$FUZZ_BUILD/tests/fuzz/$target" -merge=1 -max_len=65536 "$ROOT/tests/fuzz/corpus/$target" \
      "$WORK/$target" >/dev/null 2>&1 || echo "fuzz: merging $target's new inputs failed"
  done
fi

if ((${#FAILED[@]} > 0)); then
  printf 'fuzz: FAILED: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets clean"
