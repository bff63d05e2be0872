#!/usr/bin/env bash
# Sets up, builds and runs every test: the GoogleTest suite (ctest) and the Python suite
# (pytest under Debian's /usr/bin/python3). Ends with one summary line.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
export LREM_FIXTURES_DIR="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"

bash "$root/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }

cpp_log="$build/ctest.log"
(cd "$build" && ctest --output-on-failure -j "${LREM_JOBS:-$(nproc)}" --timeout 900 2>&1 | tee "$cpp_log")
cpp_rc=${PIPESTATUS[0]}
cpp_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$cpp_log" | tail -1)
cpp_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$cpp_log" | tail -1)
cpp_total=${cpp_total:-0}; cpp_failed=${cpp_failed:-1}

py_log="$build/pytest.log"
PYTHONPATH="$build/python" LREM_BINARY_DIR="$build" /usr/bin/python3 -m pytest -q "$root/tests/python" 2>&1 | tee "$py_log"
py_rc=${PIPESTATUS[0]}
py_passed=$(grep -Eo '[0-9]+ passed' "$py_log" | tail -1 | grep -Eo '[0-9]+'); py_passed=${py_passed:-0}
py_failed=$(grep -Eo '[0-9]+ (failed|error)' "$py_log" | awk '{s+=$1} END {print s+0}')
py_skipped=$(grep -Eo '[0-9]+ skipped' "$py_log" | tail -1 | grep -Eo '[0-9]+'); py_skipped=${py_skipped:-0}

# Short fuzzing of every parser (docs/RELIABILITY.md): LREM_FUZZ_SECONDS per target, 0 skips.
fuzz_seconds="${LREM_FUZZ_SECONDS:-10}"
fuzz_passed=0; fuzz_failed=0; fuzz_status=skipped
if [ "$fuzz_seconds" != 0 ] && command -v clang++ >/dev/null; then
  if bash "$root/scripts/fuzz.sh" "$fuzz_seconds"; then fuzz_passed=1; fuzz_status=passed; else fuzz_failed=1; fuzz_status=failed; fi
else
  echo "fuzz: skipped (LREM_FUZZ_SECONDS=0 or no clang++)"
fi

passed=$((cpp_total - cpp_failed + py_passed + fuzz_passed))
failed=$((cpp_failed + py_failed + fuzz_failed))
echo "C++ (ctest): $((cpp_total - cpp_failed)) of $cpp_total passed; Python (pytest): $py_passed passed, $py_failed failed, $py_skipped skipped; fuzzing: $fuzz_status"
echo "$passed passed, $failed failed, $py_skipped skipped"
if [ "$cpp_rc" -ne 0 ] || [ "$py_rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
exit 0
