#!/usr/bin/env bash
# Builds lrem, its CLI and the whole GoogleTest suite with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc) into $LREM_ASAN_DIR (default build-asan/) and runs ctest.
# Any sanitizer report fails the run (halt_on_error, -fno-sanitize-recover). Suppressions
# for third-party code live in tests/sanitizers/ and are explained there and in
# docs/RELIABILITY.md. Extra arguments go to ctest (e.g. -R '^Index\.').
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_ASAN_DIR:-$root/build-asan}"
jobs="${LREM_JOBS:-2}"
export LREM_FIXTURES_DIR="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLREM_SANITIZE=address,undefined \
  -DLREM_BUILD_PYTHON=OFF -DLREM_BUILD_TESTS=ON -DLREM_BUILD_CLI=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
echo "sanitize: building into $build with $jobs jobs"
cmake --build "$build" -j "$jobs"

supp="$root/tests/sanitizers"
# detect_leaks: lrem's own leaks fail the run; lsan.supp names the third-party exit-time
# allocations that are not leaks (see the file). The sanitizer runtime must come first, so
# nothing is LD_PRELOADed here; liblrem_sp.so (SentencePiece) is deliberately uninstrumented.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp:${UBSAN_OPTIONS:-}"
# One OpenMP thread keeps torch/FAISS from spinning up pools the 2-core machines cannot feed.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

log="$build/ctest.log"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 1800 "$@" 2>&1 | tee "$log")
rc=${PIPESTATUS[0]}
reports=$(grep -cE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log" || true)
echo "sanitize: $(grep -E 'tests passed' "$log" | tail -1); sanitizer reports: $reports"
exit "$rc"
