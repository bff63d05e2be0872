#!/usr/bin/python3
"""Runs `lrem eval` for the demo's systems on one benchmark split, or on the hand-written natural
queries, and prints the comparison tables.

    scripts/demo_report.py --lrem build/bin/lrem --data runs/demo/data --out runs/demo/eval \\
        --system "BM25=bm25" --system "Direct embedding=runs/demo/direct:--mode direct" \\
        --system "LREM cold start=runs/demo/stage1" --system "LREM +RL=runs/demo/stage2" \\
        --system "Empty-CoT=runs/demo/stage2:--cot-source empty" [--plot hr.png] [--markdown]

A system is LABEL=bm25 or LABEL=MODEL_DIR[:extra lrem eval options]; LABEL=DIR1,DIR2,...[:OPTIONS]
is one system trained with several seeds, whose cells are the mean over the runs with their
range, "0.514 (0.502-0.527)", and whose ratio is that of the means. Each run's metrics come
from `lrem eval --json` (scored by lrem's evaluator) and are cached in --out by label, model
fingerprint and options, so a second run only prints. A table shows one metric (--metric; default
HitRate@10, the LREM paper's, i.e. recall@10) per category, "difficult" (the knowledge, synonym, alternative and
negation queries together: the mean over those queries) and overall, and the ratio of each
system's difficult score to the first system labelled --baseline. "CoT names type" is the share
of knowledge queries whose chain of thought contains the name of the type they ask for (systems
that generate a CoT only).

With --natural data/natural_queries/queries.jsonl the queries are the hand-written set instead of a
split: its judgements are derived from the --data catalogue (scripts/benchmark/natural.py) into
--out/natural/, and the tables have one column per style, for the held-out (dev+test) types and the
train types separately; "CoT names type" is then the share of all its queries whose CoT names the
type, and the words of the queries found in the pretraining corpus ({data}/corpus.txt) are counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmark import natural  # noqa: E402
from benchmark.jsonl import read_jsonl, write_jsonl  # noqa: E402

CATEGORIES = ("lexical", "knowledge", "synonym", "alternative", "negation")
DIFFICULT = CATEGORIES[1:]
METRICS = tuple(f"{m}@{k}" for m in ("HitRate", "Precision") for k in (1, 5, 10, 50)) + ("NDCG@10", "MRR")
# A table's columns: each pools the queries of some categories (for the natural set, styles).
SPLIT_COLUMNS = {**{c: {c} for c in CATEGORIES}, "difficult": set(DIFFICULT), "overall": set(CATEGORIES)}
NATURAL_COLUMNS = {**{s: {s} for s in natural.STYLES}, "overall": set(natural.STYLES)}


@dataclass(frozen=True)
class View:
    """One table per metric: the queries it averages over, its columns, the column the ratio to the
    baseline divides, and the queries whose CoT "CoT names type" checks."""
    title: str
    query_ids: set
    columns: dict
    ratio_column: str
    cot_query_ids: set


def parse_system(spec: str) -> tuple[str, list[str], list[str]]:
    """LABEL, its model directories (one per seed) and the extra `lrem eval` options. A label
    may itself hold "=" or ","; the split is the first "=" after which every model exists
    (otherwise the first "=", so that a missing directory is reported as such)."""
    def split(at: int) -> tuple[str, list[str], str]:
        models, _, options = spec[at + 1:].partition(":")
        return spec[:at], models.split(","), options

    cuts = [split(at) for at, char in enumerate(spec) if char == "="] or [("", [], "")]
    label, models, options = next((cut for cut in cuts if all(m == "bm25" or os.path.isdir(m) for m in cut[1])),
                                  cuts[0])
    if not label or not all(models):
        raise SystemExit(f"demo_report: --system {spec!r}: expected LABEL=bm25 or LABEL=MODEL_DIR[,MODEL_DIR...][:OPTIONS]")
    return label, models, options.split()


def digest(*paths: str) -> str:
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def fingerprint(model: str) -> str:
    return "bm25" if model == "bm25" else digest(os.path.join(model, "model.safetensors"))


def run_eval(lrem: str, items: str, queries: str, qrels: str, model: str, options: list[str], out: str) -> dict:
    if not os.path.exists(out):
        command = [lrem, "eval", "--items", items, "--queries", queries, "--qrels", qrels, "--ks", "1,5,10,50",
                   "--quiet", "--json", out + ".tmp", "--rankings", out.removesuffix(".json") + ".rankings.jsonl"]
        command += ["--system", "bm25"] if model == "bm25" else ["--model", model, *options]
        # stderr is kept for the caller's error message: it says what lrem eval found wrong.
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        os.replace(out + ".tmp", out)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def cot_names_type(rankings_path: str, names: dict[str, str], wanted: dict[str, list[str]]) -> float | None:
    """Share of the wanted queries whose CoT contains a word-bounded name of an accepted type."""
    hits = []
    with open(rankings_path, encoding="utf-8") as f:
        for run in map(json.loads, f):
            if run["query_id"] in wanted and run["cot"]:
                cot = " " + " ".join(re.findall(r"[\w'-]+", run["cot"].lower())) + " "
                hits.append(any(f" {names[t]} " in cot for t in wanted[run["query_id"]]))
    return sum(hits) / len(hits) if hits else None


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def corpus_coverage(queries: list[dict], corpus_path: str) -> str:
    """How many of the queries' words the pretraining corpus contains, by occurrence and distinct."""
    with open(corpus_path, encoding="utf-8") as f:
        known = set(words(f.read()))
    used = [w for q in queries for w in words(q["text"])]
    distinct = set(used)
    return (f"words of these queries found in the pretraining corpus {corpus_path} ({len(known)} distinct words): "
            f"{sum(w in known for w in used) / len(used):.1%} of {len(used)} occurrences, "
            f"{len(distinct & known) / len(distinct):.1%} of {len(distinct)} distinct words")


