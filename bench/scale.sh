#!/usr/bin/env bash
# The measurements of docs/SCALE.md: distributed encoding throughput (1 vs 2 ranks, 1 thread
# each), a resume after a killed rank, and end-to-end builds of 1M and 2M generated items into
# an IVF-PQ index (wall time, peak RSS per rank, recall@10 against exact search).
#   bench/scale.sh WORK_DIR SOURCE_ITEMS QUERIES   (SOURCE_ITEMS: the demo benchmark's items.jsonl,
#                                                   QUERIES: its queries_*.jsonl)
# Ranks are launched as torchrun would (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each under
# /usr/bin/time -v for its peak RSS. Environment: LREM (the lrem binary), LREM_PYTHONPATH (the
# lrem Python package's directory), MODEL, FACTORY, SIZES (catalogue sizes of the end-to-end
# runs), STEPS (a subset of "throughput resume e2e index"; "index" rebuilds the index alone, on 1
# and on 2 ranks, from the embeddings an earlier e2e run left in ix<n>.work: every chunk is
# verified and skipped, so the peak RSS is the index stage's plus the process's baseline; RANKS
# picks the rank counts).
set -euo pipefail
work=$1 source=$2 queries=$3
root=$(cd "$(dirname "$0")/.." && pwd)
lrem=${LREM:-$root/build/bin/lrem}
model=${MODEL:-$root/models/lrem-demo}
factory=${FACTORY:-IVF1024,PQ32np}
steps=${STEPS:-throughput resume e2e}
export PYTHONPATH=${LREM_PYTHONPATH:-$root/build/python}
mkdir -p "$work"
cd "$work"
log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*"; }

# ranks N TAG ARGS...: runs `lrem ARGS` as N ranks; per-rank stdout/stderr/time in TAG.rank<r>.*
ranks() {
  local n=$1 tag=$2 r
  shift 2
  local pids=() port=$((29700 + RANDOM % 200))
  for r in $(seq 0 $((n - 1))); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      /usr/bin/time -v -o "$tag.rank$r.time" "$lrem" "$@" >"$tag.rank$r.out" 2>"$tag.rank$r.err" &
    pids+=($!)
  done
  local status=0
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  for r in $(seq 0 $((n - 1))); do
    log "$tag rank $r: $(grep -h 'rank' "$tag.rank$r.out" | head -1) peak RSS $(awk '/Maximum resident/ {print $6}' "$tag.rank$r.time") KB, wall $(awk '/Elapsed/ {print $8}' "$tag.rank$r.time")"
  done
  return $status
}

encoded=""  # the throughput and resume steps' catalogue
[[ $steps == *throughput* || $steps == *resume* ]] && encoded=120000
for n in $encoded ${SIZES:-1000000 2000000}; do
  [ -f items$n.jsonl ] || /usr/bin/python3 "$root/bench/scale_catalogue.py" --source "$source" --items $n --out items$n.jsonl
done

embed=(embed --model "$model" --items items120000.jsonl --threads 1 --chunk-bytes 131072 --quiet)
if [[ $steps == *throughput* ]]; then
log "throughput: 120,000 items, 1 rank"
rm -rf t1 t2 r2
start=$(date +%s.%N); ranks 1 thr1 "${embed[@]}" --chunks-dir t1; end=$(date +%s.%N)
log "throughput 1 rank: $(echo "120000 / ($end - $start)" | bc -l | cut -c1-7) items/s"
start=$(date +%s.%N); ranks 2 thr2 "${embed[@]}" --chunks-dir t2; end=$(date +%s.%N)
log "throughput 2 ranks: $(echo "120000 / ($end - $start)" | bc -l | cut -c1-7) items/s"
cmp <(cat t1/chunk-*.bin) <(cat t2/chunk-*.bin) && log "1 and 2 ranks wrote identical chunks"
fi

if [[ $steps == *resume* ]]; then

log "resume: 2 ranks, rank 1 killed after 8 s"
pids=()
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29690 "$lrem" "${embed[@]}" --chunks-dir r2 \
    >kill.rank$r.out 2>kill.rank$r.err &
  pids+=($!)
done
sleep 8
kill -KILL "${pids[1]}"
wait "${pids[0]}" || log "rank 0 stopped: $(tail -1 kill.rank0.err)"
log "resume: $(ls r2/chunk-*.json | wc -l) of $(grep -o '"chunks": [0-9]*' r2/manifest.json) chunks finished before the rerun"
ranks 2 resume "${embed[@]}" --chunks-dir r2
cmp <(cat t1/chunk-*.bin) <(cat r2/chunk-*.bin) && log "the resumed run's chunks equal the clean run's"
fi

if [[ $steps == *index* ]]; then
for n in ${SIZES:-1000000 2000000}; do
  for r in ${RANKS:-1 2}; do
    log "index stage: $n vectors -> $factory, $r rank(s), from the embeddings in ix$n.work"
    rm -rf idx$n-$r
    ranks $r idx$n-$r index build --model "$model" --items items$n.jsonl --output idx$n-$r --factory "$factory" \
      --threads 1 --work-dir ix$n.work
    rm -rf idx$n-$r
  done
done
fi

[[ $steps == *e2e* ]] || exit 0

/usr/bin/python3 - "$queries" <<'PY' >queries1000.jsonl
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][:1000]
assert len(rows) == 1000, f"{sys.argv[1]} holds only {len(rows)} queries"
for r in rows: print(json.dumps({"id": str(r["id"]), "text": r["text"]}))
PY
"$lrem" embed --model "$model" --queries queries1000.jsonl --mode direct -o queries1000.npy --threads 1 --quiet

for n in ${SIZES:-1000000 2000000}; do
  log "end to end: $n items -> $factory, 2 ranks"
  rm -rf ix$n ix$n.work flat$n
  start=$(date +%s)
  ranks 2 e2e$n index build --model "$model" --items items$n.jsonl --output ix$n --factory "$factory" --threads 1
  log "end to end $n: $(( $(date +%s) - start )) s wall"
  ranks 1 flat$n index build --model "$model" --items items$n.jsonl --output flat$n --factory Flat --threads 1 \
    --work-dir ix$n.work
  for mapped in "" --mmap; do
    /usr/bin/python3 "$root/bench/scale_recall.py" --index ix$n --exact flat$n --queries queries1000.npy $mapped |
      while read -r line; do log "$n: $line"; done
  done
done
