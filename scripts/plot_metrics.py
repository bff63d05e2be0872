#!/usr/bin/python3
"""Turns a training run's metrics.jsonl into PNG curves, one panel per metric.

    scripts/plot_metrics.py runs/stage1/metrics.jsonl            # -> runs/stage1/metrics.png
    scripts/plot_metrics.py a/metrics.jsonl b/metrics.jsonl -o curves.png --metrics loss,reward

Several files are drawn into the same panels (labelled by their directory), e.g. to compare
runs. Uses Debian's matplotlib (python3-matplotlib; scripts/setup.sh installs it).
"""

import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

SKIP = {"stage", "step", "elapsed"}


def read(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not a JSON record ({e.msg})")
    if not records:
        sys.exit(f"{path}: no records")
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="metrics.jsonl files")
    parser.add_argument("-o", "--output", help="PNG to write (default: metrics.png next to the first file)")
    parser.add_argument("--metrics", help="comma-separated metric names (default: all)")
    args = parser.parse_args()

    runs = [(os.path.basename(os.path.dirname(os.path.abspath(p))) or p, read(p)) for p in args.files]
    names = sorted({k for _, recs in runs for r in recs for k in r if k not in SKIP})
    if args.metrics:
        wanted = args.metrics.split(",")
        unknown = [m for m in wanted if m not in names]
        if unknown:
            sys.exit(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(names)}")
        names = wanted
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for label, recs in runs:
            points = [(r["step"], r[name]) for r in recs if r.get(name) is not None]
            if points:
                ax.plot(*zip(*points), label=label, linewidth=1.2)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.files[0])), "metrics.png")
    fig.savefig(output, dpi=110)
    print(output)


if __name__ == "__main__":
    main()
