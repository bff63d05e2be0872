"""The teacher for stage 1: keyword chains of thought derived from the structured knowledge.

A chain of thought lists what the query leaves implicit (the type's names, its hypernyms, the
cheaper brands, the other materials), never a word the query already contains.
"""

from __future__ import annotations

import random

from .branches import TIERS
from .catalog import Item
from .queries import Query
from .taxonomy import ProductType
from .text import words

MAX_COT_TOKENS = 16


def _keywords(query_text: str, phrases: list[str], limit: int) -> str:
    seen = set(words(query_text))
    out: list[str] = []
    for phrase in phrases:
        for word in phrase.split():  # brand names keep their capital
            if word.lower() not in seen and len(out) < limit:
                seen.add(word.lower())
                out.append(word)
    return " ".join(out)


class Teacher:
    def __init__(self, types: dict[str, ProductType], items_by_type: dict[str, list[Item]],
                 rng: random.Random):
        self.types = types
        self.items_by_type = items_by_type
        self.rng = rng

    def chain_of_thought(self, query: Query) -> str:
        product_type = self.types[query.type_id]
        if query.category == "alternative":
            items = self.items_by_type[query.type_id]
            cheaper = sorted({i.brand for i in items if TIERS.index(i.tier) < TIERS.index("premium")})
            phrases = [product_type.name, "budget", "mid-range", *cheaper]
        elif query.category == "negation":
            others = sorted({i.material for i in self.items_by_type[query.type_id]} - {query.exclude_material})
            phrases = [product_type.name, *others]
        else:
            named = [self.types[t].name for t in query.type_ids if t != query.type_id]
            hypernyms = [h.lemmas[0] for h in product_type.hypernyms[:2]]
            phrases = [product_type.name, *named, *product_type.synonyms, *hypernyms,
                       product_type.branch.name]
        return _keywords(query.text, phrases, MAX_COT_TOKENS)

    def triplets(self, query: Query, qrels: list[dict], per_query: int) -> list[dict]:
        """Up to `per_query` exact (relevance-2) items for this query, each with the same CoT."""
        cot = self.chain_of_thought(query)
        exact = [row["item_id"] for row in qrels if row["relevance"] == 2]
        chosen = sorted(self.rng.sample(exact, min(per_query, len(exact))))
        items = {i.id: i for t in query.type_ids for i in self.items_by_type[t]}
        return [{"query": query.text, "cot": cot, "item": items[item_id].title, "item_id": item_id,
                 "category": query.category} for item_id in chosen]
