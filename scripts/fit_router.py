#!/usr/bin/python3
"""Chooses the threshold of mode "auto" (adaptive reasoning) for a model and catalogue on a dev split.

    scripts/fit_router.py --lrem build/bin/lrem --model models/lrem-demo --data runs/demo/data \\
        --split dev --out runs/router [--metric Precision@10] [--keep 1.0 | --max-share 0.5] \\
        [--write INDEX_DIR/router.json]

Mode auto searches every query in direct mode first and reasons only when the best direct hit
scores below a threshold (docs/SERVING.md, "Adaptive reasoning"). This script runs `lrem eval` on
the split in both modes (cached in --out, as scripts/demo_report.py does), replays the rule for
every candidate threshold and picks the one that reasons on the fewest queries while the split's
mean --metric stays at least --keep times that of always reasoning, or, with --max-share, the one
with the best mean --metric among those that reason on at most that share of the queries (the
fewest-queries rule sits on the edge of what the split allows; the budget rule does not). --data holds items.jsonl,
queries_<split>.jsonl and qrels_<split>.jsonl (scripts/make_benchmark.py's layout). --write saves
{"min_direct_score": ...} with how it was chosen, where Retriever.open and `lrem serve` read it:
router.json in the index directory. Tune on dev only; report on test.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_report import METRICS, fingerprint, run_eval  # noqa: E402


def per_query(result: dict, rankings_path: str, metric: str) -> dict[str, tuple[float, float]]:
    """query_id -> (metric, best score); a query with no hit scores -inf."""
    best = {}
    with open(rankings_path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            best[row["query_id"]] = row["scores"][0] if row["scores"] else float("-inf")
    return {q["query_id"]: (q[metric], best[q["query_id"]]) for q in result["per_query"]}


def choose(reason: dict, direct: dict, keep: float = 1.0,
           max_share: float | None = None) -> tuple[float, list[tuple[float, float, float]]]:
    """The threshold with the fewest reasoning queries whose mean metric is >= keep x always-reason's,
    or (max_share given) the best mean metric among thresholds reasoning on <= max_share of them.

    Returns it and the curve (threshold, share reasoned, mean metric) over every candidate."""
    ids = sorted(reason)
    if not ids:
        raise SystemExit("fit_router: the split has no judged queries")
    target = keep * sum(reason[i][0] for i in ids) / len(ids)
    # Candidates: each query's best direct score (reason below it), and above all of them (always reason).
    candidates = sorted({direct[i][1] for i in ids}) + [float("inf")]
    curve = []
    for t in candidates:
        routed = [reason[i][0] if direct[i][1] < t else direct[i][0] for i in ids]
        share = sum(direct[i][1] < t for i in ids) / len(ids)
        curve.append((t, share, sum(routed) / len(ids)))
    if max_share is not None:
        within = [c for c in curve if c[1] <= max_share + 1e-12]
        return min(within, key=lambda c: (-c[2], c[1], c[0]))[0], curve
    feasible = [c for c in curve if c[2] >= target - 1e-12]
    return min(feasible, key=lambda c: (c[1], c[0]))[0], curve


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrem", required=True, help="the lrem executable")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--data", required=True, help="directory with items.jsonl, queries_<split>.jsonl, qrels_<split>.jsonl")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", required=True, help="directory for the cached lrem eval JSON files")
    parser.add_argument("--metric", default="Precision@10", choices=METRICS)
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument("--keep", type=float,
                      help="share of always-reason quality to keep on the split (default 1.0: no loss)")
    rule.add_argument("--max-share", type=float,
                      help="instead of --keep: the best quality among thresholds that reason on at most this "
                           "share of the split's queries")
    parser.add_argument("--write", help="write router.json here (e.g. INDEX_DIR/router.json)")
    args = parser.parse_args(argv)
    if args.keep is None:
        args.keep = 1.0
    if not 0 < args.keep <= 1:
        parser.error(f"--keep must be in (0, 1], got {args.keep}")
    if args.max_share is not None and not 0 <= args.max_share <= 1:
        parser.error(f"--max-share must be in [0, 1], got {args.max_share}")
    os.makedirs(args.out, exist_ok=True)
    key = f"{args.split}-{fingerprint(args.model)}"
    runs = {}
    for mode in ("reason", "direct"):
        out = os.path.join(args.out, f"{mode}-{key}.json")
        result = run_eval(args.lrem, f"{args.data}/items.jsonl", f"{args.data}/queries_{args.split}.jsonl",
                          f"{args.data}/qrels_{args.split}.jsonl", args.model, ["--mode", mode], out)
        runs[mode] = per_query(result, out.removesuffix(".json") + ".rankings.jsonl", args.metric)
    if runs["reason"].keys() != runs["direct"].keys():
        raise SystemExit("fit_router: the two runs judged different queries")
    threshold, curve = choose(runs["reason"], runs["direct"], args.keep, args.max_share)
    n = len(runs["reason"])
    always = {mode: sum(v[0] for v in runs[mode].values()) / n for mode in runs}
    chosen = next(c for c in curve if c[0] == threshold)
    print(f"{args.split}: {n} queries; {args.metric} always reason {always['reason']:.4f}, "
          f"always direct {always['direct']:.4f}")
    for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        t, share, value = curve[min(len(curve) - 1, int(q * (len(curve) - 1)))]
        print(f"  threshold {t:.4f}: reasons on {share:.0%}, {args.metric} {value:.4f}")
    print(f"chosen: min_direct_score {threshold:.4f}, reasons on {chosen[1]:.1%} of the {args.split} queries, "
          f"{args.metric} {chosen[2]:.4f} " + (f"(the best reasoning on <= {args.max_share:.0%})"
                                               if args.max_share is not None else f"(>= {args.keep} x always reason)"))
    if threshold == float("inf"):
        print("no threshold below 'always reason' keeps the quality: auto mode would reason on every query")
        threshold = 1.0
    if args.write:
        record = {"min_direct_score": round(threshold, 6),
                  "chosen_on": f"{args.data}, split {args.split}, {n} queries",
                  "metric": args.metric,
                  **({"max_share": args.max_share} if args.max_share is not None else {"keep": args.keep}),
                  "reason_share": round(chosen[1], 4),
                  "model_sha256": fingerprint(args.model),
                  "command": " ".join(["scripts/fit_router.py", *map(shlex.quote, argv)])}
        with open(args.write + ".tmp", "w", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=2) + "\n")
        os.replace(args.write + ".tmp", args.write)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
