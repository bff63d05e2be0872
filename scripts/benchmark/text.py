"""Word-level helpers shared by type selection, query generation and the teacher."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    "a an the of for to in on at by with without and or but from into onto over under as is are be "
    "that which who whose it its this these those used use using one ones any some such than not no "
    "made make like very more most so up down out off".split())

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_QUOTED = re.compile(r'"[^"]*"?')
_PARENS = re.compile(r"\([^)]*\)")
_DETERMINERS = frozenset("a an the any one some either each two several".split())


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 2}


def word_forms(word: str) -> set[str]:
    """The word and its regular inflections/stems, so 'racket' also blocks 'rackets'."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("s"):
        forms.add(word[:-1])
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    return forms


def shares_word(text: str, vocabulary: set[str]) -> bool:
    """True when some word of `text` (hyphenated parts too) is an inflection of a vocabulary word."""
    forms = set().union(*(word_forms(w) for w in vocabulary)) if vocabulary else set()
    for w in words(text):
        if w in forms or any(part in forms for part in w.split("-")):
            return True
    return False


def lemma_vocabulary(lemmas: list[str]) -> set[str]:
    """Content words of all lemmas, hyphenated words split as well."""
    vocab: set[str] = set()
    for lemma in lemmas:
        for w in content_words(lemma):
            vocab.add(w)
            vocab.update(p for p in w.split("-") if len(p) > 2)
    return vocab


def clean_gloss(raw: str) -> str:
    """The defining part of a WordNet gloss: before the first ';', without quotes or parentheses."""
    text = _QUOTED.sub("", raw).split(";")[0]
    text = _PARENS.sub("", text)
    return " ".join(text.replace(" ,", ",").split()).strip(" ,.:")


def with_article(phrase: str) -> str:
    """'knitted jacket' -> 'a knitted jacket'; leaves phrases that already start with a determiner."""
    first = phrase.split(" ", 1)[0].lower()
    if first in _DETERMINERS:
        return phrase
    return ("an " if _vowel_sound(first) else "a ") + phrase


def _vowel_sound(word: str) -> bool:
    if word.startswith(("one", "uni", "use", "usu", "eu", "ewe")):
        return False
    return word[:1] in "aeiou" or word.startswith(("hour", "honest", "heir"))


def strip_article(phrase: str) -> str:
    head, _, rest = phrase.partition(" ")
    return rest if head.lower() in ("a", "an", "the") and rest else phrase


def title_case(phrase: str) -> str:
    return " ".join(part[:1].upper() + part[1:] for part in phrase.split(" "))
