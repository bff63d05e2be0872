"""Training queries that look like real traffic: variants of the templated training queries.

Templates alone teach a model one phrasing per intent, and shoppers never use it. Each variant
keeps its query's structured intent (type, constraints, exclusions), so the judge and the
teacher treat it like any other query, and changes only the words, in the ways people do:

- paraphrase: the type's name replaced by another of its names or by a hypernym ("coat" ->
  "garment"), so the teacher's CoT has to name the type the query no longer names;
- need: the name replaced by what the gloss says the thing does or has ("something for hanging
  coats", "a thing that has sleeves and covers the body");
- dropout: one word left out (never a name, a constraint value or a negation);
- typo: one word misspelt (a letter swapped, dropped, doubled or hit on a neighbouring key);
- reorder: the words rotated or two neighbours swapped.

Only training queries get variants: dev and test keep the held-out templates, and the
hand-written natural queries (data/natural_queries) are never used to design these rules.
"""

from __future__ import annotations

import random
import re

from .queries import Query
from .taxonomy import ProductType
from .text import strip_article

TRANSFORMS = ("paraphrase", "need", "dropout", "typo", "reorder")
# Where a WordNet gloss turns from its head noun to what the thing does or has ("a rack | for
# hanging coats", "a garment | that has sleeves").
_GLOSS_TURN = re.compile(r"\b(?:that|which|used|for|worn|with|designed|to)\b")
# Words that carry the intent; dropping one would make the judged items wrong for the text.
_INTENT_WORDS = frozenset("no not without except but free instead alternative cheaper budget less lower like than".split())
_NEED = ("something {tail}", "a thing {tail}", "need something {tail}", "what to get {tail}")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_VARIANT_SUFFIX = re.compile(r"-t[0-9]+$")


def variant_id(query_id: str, number: int) -> str:
    return f"{query_id}-t{number}"


def is_variant(query_id: str) -> bool:
    """Whether a query id names a traffic variant (variant_id) rather than a template's wording."""
    return _VARIANT_SUFFIX.search(query_id) is not None


def _neighbour_keys(letter: str) -> str:
    for row in _KEYBOARD_ROWS:
        at = row.find(letter)
        if at >= 0:
            return row[max(0, at - 1):at] + row[at + 1:at + 2]
    return ""


def misspell(word: str, rng: random.Random) -> str:
    kind = rng.choice(("swap", "drop", "double", "neighbour"))
    # First and last letters are kept, as people's typos mostly do (words of 4 letters or more).
    at = rng.randrange(1, len(word) - (2 if kind == "swap" else 1))
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    if kind == "drop":
        return word[:at] + word[at + 1:]
    if kind == "double":
        return word[:at] + word[at] + word[at:]
    keys = _neighbour_keys(word[at])
    return word[:at] + rng.choice(keys) + word[at + 1:] if keys else word[:at] + word[at + 1:]


def gloss_tail(product_type: ProductType) -> str | None:
    """The part of the gloss after its head noun: what the thing is for, does or has."""
    gloss = strip_article(product_type.gloss)
    turn = _GLOSS_TURN.search(gloss)
    if turn is None or turn.start() == 0:
        return None
    tail = gloss[turn.start():]
    return tail if len(tail.split()) >= 2 else None


def _protected_words(query: Query, product_type: ProductType) -> set[str]:
    """The type's names, the constraint values, the excluded material or brand, the negations."""
    phrases = [*product_type.lemmas, *query.constraints.values(), query.exclude_material or "",
               query.exclude_brand or ""]
    return {w.lower() for phrase in phrases for w in re.split(r"[ -]", phrase)} | _INTENT_WORDS


def _replace_name(query: Query, product_type: ProductType, replacement: str) -> str | None:
    for name in sorted(product_type.lemmas, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", query.text):
            return re.sub(rf"\b{re.escape(name)}\b", replacement, query.text, count=1)
    return None


def variant_text(query: Query, product_type: ProductType, transform: str, rng: random.Random) -> str | None:
    """The query's text changed by `transform`, or None when it does not apply to this query."""
    tokens = query.text.split()
    if transform == "paraphrase":
        options = product_type.synonyms + [h.lemmas[0] for h in product_type.hypernyms[:2]]
        return _replace_name(query, product_type, rng.choice(options)) if options else None
    if transform == "need":
        tail = gloss_tail(product_type)
        return _replace_name(query, product_type, rng.choice(_NEED).format(tail=tail)) if tail else None
    if transform == "dropout":
        protected = _protected_words(query, product_type)
        # "men's" carries the audience "men": a token is kept when any of its stems is protected.
        optional = [i for i, t in enumerate(tokens)
                    if not {t.lower(), re.sub(r"'s?$", "", t.lower())} & protected]
        if len(tokens) < 3 or not optional:
            return None
        del tokens[rng.choice(optional)]
        return " ".join(tokens)
    if transform == "typo":
        long_words = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
        if not long_words:
            return None
        at = rng.choice(long_words)
        tokens[at] = misspell(tokens[at], rng)
        return " ".join(tokens)
    if transform == "reorder":
        if len(tokens) < 2:
            return None
        # Rotating "X not made of Y" would detach the negation from what it negates.
        if query.exclude_material is None and query.exclude_brand is None and rng.random() < 0.5:
            shift = rng.randrange(1, len(tokens))
            tokens = tokens[shift:] + tokens[:shift]
        else:
            at = rng.randrange(len(tokens) - 1)
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        return " ".join(tokens)
    raise ValueError(f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}")


def traffic_variants(queries: list[Query], types: dict[str, ProductType], per_query: int,
                     used_texts: set[str], rng: random.Random) -> list[Query]:
    """Up to `per_query` variants of each query, each by one transform drawn at random (another
    is tried when one does not apply); texts unique among themselves and `used_texts`."""
    variants = []
    for query in queries:
        product_type = types[query.type_id]
        for number in range(per_query):
            for transform in rng.sample(TRANSFORMS, len(TRANSFORMS)):
                text = variant_text(query, product_type, transform, rng)
                if text and text not in used_texts:
                    used_texts.add(text)
                    variants.append(Query(variant_id(query.id, number), text, query.category, query.split,
                                          query.type_id, list(query.type_ids), dict(query.constraints),
                                          query.exclude_material, query.exclude_brand, query.phrase))
                    break
    return variants
