"""Graded relevance of items to a query, decided by rules over the structured data.

2 (exact): an accepted type, every constraint satisfied and, for an alternative query, a lower
price tier than the named brand. 1 (partial): an accepted type that misses a constraint, or a
different brand of the same tier as the named one. 0 (irrelevant, not written): anything else,
in particular the named brand of an alternative query and the negated material of a negation query.
"""

from __future__ import annotations

from .branches import TIERS
from .catalog import Item
from .queries import Query


def grade(query: Query, item: Item, brand_tiers: dict[str, str]) -> int:
    if item.type_id not in query.type_ids:
        return 0
    if query.exclude_material is not None and item.material == query.exclude_material:
        return 0
    if query.exclude_brand is not None:
        if item.brand == query.exclude_brand:
            return 0
        if TIERS.index(item.tier) >= TIERS.index(brand_tiers[query.exclude_brand]):
            return 1
    if any(getattr(item, key) != value for key, value in query.constraints.items()):
        return 1
    return 2


def judge(query: Query, items_by_type: dict[str, list[Item]], brand_tiers: dict[str, str]) -> list[dict]:
    """Non-zero qrels of one query, best grade first, then by item id."""
    rows = []
    for type_id in query.type_ids:
        for item in items_by_type[type_id]:
            relevance = grade(query, item, brand_tiers)
            if relevance:
                rows.append({"query_id": query.id, "item_id": item.id, "relevance": relevance})
    return sorted(rows, key=lambda r: (-r["relevance"], r["item_id"]))
