#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang, ASan + UBSan) into $LREM_FUZZ_DIR
# (default build-fuzz/) and runs each for a fixed time from the seed corpus checked in under
# tests/fuzz/corpus/<target>/. Prints executions per target; a crash, a sanitizer report or
# an uncaught non-lrem exception fails the run and leaves the reproducer in
# $LREM_FUZZ_DIR/crashes/ (replay it with: $LREM_FUZZ_DIR/bin/fuzz_<target> <file>).
#
#   scripts/fuzz.sh              # every target, 60 s each
#   scripts/fuzz.sh 10           # every target, 10 s each (the CI budget)
#   scripts/fuzz.sh 300 jsonl    # one target
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_FUZZ_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
shift || true
jobs="${LREM_JOBS:-2}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLREM_FUZZ=ON \
  -DLREM_BUILD_TESTS=OFF -DLREM_BUILD_PYTHON=OFF -DLREM_BUILD_CLI=OFF >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target fuzz_targets || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/tests/fuzz/fuzz_*.cc; do t=$(basename "$src" .cc); targets+=("${t#fuzz_}"); done
fi

export LREM_SP_LIBRARY="$build/lib/liblrem_sp.so"
export LREM_FIXTURES_DIR="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
mkdir -p "$build/crashes"
failed=0
printf '%-20s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"  # grows across runs; the checked-in seeds stay untouched
  mkdir -p "$work"
  log="$build/fuzz_$t.log"
  "$build/bin/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -dict="$root/tests/fuzz/json.dict" -artifact_prefix="$build/crashes/$t-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(ls "$work" | wc -l)
  if [ "$rc" -eq 0 ]; then result=ok; else
    result="FAILED (exit $rc): $(ls -t "$build/crashes/$t-"* 2>/dev/null | head -1)"; failed=1
    grep -E "ERROR|runtime error|uncaught|SUMMARY" "$log" | head -5
  fi
  printf '%-20s %12s %10s %8s  %s\n' "$t" "${execs:-0}" "${rate:-0}" "$size" "$result"
done
exit "$failed"
