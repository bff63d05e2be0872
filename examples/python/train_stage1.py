#!/usr/bin/env python3
"""Fine-tune a model with LREM stage 1 (SFT on the chain of thought + InfoNCE between the query's
and the item's <emb> states) on query/CoT/item triplets, then show a CoT of the result.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/train_stage1.py --out runs/example-stage1

docs/TRAINING.md describes every option; configs/demo/stage1.json is the full recipe.
"""

import argparse
import json
import sys

import lrem
import lrem.train

from example_defaults import DEMO_MODEL, TRIPLETS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEMO_MODEL), help="starting model directory (default: %(default)s)")
    ap.add_argument("--data", default=str(TRIPLETS), help="triplets JSONL {query, cot, item} (default: %(default)s)")
    ap.add_argument("--out", required=True, help="output directory: checkpoints and the trained model")
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps (default %(default)s)")
    ap.add_argument("--batch-size", type=int, default=8, help="triplets per step; the others are negatives")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)

    def show(p):
        print(f"step {p['step']:4d}  " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(p["metrics"].items())))

    try:
        result = lrem.train.sft(model=args.model, data=args.data, output_dir=args.out, max_steps=args.steps,
                                batch_size=args.batch_size, lr=args.lr, seed=args.seed, log_every=1,
                                save_every=0, quiet=True, progress=show)
        with open(args.data, encoding="utf-8") as f:
            query = json.loads(f.readline())["query"]
        embedder = lrem.Embedder(lrem.Model.load(result["output_dir"]))
        _, cots = embedder.embed_queries([query], return_cots=True)
    except lrem.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"trained {result['steps']} steps in {result['wall_seconds']:.1f} s -> {result['output_dir']}")
    print(f"query: {query}\ncot:   {cots[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
