"""The teacher for stage 1: keyword chains of thought derived from the structured knowledge.

A chain of thought lists what the query leaves implicit (the type's names, its hypernyms, the
cheaper brands, the other materials), never a word the query already contains.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .branches import TIERS
from .catalog import Item
from .queries import Query
from .taxonomy import ProductType
from .text import words

MAX_COT_TOKENS = 16  # lrem's default max_cot_tokens (lrem_config.json)


def count_words(text: str) -> int:
    return len(text.split())


def keywords(query_text: str, phrases: list[str], limit: int = MAX_COT_TOKENS,
             count_tokens: Callable[[str], int] = count_words) -> str:
    """The words of `phrases` that `query_text` does not contain, in order, deduplicated, while
    the CoT stays within `limit` tokens as `count_tokens` counts them. lrem counts the cap in the
    backbone's tokens: pass its tokenizer's count (make_benchmark.py --tokenizer). Without one
    (the demo trains its tokenizer on this very corpus) words are counted; a word is at least one
    token, and stage 1 cuts any CoT still over the cap as inference does."""
    seen = set(words(query_text))
    out: list[str] = []
    for phrase in phrases:
        for word in phrase.split():  # brand names keep their capital
            if word.lower() not in seen and count_tokens(" ".join(out + [word])) <= limit:
                seen.add(word.lower())
                out.append(word)
    return " ".join(out)


def naming_phrases(product_type: ProductType, group: Sequence[str] = ()) -> list[str]:
    """What a query that describes the type leaves implicit: its names, the other members of a
    hypernym group, its two nearest hypernyms, its department."""
    hypernyms = [h.lemmas[0] for h in product_type.hypernyms[:2]]
    return [product_type.name, *group, *product_type.synonyms, *hypernyms, product_type.branch.name]


def cheaper_phrases(product_type: ProductType, items: list[Item]) -> list[str]:
    """The type's name, the tiers below premium and the brands of those tiers that make it."""
    cheaper = sorted({i.brand for i in items if TIERS.index(i.tier) < TIERS.index("premium")})
    return [product_type.name, "budget", "mid-range", *cheaper]


def other_material_phrases(product_type: ProductType, items: list[Item], excluded: str) -> list[str]:
    """The type's name and its materials other than the excluded one."""
    return [product_type.name, *sorted({i.material for i in items} - {excluded})]


class Teacher:
    def __init__(self, types: dict[str, ProductType], items_by_type: dict[str, list[Item]],
                 rng: random.Random, negatives_rng: random.Random | None = None,
                 max_cot_tokens: int = MAX_COT_TOKENS, count_tokens: Callable[[str], int] = count_words):
        self.types = types
        self.items_by_type = items_by_type
        self.rng = rng
        self.max_cot_tokens = max_cot_tokens
        self.count_tokens = count_tokens
        # A stream of its own, so adding hard negatives leaves the other files' bytes unchanged.
        self.negatives_rng = negatives_rng or random.Random(0)

    def chain_of_thought(self, query: Query) -> str:
        product_type = self.types[query.type_id]
        items = self.items_by_type[query.type_id]
        if query.category == "alternative":
            phrases = cheaper_phrases(product_type, items)
        elif query.category == "negation":
            phrases = other_material_phrases(product_type, items, query.exclude_material)
        else:
            named = [self.types[t].name for t in query.type_ids if t != query.type_id]
            phrases = naming_phrases(product_type, named)
        return keywords(query.text, phrases, self.max_cot_tokens, self.count_tokens)

    def triplets(self, query: Query, qrels: list[dict], per_query: int,
                 negatives_per_triplet: int = 0) -> list[dict]:
        """Up to `per_query` exact (relevance-2) items for this query, each with the same CoT and,
        when asked, up to `negatives_per_triplet` hard negatives: items of the asked-for type that
        the query rules out (the named brand of an alternative query, the excluded material of a
        negation query). Only the structured data tells them apart from the positives, which is
        what in-batch negatives (almost always other types) never teach."""
        cot = self.chain_of_thought(query)
        exact = [row["item_id"] for row in qrels if row["relevance"] == 2]
        chosen = sorted(self.rng.sample(exact, min(per_query, len(exact))))
        items = {i.id: i for t in query.type_ids for i in self.items_by_type[t]}
        judged = {row["item_id"] for row in qrels}
        ruled_out = sorted(set(items) - judged)
        rows = []
        for item_id in chosen:
            row = {"query": query.text, "cot": cot, "item": items[item_id].title, "item_id": item_id,
                   "category": query.category}
            if negatives_per_triplet and ruled_out:
                row["negatives"] = sorted(self.negatives_rng.sample(
                    ruled_out, min(negatives_per_triplet, len(ruled_out))))
            rows.append(row)
        return rows
