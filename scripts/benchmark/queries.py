"""Search queries with structured intents, in five categories of increasing difficulty.

Every query of a split targets product types of that split. Training queries use the "seen"
phrasings; dev and test queries use held-out phrasings that no training text contains, so a
model cannot match test queries by their wording.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .catalog import Item, audience_label
from .taxonomy import ProductType
from .text import shares_word, strip_article, with_article, words

SPELLING_VARIANT_SIMILARITY = 0.75
CATEGORIES = ("lexical", "knowledge", "synonym", "alternative", "negation")

# {what} is the type's name (lexical), another lemma or a hypernym (synonym); {mods} are
# attribute words ("navy wool", "men's").
_NAMING = {
    "seen": ("{mods} {what}", "{what} {mods}", "buy {mods} {what}"),
    "held_out": ("{what} {mods} for sale", "shop {mods} {what} online", "best {mods} {what} deals",
                 "{what} in stock {mods}"),
}
# {gloss} is the cleaned gloss without its article, {a_gloss} with it; {mods} is a trailing
# phrase ("in navy for men").
_KNOWLEDGE = {
    "seen": ("{gloss} {mods}", "i need {a_gloss} {mods}", "want {a_gloss} {mods}"),
    "held_out": ("looking for {a_gloss} {mods}", "where can i get {a_gloss} {mods}",
                 "searching for {a_gloss} {mods}", "what do you have that is {a_gloss} {mods}"),
}
_ALTERNATIVE = {
    "seen": ("cheaper alternative to {brand} {what}", "{what} like {brand} but cheaper",
             "budget {what} instead of {brand}"),
    "held_out": ("something like the {brand} {what} for less", "affordable substitute for a {brand} {what}",
                 "{brand} {what} dupe at a lower price"),
}
_NEGATION = {
    "seen": ("{what} not made of {material}", "{what} without {material}", "{what} with no {material}"),
    "held_out": ("{what} made from anything except {material}", "{what} but not {material}",
                 "{material}-free {what}"),
}


@dataclass
class Query:
    id: str
    text: str
    category: str
    split: str
    type_id: str
    type_ids: list[str]                  # accepted types (several for a hypernym query)
    constraints: dict[str, str] = field(default_factory=dict)  # color/material/audience/brand
    exclude_material: str | None = None
    exclude_brand: str | None = None
    phrase: str | None = None           # the synonym or hypernym used instead of the name

    def to_json(self) -> dict:
        record = {"id": self.id, "text": self.text, "category": self.category, "type_id": self.type_id,
                  "type_ids": self.type_ids, "constraints": self.constraints}
        for key in ("exclude_material", "exclude_brand", "phrase"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        return record


def _mods_text(constraints: dict[str, str]) -> str:
    """Constraint values as the words a shopper types before or after the name."""
    parts = []
    for key in ("brand", "audience", "color", "material"):
        if key in constraints:
            value = constraints[key]
            parts.append(audience_label(value).lower() if key == "audience" else value)
    return " ".join(parts)


def _mods_phrase(constraints: dict[str, str]) -> str:
    parts = []
    if "color" in constraints:
        parts.append(f"in {constraints['color']}")
    if "audience" in constraints:
        parts.append(f"for {constraints['audience']}")
    return " ".join(parts)


def _fill(template: str, **values: str) -> str:
    return " ".join(template.format(**values).replace(" ,", ",").split()).strip(" ,")


def synonym_phrases(product_type: ProductType, title_words: set[str]) -> list[str]:
    """Other lemmas of the type that share no word with any title and are not mere spelling
    variants of the name (bicorn/bicorne would be a lexical match for a subword model)."""
    return [lemma for lemma in product_type.synonyms if not shares_word(lemma, title_words)
            and SequenceMatcher(None, lemma, product_type.name).ratio() < SPELLING_VARIANT_SIMILARITY]


def hypernym_groups(types: list[ProductType], title_words: set[str],
                    max_group: int) -> dict[str, tuple[str, list[str]]]:
    """type_id -> (hypernym phrase, accepted type ids) for types whose nearest hypernym names a
    small group of catalogue types of one split, and is a word no title uses."""
    by_hypernym: dict[str, list[ProductType]] = defaultdict(list)
    for product_type in types:
        if product_type.hypernyms:
            by_hypernym[product_type.hypernyms[0].offset].append(product_type)
    groups = {}
    for members in by_hypernym.values():
        if len(members) > max_group or len({m.split for m in members}) != 1:
            continue
        hypernym = members[0].hypernyms[0]
        phrase = next((lemma for lemma in hypernym.lemmas
                       if lemma.islower() and not shares_word(lemma, title_words)), None)
        if phrase is None:
            continue
        ids = sorted(m.type_id for m in members)
        for member in members:
            if not shares_word(phrase, member.vocabulary):
                groups[member.type_id] = (phrase, ids)
    return groups


class QueryBuilder:
    """Draws queries for one split; texts are unique across every split built by this object."""

    def __init__(self, types: list[ProductType], items: list[Item], rng: random.Random,
                 max_hypernym_group: int = 4):
        self.rng = rng
        self.items_by_type: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            self.items_by_type[item.type_id].append(item)
        title_words = set().union(*(words(item.title) for item in items))
        self.synonyms = {t.type_id: synonym_phrases(t, title_words) for t in types}
        self.hypernyms = hypernym_groups(types, title_words, max_hypernym_group)
        self.used_texts: set[str] = set()
        self.counter = 0
        self.drawers = {"lexical": self._lexical, "knowledge": self._knowledge, "synonym": self._synonym,
                        "alternative": self._alternative, "negation": self._negation}

    def build(self, split: str, types: list[ProductType], per_type: int) -> list[Query]:
        phrasing = "seen" if split == "train" else "held_out"
        queries = []
        for product_type in types:
            for category in CATEGORIES:
                for _ in range(per_type):
                    query = self._draw(split, phrasing, category, product_type)
                    if query is not None:
                        queries.append(query)
        return queries

    def _draw(self, split: str, phrasing: str, category: str, product_type: ProductType,
              attempts: int = 12) -> Query | None:
        for _ in range(attempts):
            query = self.drawers[category](phrasing, product_type)
            if query is None:
                return None
            if query.text in self.used_texts:
                continue
            if category == "knowledge" and shares_word(query.text, product_type.vocabulary):
                continue
            self.used_texts.add(query.text)
            query.id = f"{split}-{self.counter:06d}"
            query.split = split
            self.counter += 1
            return query
        return None

    def _constraints(self, product_type: ProductType, keys: tuple[str, ...], max_count: int) -> dict:
        """Attribute values copied from one real item, so at least one item satisfies them all."""
        item = self.rng.choice(self.items_by_type[product_type.type_id])
        available = [k for k in keys if getattr(item, k) is not None]
        chosen = self.rng.sample(available, self.rng.randint(0, min(max_count, len(available))))
        return {k: getattr(item, k) for k in sorted(chosen)}

    def _naming_query(self, category: str, phrasing: str, product_type: ProductType, what: str,
                      type_ids: list[str], phrase: str | None) -> Query:
        constraints = self._constraints(product_type, ("color", "material", "audience", "brand"), 2)
        template = self.rng.choice(_NAMING[phrasing])
        text = _fill(template, what=what, mods=_mods_text(constraints))
        return Query("", text, category, "", product_type.type_id, type_ids, constraints, phrase=phrase)

    def _lexical(self, phrasing: str, product_type: ProductType) -> Query:
        return self._naming_query("lexical", phrasing, product_type, product_type.name,
                                  [product_type.type_id], None)

    def _synonym(self, phrasing: str, product_type: ProductType) -> Query | None:
        options = [(s, [product_type.type_id]) for s in self.synonyms[product_type.type_id]]
        if product_type.type_id in self.hypernyms:
            options.append(self.hypernyms[product_type.type_id])
        if not options:
            return None
        phrase, type_ids = self.rng.choice(options)
        return self._naming_query("synonym", phrasing, product_type, phrase, type_ids, phrase)

    def _knowledge(self, phrasing: str, product_type: ProductType) -> Query:
        constraints = self._constraints(product_type, ("color", "audience"), 1)
        gloss = strip_article(product_type.gloss)
        text = _fill(self.rng.choice(_KNOWLEDGE[phrasing]), gloss=gloss, a_gloss=with_article(gloss),
                     mods=_mods_phrase(constraints))
        return Query("", text, "knowledge", "", product_type.type_id, [product_type.type_id], constraints)

    def _alternative(self, phrasing: str, product_type: ProductType) -> Query:
        premium = sorted({i.brand for i in self.items_by_type[product_type.type_id] if i.tier == "premium"})
        brand = self.rng.choice(premium)
        text = _fill(self.rng.choice(_ALTERNATIVE[phrasing]), brand=brand, what=product_type.name)
        return Query("", text, "alternative", "", product_type.type_id, [product_type.type_id],
                     exclude_brand=brand)

    def _negation(self, phrasing: str, product_type: ProductType) -> Query | None:
        materials = sorted({i.material for i in self.items_by_type[product_type.type_id]})
        if len(materials) < 2:
            return None
        material = self.rng.choice(materials)
        text = _fill(self.rng.choice(_NEGATION[phrasing]), material=material, what=product_type.name)
        return Query("", text, "negation", "", product_type.type_id, [product_type.type_id],
                     exclude_material=material)
