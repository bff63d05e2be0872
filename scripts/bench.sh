#!/usr/bin/env bash
# Runs lrem's benchmark suite and writes docs/BENCHMARKS.md (issue 5). One command:
#
#   bash scripts/bench.sh                 # about 25-35 minutes on 2 cores (10 of them the serve soak;
#                                         # LREM_BENCH_SOAK_MINUTES sets its length)
#   LREM_BENCH_FULL=1 bash scripts/bench.sh   # adds the 1M-vector FAISS runs (about 25 minutes
#                                             # more on 2 busy cores, most of it HNSW construction)
#   LREM_BENCH_TRAIN_MEMORY=1 bash scripts/bench.sh  # adds full fine-tuning vs LoRA memory on a
#                                                    # Qwen2-0.5B shape (bench/train_memory.sh)
#   LREM_BENCH_DEMO_MODEL=path bash scripts/bench.sh  # a trained demo model instead of the
#                                                      # random demo-sized stand-in
#   LREM_BENCH_HF_TOKENIZERS=dir bash scripts/bench.sh  # node_modules holding Hugging Face's
#     `tokenizers` (default /tmp/hfref/node_modules; `npm install tokenizers` there), compared
#     with lrem's tokenizer.json encoding when present; skipped otherwise
#
# Installs the bench-only package python3-torch (the eager PyTorch baseline), builds with
# -DLREM_BUILD_BENCH=ON into build-bench, generates the benchmark data and two random models
# (demo-sized and 0.1B-class) in the work dir, runs every program and renders the report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BENCH_BUILD_DIR:-$root/build-bench}"
work="${LREM_BENCH_WORK:-$build/bench-work}"
results="$work/results"
py=/usr/bin/python3
seconds="${LREM_BENCH_SECONDS:-3}"

bash "$root/scripts/setup.sh"
if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=$py -DLREM_BUILD_BENCH=ON \
  -DLREM_BUILD_PYTHON=OFF -DLREM_BUILD_TESTS=OFF >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "${LREM_JOBS:-2}" --target bench_machine_limits bench_encode bench_query bench_index \
  bench_train bench_workload bench_make_model bench_serve_load bench_load_model bench_tokenize bench_train_memory lrem_cli
bin="$build/bin"

