#!/usr/bin/env bash
# The main job, end to end on the bundled default: installs what is missing, builds, and
# runs lrem on the default model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
fixtures="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"

bash "$root/scripts/build.sh" >/dev/null
lrem="$build/bin/lrem"

model="$fixtures/stories260K"
if [ ! -d "$model" ]; then
  echo "demo: the fixture model is missing at $model (set LREM_FIXTURES_DIR)" >&2
  exit 1
fi
echo "== lrem generate: greedy continuation with the pretrained tiny Llama ($model)"
"$lrem" generate --model "$model" --prompt "Once upon a time" --max-new-tokens 80
