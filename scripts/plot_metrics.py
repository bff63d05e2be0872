#!/usr/bin/python3
"""Turns a training run's metrics.jsonl into PNG curves, one panel per metric.

    scripts/plot_metrics.py runs/stage1/metrics.jsonl            # -> runs/stage1/metrics.png
    scripts/plot_metrics.py a/metrics.jsonl b/metrics.jsonl -o curves.png --metrics loss,reward

Several files are drawn into the same panels (labelled by their directory), e.g. to compare
runs. Uses Debian's matplotlib (python3-matplotlib; scripts/setup.sh installs it).

    scripts/plot_metrics.py --summary runs/*/stage2/metrics.jsonl --metrics reward_accuracy,zero_variance_groups

prints instead, per file, its steps and wall time (summed over resumed segments) and each metric's mean over all logged records
with the means of the first and last --window records, "0.945 [0.930 -> 0.960]": the figures
docs/RESULTS.md quotes from training runs.
"""

import argparse
import json
import math
import os
import sys

SKIP = {"stage", "step", "elapsed"}


def read(path):
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{number}: not a JSON record ({e.msg})")
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e}); give a run's metrics.jsonl")
    if not records:
        sys.exit(f"{path}: no records")
    return records


def mean(values):
    return sum(values) / len(values)


def summary(path, records, names, window):
    """One line per metric: mean over the run [mean of the first window -> of the last window]."""
    # A resumed run restarts its clock ("elapsed" falls): its wall time is the sum of the segments.
    elapsed = [r["elapsed"] for r in records if isinstance(r.get("elapsed"), (int, float))]
    ends = [a for a, b in zip(elapsed, elapsed[1:]) if b < a] + elapsed[-1:]
    lines = [f"{path}: {len(records)} records, last step {records[-1].get('step')}, "
             f"wall time {sum(ends):.0f} s in {len(ends)} segment(s)"]
    for name in names:
        values = [r[name] for r in records if isinstance(r.get(name), (int, float))]
        if values:
            lines.append(f"  {name}: {mean(values):.3f} [{mean(values[:window]):.3f} -> {mean(values[-window:]):.3f}]"
                         f" over {len(values)} records")
        else:
            lines.append(f"  {name}: not logged")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="metrics.jsonl files")
    parser.add_argument("-o", "--output", help="PNG to write (default: metrics.png next to the first file)")
    parser.add_argument("--metrics", help="comma-separated metric names (default: all)")
    parser.add_argument("--summary", action="store_true", help="print each metric's means instead of plotting")
    parser.add_argument("--window", type=int, default=50, help="records in the first and last means of --summary")
    args = parser.parse_args()
    if args.window < 1:
        parser.error(f"--window must be >= 1, got {args.window}")

    runs = [(os.path.basename(os.path.dirname(os.path.abspath(p))) or p, read(p)) for p in args.files]
    names = sorted({k for _, recs in runs for r in recs for k in r if k not in SKIP})
    if args.metrics:
        wanted = args.metrics.split(",")
        unknown = [m for m in wanted if m not in names]
        if unknown:
            sys.exit(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(names)}")
        names = wanted
    if args.summary:
        print("\n".join(summary(path, recs, names, args.window) for path, (_, recs) in zip(args.files, runs)))
        return
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

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
