#!/usr/bin/env bash
# The main job, end to end: installs what is missing, builds, takes the shipped default model
# (models/lrem-demo, trained by scripts/train_demo.sh), generates the benchmark data, builds
# the index over its catalogue, runs one example query per category (CoT and top 5 items)
# and prints the evaluation tables on the test split and on the hand-written natural queries.
#
# The index and the table are cached under $LREM_DEMO_CACHE (default runs/demo-cache), keyed
# by the model's fingerprint, so a second run only repeats the examples.
#   LREM_DEMO_MODEL=DIR  another model directory (e.g. runs/demo/stage2 after train_demo.sh);
#   LREM_DEMO_COLD_START / LREM_DEMO_DIRECT: the stage-1 and direct-baseline models of the table
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # see scripts/train_demo.sh
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
model="${LREM_DEMO_MODEL:-$root/models/lrem-demo}"
cold_start="${LREM_DEMO_COLD_START:-$root/models/lrem-demo-cold-start}"
direct="${LREM_DEMO_DIRECT:-$root/models/lrem-demo-direct}"
cache="${LREM_DEMO_CACHE:-$root/runs/demo-cache}"
start=$SECONDS

# A fresh build directory skips the test suite: the demo needs only the CLI and the library.
extra=()
[ -f "$build/CMakeCache.txt" ] || extra=(-DLREM_BUILD_TESTS=OFF)
echo "== build ($build; log in $build.demo-build.log)"
if ! bash "$root/scripts/build.sh" "${extra[@]}" >"$build.demo-build.log" 2>&1; then
  tail -n 40 "$build.demo-build.log"; echo "demo: the build failed" >&2; exit 1
fi
lrem="$build/bin/lrem"
[ -x "$lrem" ] || { echo "demo: the build did not produce $lrem" >&2; exit 1; }
for f in config.json model.safetensors tokenizer.model lrem_config.json; do
  [ -f "$model/$f" ] || { echo "demo: $model/$f is missing (scripts/train_demo.sh makes the model)" >&2; exit 1; }
done

# The data directory is keyed by the generator's arguments, so changing them regenerates it.
data="$cache/data-$(sha256sum "$root/configs/demo/benchmark.args" | cut -c1-12)"
if [ ! -f "$data/items.jsonl" ]; then
  echo "== benchmark data ($data)"
  read -r -a benchmark_args <"$root/configs/demo/benchmark.args"
  /usr/bin/python3 "$root/scripts/make_benchmark.py" --out "$data" "${benchmark_args[@]}" | tail -n 1
fi

key() { sha256sum "$1/model.safetensors" | cut -c1-16; }
index="$cache/index-$(key "$model")"
if [ ! -f "$index/meta.json" ]; then
  echo "== index: embedding $(wc -l <"$data/items.jsonl") items with $model"
  rm -rf "$index.tmp"
  "$lrem" index build --model "$model" --items "$data/items.jsonl" -o "$index.tmp" --quiet
  rm -rf "$index" && mv "$index.tmp" "$index"
fi
# Mode auto's threshold, fitted for the model on the dev split (models/README.md).
[ -f "$model/router.json" ] && [ ! -f "$index/router.json" ] && cp "$model/router.json" "$index/router.json"

echo "== one test query per category: the model's CoT, then the top 5 items"
mapfile -t examples < <(/usr/bin/python3 - "$data/queries_test.jsonl" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    q = json.loads(line)
    seen.setdefault(q["category"], q["text"])
print("\n".join(f"{c}\t{t}" for c, t in seen.items()))
PY
)
for row in "${examples[@]}"; do
  echo "-- ${row%%$'\t'*}"
  "$lrem" search --model "$model" --index "$index" -k 5 --quiet -q "${row#*$'\t'}"
done

echo "== evaluation on the test split (cached per model)"
systems=("BM25=bm25")
[ -d "$direct" ] && systems+=("Direct embedding=$direct:--mode direct")
[ -d "$cold_start" ] && systems+=("LREM cold start=$cold_start")
systems+=("LREM +RL=$model")
ablations=("Empty-CoT=$model:--cot-source empty" "Random-CoT=$model:--cot-source random"
           "Query-CoT=$model:--cot-source query")
# HitRate@10 is the paper's metric (recall@10); a query that names only a type has about 60
# relevant items in this catalogue, so it tops out near 0.17. Precision@10 ranks the systems on a
# 0-1 scale.
args=()
for s in "${systems[@]}" "${ablations[@]}"; do args+=(--system "$s"); done
/usr/bin/python3 "$root/scripts/demo_report.py" --lrem "$lrem" --data "$data" --out "$cache/eval" "${args[@]}" \
  --metric HitRate@10 --metric Precision@10

echo "== hand-written natural queries (data/natural_queries/README.md), per style (cached per model)"
args=()
for s in "${systems[@]}"; do args+=(--system "$s"); done
/usr/bin/python3 "$root/scripts/demo_report.py" --lrem "$lrem" --data "$data" --out "$cache/eval" "${args[@]}" \
  --natural "$root/data/natural_queries/queries.jsonl" --metric Precision@10 --metric HitRate@10 --metric NDCG@10
echo "demo: done in $((SECONDS - start)) s"
