"""The index stage alone at scale (docs/SCALE.md): N synthetic clustered vectors (a Gaussian
mixture of 2,048 centres in a 32-dimensional subspace plus 10% isotropic noise, L2-normalised,
as bench/index.cc) into an IVF-PQ lrem.Index trained on a sample, added in batches, saved,
then opened memory-mapped: build time, resident memory of the served index, QPS and recall@10
against exact search (numpy, batch by batch) on 1,000 fresh queries. The served index is
measured in a fresh process (--serve-only, which the build runs itself), so the build's and
the exact search's memory does not hide its own; the exact answers go to OUT.truth.npy."""

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

import lrem
from scale_recall import report


def rss_mb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) // 1024


def batch(rng, basis, centres, n, dim):
    x = centres[rng.integers(0, len(centres), n)] + 0.15 * rng.standard_normal((n, 32)).astype(np.float32)
    x = x @ basis + np.sqrt(0.1 / dim) * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vectors", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--factory", default="IVF4096,PQ32np")
    ap.add_argument("--train", type=int, default=200_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--serve-only", action="store_true", help="only open OUT memory-mapped and search it")
    args = ap.parse_args()
    if args.serve_only:
        serve(args)
        return
    setup = np.random.default_rng(0)
    basis = np.linalg.qr(setup.standard_normal((args.dim, 32)))[0].T.astype(np.float32)
    centres = setup.standard_normal((2048, 32)).astype(np.float32)
    step = 200_000

    def data():  # the same vectors every pass
        rng = np.random.default_rng(1)
        for start in range(0, args.vectors, step):
            n = min(step, args.vectors - start)
            yield start, batch(rng, basis, centres, n, args.dim)

    t0 = time.time()
    index = lrem.Index(args.dim, args.factory)
    index.train(batch(np.random.default_rng(2), basis, centres, args.train, args.dim), normalized=True)
    t1 = time.time()
    for start, x in data():
        index.add(x, np.arange(start, start + len(x), dtype=np.int64), normalized=True)
    t2 = time.time()
    index.save(args.out)
    t3 = time.time()
    print(f"{args.vectors} x {args.dim} -> {args.factory}: train {t1 - t0:.0f} s, add {t2 - t1:.0f} s, "
          f"save {t3 - t2:.0f} s; build peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB",
          flush=True)
    del index

    q = batch(np.random.default_rng(3), basis, centres, 1000, args.dim)
    best_s = np.full((1000, 10), -np.inf, dtype=np.float32)
    best_i = np.zeros((1000, 10), dtype=np.int64)
    for start, x in data():
        s = q @ x.T
        top = np.argpartition(-s, 10, axis=1)[:, :10]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
        cand_i = np.concatenate([best_i, top + start], 1)
        keep = np.argsort(-cand_s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_i, keep, 1)
    print(f"exact top-10 of 1,000 queries: {time.time() - t3:.0f} s", flush=True)
    np.save(args.out + ".queries.npy", q)
    np.save(args.out + ".truth.npy", best_i)
    subprocess.run([sys.executable, __file__, "--serve-only", "--out", args.out], check=True)


def serve(args) -> None:
    q, truth = np.load(args.out + ".queries.npy"), np.load(args.out + ".truth.npy")
    before = rss_mb()
    served = lrem.Index.load(args.out, mmap=True)
    print(f"fresh process, opened memory-mapped: RSS {before} -> {rss_mb()} MB", flush=True)
    report(served, q, truth)


if __name__ == "__main__":
    main()
