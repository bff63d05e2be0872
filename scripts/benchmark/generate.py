"""Builds the whole benchmark directory from WordNet for one configuration and seed."""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

from .branches import BRANCHES
from .catalog import make_brands, make_items
from .corpus import build_corpus
from .jsonl import write_jsonl, write_text_atomic
from .judge import judge
from .lexicon import lexicon_sentences
from .queries import CATEGORIES, QueryBuilder
from .taxonomy import SPLITS, candidate_types, select_types
from .teacher import Teacher, count_words
from .traffic import traffic_variants
from .wordnet import NounDatabase


@dataclass(frozen=True)
class Config:
    out: str
    seed: int = 13
    num_items: int = 24000
    num_types: int = 400
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    brands_per_tier: int = 3
    train_queries_per_type: int = 3   # per category and type
    eval_queries_per_type: int = 2
    triplets_per_query: int = 2
    negatives_per_triplet: int = 0   # hard negatives (ruled-out items of the same type) per triplet
    knowledge_repeats: int = 4
    listing_repeats: int = 1
    reasoning_repeats: int = 0   # reasoning-format corpus lines per type and relation (0: none)
    wordnet: str = "/usr/share/wordnet/data.noun"
    lexicon: str = "none"      # WordNet beyond the product types in corpus.txt: none, catalogue, common or all
    traffic_variants: int = 0  # traffic-like variants per training query (traffic.py)
    max_cot_tokens: int = 16   # the teacher's CoT cap: lrem_config.json's max_cot_tokens
    tokenizer: str = ""        # a model directory whose tokenizer counts that cap ("": words)


def _rng(seed: int, stage: str) -> random.Random:
    # One generator per stage: changing one stage's draws leaves the others' output unchanged.
    return random.Random(f"{seed}/{stage}")


def _token_counter(tokenizer: str) -> Callable[[str], int]:
    """Counts a CoT in the backbone's tokens, as stage 1 tokenizes it; words without a tokenizer."""
    if not tokenizer:
        return count_words
    import lrem  # only needed for this option

    tok = lrem.Tokenizer.from_directory(tokenizer)
    return lambda text: len(tok.encode(text))


def generate(config: Config, log: Callable[[str], None] = lambda _: None) -> dict:
    """Writes every file of the benchmark into config.out; returns summary counts."""
    if abs(sum(config.split_fractions) - 1.0) > 1e-6 or min(config.split_fractions) < 0:
        raise ValueError(f"split fractions {config.split_fractions} must be non-negative and sum to 1")
    os.makedirs(config.out, exist_ok=True)

    log(f"reading {config.wordnet}")
    synsets = NounDatabase(config.wordnet)
    per_branch = candidate_types(synsets)
    log(f"{sum(map(len, per_branch.values()))} candidate product types in {len(per_branch)} branches")
    types = select_types(per_branch, config.num_types, config.split_fractions, _rng(config.seed, "types"))
    types_by_id = {t.type_id: t for t in types}

    brands = make_brands(list(BRANCHES), config.brands_per_tier, _rng(config.seed, "brands"))
    brand_tiers = {b.name: b.tier for bs in brands.values() for b in bs}
    items = make_items(types, brands, config.num_items, _rng(config.seed, "items"))
    items_by_type = defaultdict(list)
    for item in items:
        items_by_type[item.type_id].append(item)
    log(f"{len(items)} items over {len(types)} types")

    builder = QueryBuilder(types, items, _rng(config.seed, "queries"))
    teacher = Teacher(types_by_id, items_by_type, _rng(config.seed, "teacher"),
                      _rng(config.seed, "negatives"), config.max_cot_tokens, _token_counter(config.tokenizer))
    summary: dict = {"types": len(types), "items": len(items), "queries": {}, "qrels": {},
                     "types_per_branch": {},
                     "types_per_split": {s: sum(t.split == s for t in types) for s in SPLITS}}
    triplets, pairs = [], []
    for split in SPLITS:
        split_types = [t for t in types if t.split == split]
        per_type = config.train_queries_per_type if split == "train" else config.eval_queries_per_type
        queries = builder.build(split, split_types, per_type)
        if split == "train" and config.traffic_variants:
            queries += traffic_variants(queries, types_by_id, config.traffic_variants, builder.used_texts,
                                        _rng(config.seed, "traffic"))
        qrels = {q.id: judge(q, items_by_type, brand_tiers) for q in queries}
        empty = [q.id for q in queries if not any(r["relevance"] == 2 for r in qrels[q.id])]
        if empty:
            raise RuntimeError(f"generator bug: queries without an exact item: {empty[:5]}")
        write_jsonl(os.path.join(config.out, f"queries_{split}.jsonl"), (q.to_json() for q in queries))
        write_jsonl(os.path.join(config.out, f"qrels_{split}.jsonl"),
                    (row for q in queries for row in qrels[q.id]))
        if split == "train":
            for query in queries:
                rows = teacher.triplets(query, qrels[query.id], config.triplets_per_query,
                                        config.negatives_per_triplet)
                triplets += rows
                pairs.append({"query": query.text, "item_id": rows[0]["item_id"], "item": rows[0]["item"],
                              "category": query.category})
        summary["queries"][split] = dict(Counter(q.category for q in queries))
        summary["qrels"][split] = sum(len(r) for r in qrels.values())
        log(f"{split}: {len(queries)} queries, {summary['qrels'][split]} judgements")

    write_jsonl(os.path.join(config.out, "types.jsonl"), (t.to_json() for t in types))
    write_jsonl(os.path.join(config.out, "items.jsonl"), (i.to_json() for i in items))
    write_jsonl(os.path.join(config.out, "triplets_train.jsonl"), triplets)
    write_jsonl(os.path.join(config.out, "pairs_train.jsonl"), pairs)
    corpus = build_corpus(types, items_by_type, brands, config.knowledge_repeats, config.listing_repeats,
                          _rng(config.seed, "corpus"), config.reasoning_repeats)
    if config.lexicon != "none":
        lexicon = list(lexicon_sentences(os.path.dirname(config.wordnet), _rng(config.seed, "lexicon"),
                                         config.lexicon, {("n", t.synset.offset) for t in types}))
        log(f"lexicon ({config.lexicon}): {len(lexicon)} lines")
        corpus += lexicon
        _rng(config.seed, "lexicon-mix").shuffle(corpus)
    corpus_bytes = write_text_atomic(os.path.join(config.out, "corpus.txt"), corpus)
    log(f"corpus: {len(corpus)} lines, {corpus_bytes / 1e6:.2f} MB")

    for branch in BRANCHES:
        counts = Counter(t.split for t in types if t.branch.name == branch.name)
        summary["types_per_branch"][branch.name] = {s: counts.get(s, 0) for s in SPLITS}
    summary.update(triplets=len(triplets), pairs=len(pairs), corpus_lines=len(corpus),
                   corpus_bytes=corpus_bytes, categories=list(CATEGORIES))
    return summary
