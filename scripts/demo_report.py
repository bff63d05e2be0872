#!/usr/bin/python3
"""Runs `lrem eval` for the demo's systems on one benchmark split and prints the comparison table.

    scripts/demo_report.py --lrem build/bin/lrem --data runs/demo/data --out runs/demo/eval \\
        --system "BM25=bm25" --system "Direct embedding=runs/demo/direct:--mode direct" \\
        --system "LREM cold start=runs/demo/stage1" --system "LREM +RL=runs/demo/stage2" \\
        --system "Empty-CoT=runs/demo/stage2:--cot-source empty" [--plot hr.png] [--markdown]

A system is LABEL=bm25 or LABEL=MODEL_DIR[:extra lrem eval options]. Each system's metrics come
from `lrem eval --json` (scored by lrem's evaluator) and are cached in --out by label, model
fingerprint and options, so a second run only prints. A table shows one metric (--metric; default
HitRate@10, the LREM paper's, i.e. recall@10) per category, "difficult" (the knowledge, synonym, alternative and
negation queries together: the mean over those queries) and overall, and the ratio of each
system's difficult score to the first system labelled --baseline. "CoT names type" is the share
of knowledge queries whose chain of thought contains the name of the type they ask for (systems
that generate a CoT only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

CATEGORIES = ("lexical", "knowledge", "synonym", "alternative", "negation")
DIFFICULT = CATEGORIES[1:]
METRICS = tuple(f"{m}@{k}" for m in ("HitRate", "Precision") for k in (1, 5, 10, 50)) + ("NDCG@10", "MRR")


def parse_system(spec: str) -> tuple[str, str, list[str]]:
    if "=" not in spec:
        raise SystemExit(f"demo_report: --system {spec!r}: expected LABEL=bm25 or LABEL=MODEL_DIR[:OPTIONS]")
    label, rest = spec.split("=", 1)
    model, _, options = rest.partition(":")
    return label, model, options.split()


def fingerprint(model: str) -> str:
    if model == "bm25":
        return "bm25"
    digest = hashlib.sha256()
    with open(os.path.join(model, "model.safetensors"), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def run_eval(lrem: str, data: str, split: str, model: str, options: list[str], out: str) -> dict:
    if not os.path.exists(out):
        command = [lrem, "eval", "--items", f"{data}/items.jsonl", "--queries", f"{data}/queries_{split}.jsonl",
                   "--qrels", f"{data}/qrels_{split}.jsonl", "--ks", "1,5,10,50", "--quiet", "--json", out + ".tmp",
                   "--rankings", out.removesuffix(".json") + ".rankings.jsonl"]
        command += ["--system", "bm25"] if model == "bm25" else ["--model", model, *options]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.replace(out + ".tmp", out)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def cot_names_type(rankings_path: str, data: str, split: str) -> float | None:
    """Share of knowledge queries whose CoT contains a word-bounded name of an accepted type."""
    with open(f"{data}/types.jsonl", encoding="utf-8") as f:
        names = {t["type_id"]: t["name"].lower() for t in map(json.loads, f)}
    with open(f"{data}/queries_{split}.jsonl", encoding="utf-8") as f:
        wanted = {q["id"]: q["type_ids"] for q in map(json.loads, f) if q["category"] == "knowledge"}
    hits = []
    with open(rankings_path, encoding="utf-8") as f:
        for run in map(json.loads, f):
            if run["query_id"] in wanted and run["cot"]:
                cot = " " + " ".join(re.findall(r"[\w'-]+", run["cot"].lower())) + " "
                hits.append(any(f" {names[t]} " in cot for t in wanted[run["query_id"]]))
    return sum(hits) / len(hits) if hits else None


def summarise(result: dict, metric: str) -> dict[str, float]:
    row = {c: result["groups"][c][metric] for c in CATEGORIES if c in result["groups"]}
    hard = [q[metric] for q in result["per_query"] if q["category"] in DIFFICULT]
    row["difficult"] = sum(hard) / len(hard)
    row["overall"] = result["groups"]["overall"][metric]
    return row


def table(rows: list[tuple[str, dict[str, float]]], baseline: str, markdown: bool) -> str:
    columns = [*CATEGORIES, "difficult", "overall"]
    base = next((r["difficult"] for label, r in rows if label == baseline), None)
    header = ["system", *columns] + (["difficult / baseline"] if base else []) + ["CoT names type"]
    lines = []
    for label, r in rows:
        cells = [label, *(f"{r[c]:.3f}" for c in columns)]
        if base:
            cells.append(f"{r['difficult'] / base:.2f}x" if base > 0 else "-")
        cells.append("-" if r.get("cot_names_type") is None else f"{r['cot_names_type']:.2f}")
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    width = max(len(h) for h in [header[0], *(c[0] for c in lines)]) + 2
    fmt = lambda cells: cells[0].ljust(width) + "".join(c.rjust(max(12, len(h) + 2)) for c, h in zip(cells[1:], header[1:]))
    return "\n".join([fmt(header), *(fmt(c) for c in lines)])


def plot(results: list[tuple[str, dict]], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = (1, 5, 10, 50)
    fig, axes = plt.subplots(1, len(CATEGORIES), figsize=(4 * len(CATEGORIES), 3.6), sharey=True)
    for ax, category in zip(axes, CATEGORIES):
        for label, result in results:
            group = result["groups"].get(category)
            if group:
                ax.plot(ks, [group[f"HitRate@{k}"] for k in ks], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_title(category)
        ax.set_xlabel("K")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("HitRate@K")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrem", required=True, help="the lrem executable")
    parser.add_argument("--data", required=True, help="benchmark directory (scripts/make_benchmark.py)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", required=True, help="directory for the cached lrem eval JSON files")
    parser.add_argument("--system", action="append", required=True, help="LABEL=bm25 or LABEL=MODEL[:OPTIONS]")
    parser.add_argument("--baseline", default="Direct embedding", help="label the ratio column divides by")
    parser.add_argument("--metric", action="append", choices=METRICS,
                        help="metric of a table; repeat for several tables (default HitRate@10)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--plot", help="write HitRate@K per category as a PNG here")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results, cot_rates = [], []
    for spec in args.system:
        label, model, options = parse_system(spec)
        key = re.sub(r"[^A-Za-z0-9]+", "-", f"{label}-{args.split}-{fingerprint(model)}-{'-'.join(options)}")
        out = os.path.join(args.out, key.strip("-") + ".json")
        try:
            results.append((label, run_eval(args.lrem, args.data, args.split, model, options, out)))
        except subprocess.CalledProcessError as e:
            print(f"demo_report: {label}: `{' '.join(e.cmd)}` failed (exit {e.returncode})", file=sys.stderr)
            return 1
        cot_rates.append(cot_names_type(out.removesuffix(".json") + ".rankings.jsonl", args.data, args.split))
    for n, metric in enumerate(args.metric or ["HitRate@10"]):
        rows = [(label, {**summarise(result, metric), "cot_names_type": rate})
                for (label, result), rate in zip(results, cot_rates)]
        num_queries = results[0][1]["groups"]["overall"]["num_queries"]
        print(("\n" if n else "") + f"{metric} on the {args.split} split ({num_queries} queries)")
        print(table(rows, args.baseline, args.markdown))
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
