#!/usr/bin/env bash
# Issue 12, point 6: peak memory and seconds per stage-1 step on a random-weight
# Qwen2-0.5B-shaped backbone, full fine-tuning vs LoRA, with and without gradient
# checkpointing (one process per row, run one after another: two full fine-tunings of 0.5B
# at once would not be a measurement), then a short loss curve of each mode on a small
# triplet set (on the stories260K fixture). Results: JSON lines in $work/results/train_memory.jsonl; docs/BENCHMARKS.md
# quotes them.
#
#   bash bench/train_memory.sh [BUILD_DIR] [WORK_DIR]
#
# BUILD_DIR must hold bin/bench_make_model and bin/bench_train_memory (configure with
# -DLREM_BUILD_BENCH=ON). Env: STEPS (timed steps per row, 3), BATCH (triplets per step, 4),
# CURVE_STEPS (40), CURVE_TRIPLETS (16), LR_FULL (1e-3), LR_LORA (1e-2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-bench}"
work="${2:-$build/bench-work}"
bin="$build/bin"
py=/usr/bin/python3
fixtures="${LREM_FIXTURES_DIR:-$root/../shared/fixtures}"
mkdir -p "$work/results"
out="$work/results/train_memory.jsonl"
echo '{"bench": "command", "command": "bash bench/train_memory.sh (STEPS='"${STEPS:-3}"' BATCH='"${BATCH:-4}"', then loss curves)"}' >"$out"

data="$work/data"
[ -f "$data/triplets_train.jsonl" ] || $py "$root/scripts/make_benchmark.py" --out "$data" --seed 13 >/dev/null
model="$work/m0.5b-qwen2"
[ -f "$model/config.json" ] || "$bin/bench_make_model" --size 0.5b-qwen2 --tokenizer "$fixtures/qwen2-bpe" \
  --out "$model" >>"$out"

export OMP_WAIT_POLICY=PASSIVE
for mode in full lora; do
  for ckpt in "" --checkpointing; do
    echo "bench: $mode $ckpt" >&2
    "$bin/bench_train_memory" --model "$model" --triplets "$data/triplets_train.jsonl" --work "$work/train-memory" \
      --mode "$mode" $ckpt --steps "${STEPS:-3}" --batch "${BATCH:-4}" --label 0.5b-qwen2 >>"$out"
  done
done

# Loss curves: CURVE_TRIPLETS triplets seen again and again (an epoch every few steps), on the
# pretrained stories260K fixture (a real tiny Llama; on 2 shared cores one 0.5B step takes
# minutes, and a random backbone's <emb> states are all alike, so InfoNCE has nothing to move).
head -n "${CURVE_TRIPLETS:-16}" "$data/triplets_train.jsonl" >"$work/triplets_small.jsonl"
for mode in full lora; do
  lr="${LR_FULL:-1e-3}"; [ "$mode" = lora ] && lr="${LR_LORA:-1e-2}"
  echo "bench: curve $mode" >&2
  "$bin/bench_train_memory" --model "$fixtures/stories260K" --triplets "$work/triplets_small.jsonl" \
    --work "$work/train-memory" --mode "$mode" --checkpointing --steps "${CURVE_STEPS:-40}" --batch "${BATCH:-4}" \
    --lr "$lr" --label stories260K-curve >>"$out"
done
echo "bench: results in $out" >&2