mkdir -p "$work" "$results"
rm -f "$results"/*.jsonl
data="$work/data"
[ -f "$data/items.jsonl" ] || $py "$root/scripts/make_benchmark.py" --out "$data" --seed 13 >/dev/null
if [ ! -f "$work/corpus_tok.txt" ]; then
  $py "$root/bench/wordnet_text.py" "$work/wordnet.txt"
  cat "$data/corpus.txt" "$work/wordnet.txt" >"$work/corpus_tok.txt"
fi
[ -f "$work/m0.1b/config.json" ] || "$bin/bench_make_model" --size 0.1b --corpus "$work/corpus_tok.txt" \
  --tokenizer-prefix "$work/tok32000" --out "$work/m0.1b" >/dev/null
[ -f "$work/m0.1b-qwen2/config.json" ] || "$bin/bench_make_model" --size 0.1b-qwen2 --corpus "$work/corpus_tok.txt" \
  --tokenizer-prefix "$work/tok32000" --out "$work/m0.1b-qwen2" >/dev/null
demo="${LREM_BENCH_DEMO_MODEL:-$work/demo}"
demo_label=demo
if [ -z "${LREM_BENCH_DEMO_MODEL:-}" ]; then
  demo_label=demo-random
  [ -f "$demo/config.json" ] || "$bin/bench_make_model" --size demo --corpus "$data/corpus.txt" \
    --tokenizer-prefix "$work/tok4003" --out "$demo" >/dev/null
fi

# run NAME CMD...: appends CMD's JSON lines to results/NAME.jsonl, preceded by the command.
run() {
  local name="$1"; shift
  echo "bench: $name: $*" >&2
  $py -c 'import json,sys; print(json.dumps({"bench":"command","command":" ".join(sys.argv[1:])}))' "$@" \
    >>"$results/$name.jsonl"
  "$@" >>"$results/$name.jsonl"
}

sizes=100000
[ "${LREM_BENCH_FULL:-0}" = 1 ] && sizes=100000,1000000
# Section 1 runs first, on the quietest machine of the run: its GEMM peaks and read bandwidth are
# the denominators of every MFU and decode-step floor in the report, shown with this load.
read -r load_now _ </proc/loadavg
echo "bench: load average $load_now on $(nproc) cores before section 1 (the report flags a machine that is not quiet)" >&2
run machine "$bin/bench_machine_limits"
for m in "$demo_label:$demo" "0.1b:$work/m0.1b"; do
  label="${m%%:*}"; dir="${m#*:}"
  run "encode-$label" "$bin/bench_encode" --model "$dir" --label "$label" --items "$data/items.jsonl" --seconds "$seconds"
  run "query-$label" "$bin/bench_query" --model "$dir" --label "$label" --queries "$data/queries_test.jsonl" \
    --seconds "$seconds"
  run "workload-$label" "$bin/bench_workload" --model "$dir" --items "$data/items.jsonl" \
    --queries "$data/queries_test.jsonl" --out "$work/workload-$label.json"
  run "pytorch-$label" $py "$root/bench/pytorch_baseline.py" --model "$dir" --workload "$work/workload-$label.json" \
    --label "$label" --seconds "$seconds"
  run "train-$label" "$bin/bench_train" --model "$dir" --label "$label" --corpus "$data/corpus.txt" \
    --triplets "$data/triplets_train.jsonl" --items "$data/items.jsonl" --work "$work/train-$label" --steps 3
done
# bfloat16 compute on the 0.1B model, lrem and the PyTorch baseline (cast with .to(torch.bfloat16));
# report.py compares lrem bf16 with PyTorch in both dtypes.
bf16=0.1b-bf16
run "encode-$bf16" "$bin/bench_encode" --model "$work/m0.1b" --label "$bf16" --dtype bfloat16 \
  --items "$data/items.jsonl" --seconds "$seconds"
run "query-$bf16" "$bin/bench_query" --model "$work/m0.1b" --label "$bf16" --dtype bfloat16 \
  --queries "$data/queries_test.jsonl" --seconds "$seconds"
run "pytorch-$bf16" $py "$root/bench/pytorch_baseline.py" --model "$work/m0.1b" --workload "$work/workload-0.1b.json" \
  --label "$bf16" --dtype bfloat16 --seconds "$seconds"
# The 0.1B layers shaped as Qwen2 (151,936-row vocabulary, q/k/v biases, tied head).
q2=0.1b-qwen2
run "encode-$q2" "$bin/bench_encode" --model "$work/m$q2" --label "$q2" --items "$data/items.jsonl" --seconds "$seconds"
run "query-$q2" "$bin/bench_query" --model "$work/m$q2" --label "$q2" --queries "$data/queries_test.jsonl" \
  --seconds "$seconds"
# Loading at real size (section 8): a synthetic 1B Qwen2-shaped bfloat16 checkpoint, loaded once
# per compute dtype in a fresh process, then deleted (2 GB of disk).
"$bin/bench_load_model" --write "$work/m1b-qwen2" --tokenizer "$work/tok32000.model" >/dev/null
for dtype in bfloat16 float32; do
  run "load-$dtype" "$bin/bench_load_model" --model "$work/m1b-qwen2" --dtype "$dtype"
done
rm -rf "$work/m1b-qwen2"
# tokenizer.json encoding on one thread, lrem and Hugging Face tokenizers on the same text:
# the benchmark corpus and item titles plus the multilingual reference texts of the tests.
qwen2="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}/qwen2-bpe/tokenizer.json"
if [ -f "$qwen2" ]; then
  $py - "$data" "$root/tests/data/tokenizers/expected_qwen2.json" "$work/tokenize.txt" <<'PY'
import json, sys
data, reference, out = sys.argv[1:]
with open(out, "w", encoding="utf-8") as f:
    f.write(open(f"{data}/corpus.txt", encoding="utf-8").read())
    f.writelines(json.loads(line)["title"] + "\n" for line in open(f"{data}/items.jsonl", encoding="utf-8"))
    texts = [c["text"].replace("\n", " ") for c in json.load(open(reference, encoding="utf-8"))["cases"]]
    f.writelines(t + "\n" for _ in range(100) for t in texts if t.strip())
PY
  run tokenize "$bin/bench_tokenize" --tokenizer "$qwen2" --text "$work/tokenize.txt" --label qwen2
  hf="${LREM_BENCH_HF_TOKENIZERS:-/tmp/hfref/node_modules}"
  if command -v node >/dev/null && [ -d "$hf/tokenizers" ]; then
    RAYON_NUM_THREADS=1 NODE_PATH="$hf" node "$root/bench/tokenize_hf.js" --tokenizer "$qwen2" \
      --text "$work/tokenize.txt" --label qwen2 >>"$results/tokenize.jsonl"
  fi
fi
# "d = 768 and the demo dim" (issue 5).
demo_dim=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["hidden_size"])' "$demo/config.json")
run index "$bin/bench_index" --sizes "$sizes" --dims "768,$demo_dim"

# lrem serve under load (section 6), over an index of the benchmark catalogue; the 0.1B model's
# covers its first 512 items (all 24,000 would take about 20 minutes to encode, and a Flat
# search of more items adds little next to the query's forward passes). An index is rebuilt
# when the model it was built from changes.
serve_index() {  # MODEL ITEMS OUT
  local stamp="$(realpath "$1") $(stat -c %Y "$1/model.safetensors") $(realpath "$2")"
  [ -f "$3/meta.json" ] && [ "$(cat "$3/built-from" 2>/dev/null)" = "$stamp" ] && return
  rm -rf "$3"
  "$bin/lrem" index build --model "$1" --items "$2" -o "$3" --quiet >&2
  echo "$stamp" >"$3/built-from"
}
head -n 512 "$data/items.jsonl" >"$work/items-512.jsonl"
# label:model:items:requests:seconds per cell:endpoints:batches for the micro-batching bound
for m in "$demo_label:$demo:$data/items.jsonl:300:20:search,embed:1,2,8" \
  "0.1b:$work/m0.1b:$work/items-512.jsonl:100:15:search:1,8"; do
  IFS=: read -r label dir items requests secs endpoints batches <<<"$m"
  serve_index "$dir" "$items" "$work/serve-index-$label"
  load=("$bin/bench_serve_load" --lrem "$bin/lrem" --model "$dir" --index "$work/serve-index-$label" \
    --queries "$data/queries_test.jsonl" --label "$label" --requests "$requests" --seconds "$secs")
  run "serve-$label" "${load[@]}" --clients 1,4,16 --modes reason,direct --endpoints "$endpoints"
  run "servebatch-$label" "${load[@]}" --in-flight 4,16 --batches "$batches" --modes reason,direct
  run "servezipf-$label" "${load[@]}" --clients 4 --modes reason --traffic zipf
  run "servecb-$label" "${load[@]}" --clients 1,4,16 --modes reason,direct --batching off,on
done
# Memory of lrem serve (section 6c): the worst valid requests, then a soak of good, bad, slow and
# idle clients (10 minutes) on the demo index, with the model's router.json so that mode auto runs too.
index="$work/serve-index-$demo_label"
[ -f "$demo/router.json" ] && cp "$demo/router.json" "$index/router.json"
run "worst-$demo_label" $py "$root/bench/serve_worst_request.py" --lrem "$bin/lrem" --model "$demo" --index "$index" \
  --queries "$data/queries_test.jsonl" --serve-arg=--threads=1
run soak $py "$root/bench/serve_soak.py" --lrem "$bin/lrem" --model "$demo" --index "$index" \
  --queries "$data/queries_test.jsonl" --minutes "${LREM_BENCH_SOAK_MINUTES:-10}" --serve-arg=--threads=1 \
  || echo "bench: the soak did not pass; section 6c shows its verdict" >&2
# Training memory on a Qwen2-0.5B shape (section 10): about 30 minutes on 2 busy cores, opt-in.
[ "${LREM_BENCH_TRAIN_MEMORY:-0}" = 1 ] && bash "$root/bench/train_memory.sh" "$build" "$work"
$py "$root/bench/report.py" --results "$results" --notes "$root/bench/levers.md" --out "$root/docs/BENCHMARKS.md"
echo "bench: wrote $root/docs/BENCHMARKS.md" >&2
