#!/usr/bin/env bash
# Runs clang-tidy (Debian's clang-tidy 14, configuration in .clang-tidy) over every source
# file in src/ and, through them, the headers in include/ and src/. Uses the
# compile_commands.json of a configured build directory ($LREM_BUILD_DIR, default build/;
# configured here if missing). Prints each finding and a summary; exits non-zero if any.
#   scripts/tidy.sh                 # everything
#   scripts/tidy.sh src/retrieval/index.cc    # some files
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
jobs="${LREM_JOBS:-2}"
tidy="$(command -v clang-tidy-14 || command -v clang-tidy)" || { echo "tidy: clang-tidy not installed"; exit 1; }

if [ ! -f "$build/compile_commands.json" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DPython3_EXECUTABLE=/usr/bin/python3 \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(cd "$root" && find src -name '*.cc' | sort)
fi
out="$build/tidy.log"
: >"$out"
# gcc flags clang does not know are dropped; warnings from system headers are not ours.
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} "$tidy" -p "$build" --quiet \
  --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-unused-command-line-argument "$root/{}" \
  >>"$out" 2>/dev/null
findings=$(grep -cE '(warning|error): .*\[[a-z0-9.-]+(,[a-z0-9.-]+)*\]$' "$out" || true)
grep -E '(warning|error): ' "$out" | sort -u
echo "tidy: ${#files[@]} files, $findings findings (full output: $out)"
[ "$findings" -eq 0 ]