def summarise(result: dict, metric: str, view: View) -> dict[str, float | None]:
    row = {}
    for column, categories in view.columns.items():
        values = [q[metric] for q in result["per_query"]
                  if q["query_id"] in view.query_ids and q["category"] in categories]
        row[column] = sum(values) / len(values) if values else None
    return row


def mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(values) / len(values)


def cell(values: list[float | None], fmt: str) -> str:
    """One run's value, or several seeds' mean and range."""
    if any(v is None for v in values):
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(mean(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(rows: list[tuple[str, list[dict]]], view: View, baseline: str, markdown: bool) -> str:
    """One row per system; a system's runs (seeds) are a list of rows of column values."""
    columns = list(view.columns)
    base = next((mean([r[view.ratio_column] for r in runs]) for label, runs in rows if label == baseline), None)
    header = ["system", *columns] + ([f"{view.ratio_column} / baseline"] if base is not None else []) \
        + ["CoT names type"]
    lines = []
    for label, runs in rows:
        cells = [label, *(cell([r[c] for r in runs], "{:.3f}") for c in columns)]
        if base is not None:
            value = mean([r[view.ratio_column] for r in runs])
            cells.append(f"{value / base:.2f}x" if base and value is not None else "-")
        cells.append(cell([r.get("cot_names_type") for r in runs], "{:.2f}"))
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
    parser.add_argument("--natural", help="the hand-written natural queries (data/natural_queries/queries.jsonl) "
                                          "to evaluate instead of --split")
    parser.add_argument("--out", required=True, help="directory for the cached lrem eval JSON files")
    parser.add_argument("--system", action="append", required=True, help="LABEL=bm25 or LABEL=MODEL[:OPTIONS]")
    parser.add_argument("--baseline", default="Direct embedding", help="label the ratio column divides by")
    parser.add_argument("--metric", action="append", choices=METRICS,
                        help="metric of a table; repeat for several tables (default HitRate@10)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--plot", help="write HitRate@K per category as a PNG here "
                        "(of the first run of a system with several seeds)")
    args = parser.parse_args(argv)
    if args.natural and args.plot:
        parser.error("--plot draws the benchmark's categories; it does not apply to --natural")
    os.makedirs(args.out, exist_ok=True)
    if args.natural:
        try:
            queries, qrels = natural.judge(args.natural, args.data)
        except (OSError, ValueError) as e:
            print(f"demo_report: {e}", file=sys.stderr)
            return 1
        os.makedirs(os.path.join(args.out, "natural"), exist_ok=True)
        queries_path, qrels_path = (os.path.join(args.out, "natural", f) for f in ("queries.jsonl", "qrels.jsonl"))
        write_jsonl(queries_path, queries)
        write_jsonl(qrels_path, qrels)
        name = "natural"
        groups = {"held-out (dev+test) types": lambda q: q["split"] in natural.HELD_OUT,
                  "train types": lambda q: q["split"] not in natural.HELD_OUT}
        views = []
        for group, keep in groups.items():
            ids = {q["id"] for q in queries if keep(q)}
            views.append(View(f"on the natural queries of {group} ({len(ids)} queries)", ids, NATURAL_COLUMNS,
                              "overall", ids))
    else:
        queries_path, qrels_path = (f"{args.data}/{f}_{args.split}.jsonl" for f in ("queries", "qrels"))
        queries = read_jsonl(queries_path)
        name = args.split
        views = [View(f"on the {args.split} split ({len(queries)} queries)", {q["id"] for q in queries},
                      SPLIT_COLUMNS, "difficult", {q["id"] for q in queries if q["category"] == "knowledge"})]
    names = {t["type_id"]: t["name"].lower() for t in read_jsonl(f"{args.data}/types.jsonl")}
    accepted = {q["id"]: q["type_ids"] for q in queries}
    specs = [parse_system(spec) for spec in args.system]
    # Checked before any evaluation, so that a mistyped directory does not surface after minutes.
    missing = [f"{label}: {model}" for label, models, _ in specs for model in models
               if model != "bm25" and not os.path.isfile(os.path.join(model, "model.safetensors"))]
    if missing:
        print("demo_report: no model.safetensors in the model directory of " + "; ".join(missing)
              + " (give a trained model directory, or bm25)", file=sys.stderr)
        return 1
    judged = digest(queries_path, qrels_path)
    # systems: (label, [(lrem eval result, rankings path) per seed])
    systems = []
    for label, models, options in specs:
        runs = []
        for model in models:
            key = re.sub(r"[^A-Za-z0-9]+", "-", f"{label}-{name}-{judged}-{fingerprint(model)}-{'-'.join(options)}")
            out = os.path.join(args.out, key.strip("-") + ".json")
            try:
                result = run_eval(args.lrem, f"{args.data}/items.jsonl", queries_path, qrels_path, model, options, out)
            except subprocess.CalledProcessError as e:
                print(f"demo_report: {label}: `{' '.join(e.cmd)}` failed (exit {e.returncode}):\n"
                      f"{(e.stderr or '').strip()}", file=sys.stderr)
                return 1
            runs.append((result, out.removesuffix(".json") + ".rankings.jsonl"))
        systems.append((label, runs))
    n = 0
    for metric in args.metric or ["HitRate@10"]:
        for view in views:
            cot_wanted = {i: accepted[i] for i in view.cot_query_ids}
            rows = [(label, [{**summarise(result, metric, view), "cot_names_type": cot_names_type(path, names, cot_wanted)}
                             for result, path in runs])
                    for label, runs in systems]
            print(("\n" if n else "") + f"{metric} {view.title}")
            print(table(rows, view, args.baseline, args.markdown))
            n += 1
    if args.natural and os.path.exists(f"{args.data}/corpus.txt"):
        print("\n" + corpus_coverage(queries, f"{args.data}/corpus.txt"))
    if args.plot:
        plot([(label, runs[0][0]) for label, runs in systems], args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
