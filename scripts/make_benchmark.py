#!/usr/bin/env python3
"""Generates lrem's e-commerce retrieval benchmark (catalogue, queries, qrels, pretraining corpus,
stage-1 triplets, stage-2 pairs) from WordNet 3.0, deterministically for a seed.

Example:
    /usr/bin/python3 scripts/make_benchmark.py --out data/benchmark --seed 13

The layout of the output directory is documented in docs/BENCHMARK_DATA.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmark import Config, generate  # noqa: E402
from benchmark.lexicon import LEXICON_CHOICES  # noqa: E402
from benchmark.wordnet import WordNetFormatError  # noqa: E402


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split("/"))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected TRAIN/DEV/TEST fractions like 0.7/0.1/0.2, got {text!r}")
    return parts  # type: ignore[return-value]


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv: list[str]) -> Config:
    defaults = Config(out="")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument("--num-items", type=_positive, default=defaults.num_items,
                        help="catalogue size (default %(default)s)")
    parser.add_argument("--num-types", type=_positive, default=defaults.num_types,
                        help="number of WordNet product types (default %(default)s)")
    parser.add_argument("--splits", type=_fractions, default=defaults.split_fractions,
                        help="train/dev/test fractions of the types (default 0.7/0.1/0.2)")
    parser.add_argument("--brands-per-tier", type=_positive, default=defaults.brands_per_tier,
                        help="brands per price tier and branch (default %(default)s)")
    parser.add_argument("--train-queries-per-type", type=_positive, default=defaults.train_queries_per_type,
                        help="training queries per type and category (default %(default)s)")
    parser.add_argument("--eval-queries-per-type", type=_positive, default=defaults.eval_queries_per_type,
                        help="dev/test queries per type and category (default %(default)s)")
    parser.add_argument("--triplets-per-query", type=_positive, default=defaults.triplets_per_query,
                        help="stage-1 triplets (distinct exact items) per training query (default %(default)s)")
    parser.add_argument("--negatives-per-triplet", type=int, default=defaults.negatives_per_triplet,
                        help="hard negatives per stage-1 triplet: items of the asked-for type that the "
                             "query rules out (named brand, excluded material); 0 writes none "
                             "(default %(default)s)")
    parser.add_argument("--knowledge-repeats", type=int, default=defaults.knowledge_repeats,
                        help="extra paraphrase draws per lemma and direction in corpus.txt; the corpus "
                             "size knob (default %(default)s)")
    parser.add_argument("--listing-repeats", type=int, default=defaults.listing_repeats,
                        help="listing sentences per item in corpus.txt (default %(default)s)")
    parser.add_argument("--reasoning-repeats", type=int, default=defaults.reasoning_repeats,
                        help="corpus.txt lines in the LREM query format (request<think>keywords"
                             "</think><emb>name) per type and relation, from every type's knowledge, "
                             "plus each item once as title<emb>name; 0 writes none (default %(default)s)")
    parser.add_argument("--wordnet", default=defaults.wordnet, help="path to WordNet 3.0 data.noun")
    parser.add_argument("--lexicon", choices=LEXICON_CHOICES, default=defaults.lexicon,
                        help="WordNet sentences added to corpus.txt beyond the product types: the "
                             "types' own neighbourhood (catalogue: their synsets, every synset one "
                             "relation away and the first sense of each word of those glosses), the "
                             "sense-tagged synsets of all parts of speech (common, 12.8 MB), every "
                             "synset (all, 51 MB) or none (default %(default)s); read from the "
                             "directory of --wordnet")
    parser.add_argument("--traffic-variants", type=int, default=defaults.traffic_variants,
                        help="variants of each training query as shoppers type them (a name replaced "
                             "by a synonym, hypernym or what the thing is for; a word dropped, "
                             "misspelt or moved), judged and taught like the query (default %(default)s)")
    parser.add_argument("--max-cot-tokens", type=_positive, default=defaults.max_cot_tokens,
                        help="the teacher's CoT cap, the backbone's max_cot_tokens (default %(default)s)")
    parser.add_argument("--tokenizer", default=defaults.tokenizer,
                        help="model directory whose tokenizer counts that cap (needs the lrem Python "
                             "package); without it words are counted and stage 1 cuts CoTs to the cap")
    args = parser.parse_args(argv)
    if min(args.knowledge_repeats, args.listing_repeats, args.reasoning_repeats,
           args.negatives_per_triplet, args.traffic_variants) < 0:
        parser.error("--knowledge-repeats, --listing-repeats, --reasoning-repeats, "
                     "--negatives-per-triplet and --traffic-variants must be >= 0")
    return Config(out=args.out, seed=args.seed, num_items=args.num_items, num_types=args.num_types,
                  split_fractions=args.splits, brands_per_tier=args.brands_per_tier,
                  train_queries_per_type=args.train_queries_per_type,
                  eval_queries_per_type=args.eval_queries_per_type,
                  triplets_per_query=args.triplets_per_query,
                  negatives_per_triplet=args.negatives_per_triplet, knowledge_repeats=args.knowledge_repeats,
                  listing_repeats=args.listing_repeats,
                  reasoning_repeats=args.reasoning_repeats, wordnet=args.wordnet, lexicon=args.lexicon,
                  traffic_variants=args.traffic_variants,
                  max_cot_tokens=args.max_cot_tokens, tokenizer=args.tokenizer)


def print_summary(summary: dict, seconds: float) -> None:
    print(f"\n{summary['items']} items, {summary['types']} types "
          f"({', '.join(f'{s} {n}' for s, n in summary['types_per_split'].items())})")
    header = "split".ljust(7) + "".join(c.rjust(13) for c in summary["categories"]) + "total".rjust(9) \
        + "qrels".rjust(9)
    print(header)
    for split, counts in summary["queries"].items():
        row = split.ljust(7) + "".join(str(counts.get(c, 0)).rjust(13) for c in summary["categories"])
        print(row + str(sum(counts.values())).rjust(9) + str(summary["qrels"][split]).rjust(9))
    print("types per branch (train/dev/test):")
    for branch, counts in summary["types_per_branch"].items():
        print(f"  {branch:22s} {counts['train']:4d} {counts['dev']:4d} {counts['test']:4d}")
    print(f"{summary['triplets']} stage-1 triplets, {summary['pairs']} stage-2 pairs, corpus "
          f"{summary['corpus_lines']} lines / {summary['corpus_bytes'] / 1e6:.2f} MB; {seconds:.1f} s")


def main(argv: list[str]) -> int:
    config = parse_args(argv)
    start = time.monotonic()
    try:
        summary = generate(config, log=lambda msg: print(f"[{time.monotonic() - start:5.1f}s] {msg}", flush=True))
    except (FileNotFoundError, WordNetFormatError, ValueError, KeyError) as exc:
        print(f"make_benchmark: error: {exc}", file=sys.stderr)
        return 1
    print_summary(summary, time.monotonic() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
