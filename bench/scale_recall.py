"""recall@10 of an approximate index directory against exact search (a Flat index over the same
vectors) on the query vectors of a .npy file, per nprobe; and the approximate index's resident
memory when opened (RSS growth). Used by bench/scale.sh."""

import argparse
import resource
import time

import numpy as np

import lrem


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def report(index, q, truth) -> None:
    """Prints recall@10 against `truth` (top-10 ids per query), QPS and RSS at nprobe 16 and 64."""
    for nprobe in (16, 64):
        index.set_nprobe(nprobe)
        start = time.perf_counter()
        _, ids = index.search(q, k=10)
        secs = time.perf_counter() - start
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)])
        print(f"nprobe {nprobe}: recall@10 {recall:.3f}, {len(q) / secs:.0f} QPS (one batch of {len(q)}), "
              f"RSS {rss_kb() // 1024} MB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", required=True)
    ap.add_argument("--exact", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--mmap", action="store_true", help="open the approximate index memory-mapped")
    args = ap.parse_args()
    q = np.load(args.queries).astype(np.float32)
    _, truth = lrem.Index.load(args.exact).search(q, k=10)
    before = rss_kb()
    index = lrem.Index.load(args.index, mmap=True) if args.mmap else lrem.Index.load(args.index)
    print(f"opened {args.index} ({len(index)} vectors{', mmap' if args.mmap else ''}): RSS +{(rss_kb() - before) // 1024} MB")
    report(index, q, truth)

if __name__ == "__main__":
    main()
