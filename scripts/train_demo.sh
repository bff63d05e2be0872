#!/usr/bin/env bash
# Reproduces the shipped default model (models/lrem-demo) from scratch with lrem's own recipe:
# benchmark data (fixed seed) -> pretraining (tokenizer + a small Llama on the corpus, which
# includes reasoning-format lines for every product type) -> the direct-embedding baseline
# (stage 1 with empty chains of thought) -> stage 1 (SFT + InfoNCE on the teacher's triplets) ->
# stage 2 (GRPO). The configs are configs/demo/*.json.
#
#   scripts/train_demo.sh [OUT_DIR]          (default: runs/demo)
#   LREM_INSTALL_DEMO=1 scripts/train_demo.sh   also copies the result into models/
#   LREM_DEMO_CONFIGS=configs/wordnet scripts/train_demo.sh   the recipe whose pretraining adds
#       WordNet's everyday vocabulary (docs/RESULTS.md, "Natural queries")
#   LREM_DEMO_CONFIGS=configs/lexicon scripts/train_demo.sh   a wider backbone that reads WordNet
#       restricted to the catalogue's neighbourhood from scratch, in bfloat16 (RESULTS, item 18)
#   LREM_DEMO_SEED=14 scripts/train_demo.sh runs/seed14   another seed for the direct baseline,
#       stage 1 and stage 2 (data order, sampling); the data and pretraining stay the recipe's.
#       A copy of a finished runs/demo/pretrain in the new directory is reused (--resume).
#   LREM_DEMO_CURATE=1 scripts/train_demo.sh    stage 1 on curated triplets instead (`lrem curate`:
#       the teacher's CoTs kept for the exact items that the direct baseline finds with
#       query + CoT but not with the query alone, as the paper curates). It lost on dev
#       (docs/RESULTS.md, "What worked", item 10), so the recipe leaves it out.
#
# Every stage prints its progress; the wall time of each is printed at the end.
# docs/RESULTS.md gives the measured times.
set -euo pipefail
# OpenMP workers that sleep instead of spin-waiting between the many small matrix products:
# with the default (active) policy, over half the CPU time went to spinning in libgomp and
# pretraining ran at 0.15 steps/s; passive waiting gave 1.5 steps/s on the same shared machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if [ "${LREM_INSTALL_DEMO:-0}" = 1 ] && [ -n "${LREM_DEMO_SEED:-}" ]; then
  echo "train_demo: LREM_INSTALL_DEMO ships seed 13's models only; unset LREM_DEMO_SEED" >&2; exit 1
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LREM_BUILD_DIR:-$root/build}"
# LREM_DEMO_CONFIGS=configs/wordnet: another recipe; each of its files replaces configs/demo's.
configs="$root/configs/demo"
overrides="$(cd "$root" && realpath -m "${LREM_DEMO_CONFIGS:-configs/demo}")"
# A misspelt directory would otherwise fall back to configs/demo file by file, silently.
if [ ! -d "$overrides" ]; then
  echo "train_demo: LREM_DEMO_CONFIGS=$LREM_DEMO_CONFIGS is not a directory; the recipes are: $(cd "$root/configs" && echo */ | tr -d /)" >&2
  exit 1
fi
config() { if [ -f "$overrides/$1" ]; then echo "$overrides/$1"; else echo "$configs/$1"; fi; }
out="$(mkdir -p "${1:-$root/runs/demo}" && cd "${1:-$root/runs/demo}" && pwd)"

if ! bash "$root/scripts/build.sh" >"$build.train-demo-build.log" 2>&1; then
  tail -n 40 "$build.train-demo-build.log"; echo "train_demo: the build failed" >&2; exit 1
fi
lrem="$build/bin/lrem"
cd "$out"  # the configs name their files relative to this directory
times=()
stage() {  # stage NAME COMMAND...: runs the command and records its wall time
  local name="$1"; shift
  local start=$SECONDS
  echo "== $name"
  "$@"
  times+=("$(printf '%-10s %5d s' "$name" $((SECONDS - start)))")
}

read -r -a benchmark_args <"$(config benchmark.args)"
stage data /usr/bin/python3 "$root/scripts/make_benchmark.py" --out data "${benchmark_args[@]}"
# The direct-embedding baseline is stage 1 on the same triplets with empty chains of thought.
/usr/bin/python3 -c '
import json
with open("data/triplets_direct.jsonl", "w") as out:
    for line in open("data/triplets_train.jsonl"):
        row = json.loads(line); row["cot"] = ""; out.write(json.dumps(row) + "\n")'
# --resume: an interrupted stage continues from its last checkpoint; a finished one is skipped.
stage pretrain "$lrem" train pretrain --config "$(config pretrain.json)" --resume
seed=(); if [ -n "${LREM_DEMO_SEED:-}" ]; then seed=(--seed "$LREM_DEMO_SEED"); fi
stage direct "$lrem" train sft --config "$(config direct.json)" --resume "${seed[@]}"
# Stage 1 reads data/triplets_stage1.jsonl: every teacher triplet, or the curated ones.
# Relevance threshold 2: only exact items (grade 1 pairs "adder Amberlight" with other brands'
# adders). No --backbone, as in the measured ablation: curation sees whole CoTs (18 of the
# teacher's 1,345 exceed 16 tokens); stage 1 cuts every CoT to the model's max_cot_tokens.
if [ "${LREM_DEMO_CURATE:-0}" = 1 ]; then
  stage curate "$lrem" curate --model direct --baseline direct --items data/items.jsonl \
    --queries data/queries_train.jsonl --qrels data/qrels_train.jsonl \
    --teacher-cots data/triplets_train.jsonl --relevance-threshold 2 \
    -o data/triplets_stage1.jsonl
else
  cp data/triplets_train.jsonl data/triplets_stage1.jsonl
fi
stage stage1 "$lrem" train sft --config "$(config stage1.json)" --resume "${seed[@]}"
stage stage2 "$lrem" train grpo --config "$(config stage2.json)" --resume "${seed[@]}"

if [ "${LREM_INSTALL_DEMO:-0}" = 1 ]; then
  for pair in "stage2:lrem-demo" "stage1:lrem-demo-cold-start" "direct:lrem-demo-direct"; do
    src="${pair%%:*}"; dst="$root/models/${pair#*:}"
    mkdir -p "$dst"
    for f in config.json model.safetensors tokenizer.model tokenizer_config.json lrem_config.json \
             generation_config.json; do cp "$src/$f" "$dst/$f"; done
    echo "installed $out/$src -> $dst"
  done
fi
echo "== wall time"
printf '%s\n' "${times[@]}"
echo "total      $SECONDS s; models in $out/{pretrain,stage1,direct,stage2}"
