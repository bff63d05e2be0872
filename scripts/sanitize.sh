#!/usr/bin/env bash
# Builds lrem and its GoogleTest programs with sanitizers (gcc) and runs them with ctest.
#
#   scripts/sanitize.sh [address] [ctest args]  # ASan + UBSan, the whole suite, $LREM_ASAN_DIR (build-asan/)
#   scripts/sanitize.sh thread [ctest args]     # ThreadSanitizer, $LREM_TSAN_DIR (build-tsan/)
#
# Thread mode builds and runs only the test programs that run lrem code on several threads
# at once (below): TSan finds nothing where there is one thread, and under it a test runs
# 5-15x slower. Any sanitizer report fails the run (halt_on_error, -fno-sanitize-recover).
# Suppressions for third-party code live in tests/sanitizers/ and are explained there and in
# docs/RELIABILITY.md. Extra arguments go to ctest (e.g. -R '^Index\.'), or in thread mode to
# each test program (e.g. --gtest_filter='Embedder.*').
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=address
if [ "${1:-}" = thread ] || [ "${1:-}" = address ]; then mode="$1"; shift; fi
jobs="${LREM_JOBS:-2}"
export LREM_FIXTURES_DIR="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"
supp="$root/tests/sanitizers"
# One OpenMP thread keeps torch/FAISS from spinning up pools the 2-core machines cannot feed.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

if [ "$mode" = thread ]; then
  build="${LREM_TSAN_DIR:-$root/build-tsan}"
  flags=thread
  # The layer programs (tests/CMakeLists.txt) that hold the threaded suites, and those suites.
  threaded_tests=(test_model test_retrieval test_serve test_train)
  if [ $# -eq 0 ]; then
    set -- --gtest_filter='Bm25.*:Embedder.*:Retriever.*:Index.*:ServerTest.*:Stress.*:StoriesTokenizer.*:TokenizerTraining.*:TrainConfig.*:TrainDistributedWorker.*:TrainLoops.*'
  fi
  targets=(--target lrem_cli "${threaded_tests[@]}")
  # libtorch, FAISS, OpenBLAS and libgomp are not instrumented: TSan cannot see their
  # synchronisation, so tsan.supp names the reports that are theirs alone (see the file).
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:${TSAN_OPTIONS:-}"
else
  build="${LREM_ASAN_DIR:-$root/build-asan}"
  flags=address,undefined
  targets=()
  # detect_leaks: lrem's own leaks fail the run; lsan.supp names the third-party exit-time
  # allocations that are not leaks (see the file). The sanitizer runtime must come first, so
  # nothing is LD_PRELOADed here; liblrem_sp.so (SentencePiece) is deliberately uninstrumented.
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:${ASAN_OPTIONS:-}"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp:${UBSAN_OPTIONS:-}"
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLREM_SANITIZE="$flags" \
  -DLREM_BUILD_PYTHON=OFF -DLREM_BUILD_TESTS=ON -DLREM_BUILD_CLI=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
echo "sanitize ($mode): building into $build with $jobs jobs"
cmake --build "$build" -j "$jobs" "${targets[@]}"

log="$build/ctest.log"
rc=0
if [ "$mode" = thread ]; then
  # Each program on its own: gtest_discover_tests would list the unbuilt ones as failures.
  : >"$log"
  passed=0
  for t in "${threaded_tests[@]}"; do
    echo "== $t" | tee -a "$log"
    if "$build/bin/$t" "$@" >>"$log" 2>&1; then passed=$((passed + 1)); else rc=1; echo "   FAILED (see $log)"; fi
  done
  echo "$passed of ${#threaded_tests[@]} test programs passed" | tee -a "$log"
else
  (cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 3600 "$@" 2>&1 | tee "$log")
  rc=${PIPESTATUS[0]}
fi
reports=$(grep -cE "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:" "$log" || true)
echo "sanitize ($mode): $(grep -E 'tests passed|programs passed' "$log" | tail -1); sanitizer reports: $reports"
exit "$rc"
