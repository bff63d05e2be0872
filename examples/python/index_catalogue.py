#!/usr/bin/env python3
"""Embed a catalogue and save a FAISS index that search_catalogue.py, `lrem search` and
`lrem serve` open.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/index_catalogue.py --out runs/example-index
"""

import argparse
import sys
import time

import lrem

from example_defaults import DEMO_MODEL, ITEMS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEMO_MODEL), help="model directory (default: %(default)s)")
    ap.add_argument("--items", default=str(ITEMS), help="items JSONL (default: %(default)s)")
    ap.add_argument("--factory", default="Flat", help="FAISS factory string (Flat, HNSW32, IVF256,Flat, ...)")
    ap.add_argument("--out", required=True, help="index directory to write (replaced atomically)")
    args = ap.parse_args(argv)

    try:
        start = time.perf_counter()
        embedder = lrem.Embedder(lrem.Model.load(args.model), show_progress=True)
        items = lrem.ItemStore.load(args.items)
        index = lrem.build_index(embedder, items, factory=args.factory)
        lrem.save_index(index, items, args.out)
    except lrem.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"indexed {len(items)} items ({embedder.dim} dims, {args.factory}) into {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
