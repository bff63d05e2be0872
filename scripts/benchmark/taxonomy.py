"""Product types: leaves of the commerce branches of WordNet, filtered to everyday goods."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .branches import BRANCHES, Branch
from .text import clean_gloss, content_words, lemma_vocabulary, shares_word
from .wordnet import NounDatabase, Synset, WordNetFormatError

SPLITS = ("train", "dev", "test")

# Glosses with these words describe historical, technical or ceremonial objects nobody shops for.
_OBSCURE_GLOSS = frozenset(
    "formerly ancient medieval archaic obsolete century centuries historically roman greek biblical "
    "ecclesiastical liturgical military soldiers clergy clergyman priest bishop knights armor armour "
    "vacuum electrode electrodes cathode anode transistor semiconductor ammunition weapon".split())
_LEMMA_OK = re.compile(r"^[a-z]+(?:[ '-][a-z]+){0,2}$")
MAX_GLOSS_WORDS = 16
MIN_GLOSS_WORDS = 3


@dataclass
class ProductType:
    synset: Synset
    branch: Branch
    lemmas: list[str]          # usable lemmas (lowercase, no digits), display name first
    gloss: str                 # cleaned gloss; shares no word with any lemma
    hypernyms: list[Synset]    # nearest first, up to (excluding) the branch root's parent
    split: str = "train"

    @property
    def type_id(self) -> str:
        return self.synset.synset_id

    @property
    def name(self) -> str:
        return self.lemmas[0]

    @property
    def synonyms(self) -> list[str]:
        return self.lemmas[1:]

    @property
    def vocabulary(self) -> set[str]:
        """Content words that name this type: a query using none of them does not name it."""
        return lemma_vocabulary(self.lemmas)

    def to_json(self) -> dict:
        return {
            "type_id": self.type_id,
            "lemmas": self.lemmas,
            "name": self.name,
            "gloss": self.gloss,
            "hypernyms": [{"id": h.synset_id, "lemmas": h.lemmas} for h in self.hypernyms],
            "branch": self.branch.name,
            "split": self.split,
        }


def _leaves(synsets: NounDatabase, root: str) -> list[str]:
    seen, stack, leaves = set(), [root], []
    while stack:
        offset = stack.pop()
        if offset in seen or offset not in synsets:
            continue
        seen.add(offset)
        hyponyms = synsets[offset].hyponyms
        if hyponyms:
            stack.extend(hyponyms)
        else:
            leaves.append(offset)
    return sorted(leaves)


def _hypernym_chain(synsets: NounDatabase, offset: str, roots: set[str]) -> list[Synset]:
    chain, current = [], synsets[offset]
    while current.hypernyms and current.offset not in roots:
        current = synsets[current.hypernyms[0]]
        chain.append(current)
    return chain


def _usable_lemmas(synset: Synset) -> list[str]:
    return [lemma for lemma in synset.lemmas if _LEMMA_OK.match(lemma)]


def _candidate(synsets: NounDatabase, offset: str, branch: Branch) -> ProductType | None:
    synset = synsets[offset]
    lemmas = _usable_lemmas(synset)
    if not lemmas or len(lemmas) < len(synset.lemmas) / 2:  # mostly proper nouns or codes: obscure
        return None
    gloss = clean_gloss(synset.gloss)
    gloss_words = gloss.split()
    if not (MIN_GLOSS_WORDS <= len(gloss_words) <= MAX_GLOSS_WORDS):
        return None
    if gloss != gloss.lower() or any(ch.isdigit() for ch in gloss):  # proper nouns, dates
        return None
    if content_words(gloss) & _OBSCURE_GLOSS:
        return None
    # A gloss must read as a noun phrase ("a knitted jacket that ..."): definite glosses ("the
    # most powerful piece") belong to a domain, and an early verb means a clause, not a phrase.
    if gloss_words[0] == "the" or {"is", "are", "was"} & set(gloss_words[:4]):
        return None
    if shares_word(gloss, lemma_vocabulary(lemmas)):  # gloss must describe, not name, the type
        return None
    hypernyms = _hypernym_chain(synsets, offset, set(branch.roots))
    return ProductType(synset, branch, lemmas, gloss, hypernyms)


def candidate_types(synsets: NounDatabase) -> dict[str, list[ProductType]]:
    """Per branch, every leaf that passes the filters. A leaf reachable from two branches
    belongs to the first; a display name already taken by another type is dropped."""
    taken_offsets: set[str] = set()
    taken_names: set[str] = set()
    per_branch: dict[str, list[ProductType]] = {}
    for branch in BRANCHES:
        found = []
        for root in branch.roots:
            if root not in synsets:
                raise WordNetFormatError(f"branch {branch.name!r}: root synset {root} is not in "
                                         f"data.noun (is this WordNet 3.0?)")
            for offset in _leaves(synsets, root):
                if offset in taken_offsets:
                    continue
                product_type = _candidate(synsets, offset, branch)
                if product_type is None or product_type.name in taken_names:
                    continue
                taken_offsets.add(offset)
                taken_names.add(product_type.name)
                found.append(product_type)
        per_branch[branch.name] = found
    return per_branch


def select_types(per_branch: dict[str, list[ProductType]], num_types: int,
                 split_fractions: tuple[float, float, float], rng: random.Random) -> list[ProductType]:
    """Round-robin over shuffled branches so small departments are fully used and large ones
    fill the rest; then split types into train/dev/test within each branch (stratified)."""
    available = sum(len(types) for types in per_branch.values())
    if num_types > available:
        raise ValueError(f"--num-types {num_types} exceeds the {available} WordNet types that pass "
                         f"the filters; ask for at most {available}")
    queues = {name: rng.sample(types, len(types)) for name, types in per_branch.items()}
    chosen: dict[str, list[ProductType]] = {name: [] for name in per_branch}
    while sum(len(v) for v in chosen.values()) < num_types:
        for name, queue in queues.items():
            if queue and sum(len(v) for v in chosen.values()) < num_types:
                chosen[name].append(queue.pop())
    selected: list[ProductType] = []
    for name in per_branch:
        _assign_splits(chosen[name], split_fractions)
        selected.extend(chosen[name])
    return sorted(selected, key=lambda t: t.type_id)


def _assign_splits(types: list[ProductType], fractions: tuple[float, float, float]) -> None:
    n = len(types)
    n_test = round(n * fractions[2])
    n_dev = round(n * fractions[1])
    for i, product_type in enumerate(types):
        product_type.split = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
