#!/usr/bin/env bash
# Configures and builds lrem into $LREM_BUILD_DIR (default: build/). Extra args go to cmake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
jobs="${LREM_JOBS:-$(nproc)}"
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${LREM_BUILD_TYPE:-Release}" \
  -DPython3_EXECUTABLE=/usr/bin/python3 "$@" >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log"; exit 1; }
echo "build: compiling into $build with $jobs jobs"
cmake --build "$build" -j "$jobs"
