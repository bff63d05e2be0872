"""All of WordNet 3.0 as pretraining text: every noun, verb, adjective and adverb synset.

The benchmark corpus (corpus.py) states knowledge about the catalogue's few hundred product
types only, so a model pretrained on it has never seen most of the words shoppers use ("my",
"newborn", "beach", "trout"). This module writes the whole lexicon as plain sentences: each
synset's definition in both directions (word -> definition, definition -> word), its usage
examples verbatim (WordNet's only running text: the everyday sentences that the definitions
lack), its synonyms, and its relations in both directions: hypernym / hyponym, part, member
and substance meronym / holonym, attribute, similar-to, antonym, entailment and cause.

One template is drawn per relation and direction, so the size stays proportional to the
lexicon and deterministic for a seed: all 117k synsets make 854k lines (51 MB), the 27k
sense-tagged ones ("common") 254k lines (12.8 MB). Licence: WordNet 3.0's own
(Princeton, permissive with notice; /usr/share/doc/wordnet-base/copyright), which allows
shipping a model trained on it; docs/BENCHMARK_DATA.md carries the notice.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator

from .text import with_article
from .wordnet import Synset, WordNetFormatError, parse_data_line

FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}

# Definitions: how each part of speech reads as a sentence, forward and backward.
DEFINE = {
    "n": (("{a_word} is {a_def}", "{word}: {a_def}", "the word {word} means {a_def}"),
          ("{a_def} is called {a_word}", "the name for {a_def} is {word}", "we call {a_def} {a_word}")),
    "v": (("to {word} means to {def}", "to {word} is to {def}", "{word}: to {def}"),
          ("to {def} is to {word}", "when you {def}, you {word}", "the verb for to {def} is {word}")),
    "a": (("{word} means {def}", "something {word} is {def}", "{word}: {def}"),
          ("{def} is {word}", "the word for {def} is {word}", "something {def} is called {word}")),
    "r": (("{word} means {def}", "{word}: {def}"),
          ("{def} is said {word}", "the word for {def} is {word}")),
}
SYNONYM = ("{x} is another word for {y}", "{x} and {y} mean the same thing", "{x}, also called {y}")
# Relations between synsets: pointer symbol -> (forward templates, backward templates) over the
# source word x and the target word y. Backward reads the relation from the target's side, so
# the model sees both "a hammer is a kind of tool" and "tools such as a hammer".
RELATIONS = {
    "@": (("{a_x} is a kind of {y}", "{a_x} is a type of {y}"), ("kinds of {y} include {x}", "{y} such as {a_x}")),
    "@i": (("{x} is {a_y}", "{x} is an example of {a_y}"), ("{a_y} such as {x}",)),
    "%p": (("{a_x} has {a_y}", "{a_x} comes with {a_y}"), ("{a_y} is part of {a_x}", "{a_y} is found on {a_x}")),
    "%m": (("{a_x} has {y} as members", "{a_y} belongs to {a_x}"), ("{a_y} is a member of {a_x}",)),
    "%s": (("{a_x} contains {y}", "{a_x} is made with {y}"), ("{y} goes into {a_x}",)),
    "=": (("{x} is a value of {y}",), ("{y} can be {x}",)),
    "&": (("{x} is similar to {y}", "{x} means nearly {y}"), ("{y} is close to {x}",)),
    "!": (("{x} is the opposite of {y}", "{x} is not {y}"), ("the opposite of {y} is {x}",)),
    "*": (("to {x} involves to {y}",), ("you {y} when you {x}",)),
    ">": (("to {x} causes to {y}",), ("to {y} can be caused when you {x}",)),
}
# WordNet stores the inverse of each relation on the target synset too ("~" for "@", "#p" for
# "%p"...): only the symbols above are read, so a pair is written once with both directions,
# except for the symmetric ones ("&", "!"), which each side states.


def _definition_and_examples(gloss: str) -> tuple[str, list[str]]:
    """WordNet's gloss: definition(s), then usage examples in double quotes, separated by ';'."""
    definition, examples = [], []
    for part in gloss.split(";"):
        part = part.strip()
        if part.startswith('"'):
            example = part.strip('"').strip()
            if example:
                examples.append(example)
        elif part and not examples:
            definition.append(part)
    return "; ".join(definition), examples


INDEX_FILES = {"n": "index.noun", "v": "index.verb", "a": "index.adj", "r": "index.adv"}


def _open_wordnet(directory: str, name: str):
    """One of WordNet 3.0's files, or an error that says how to get it."""
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"WordNet database {path} not found; install Debian's wordnet-base "
                                f"(apt-get install -y wordnet-base) or pass --wordnet the data.noun of a "
                                f"complete WordNet 3.0 directory")
    return open(path, encoding="utf-8", errors="replace")


def _index_entries(directory: str) -> Iterator[tuple[str, str, list[str], int]]:
    """index.*: (pos, lemma, its synsets most frequent first, how many of them SemCor tagged)."""
    for pos, name in INDEX_FILES.items():
        path = os.path.join(directory, name)
        with _open_wordnet(directory, name) as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith("  "):
                    continue
                fields = line.split()
                try:
                    rest = fields[4 + int(fields[3]):]
                    yield pos, fields[0], rest[2:2 + int(rest[0])], int(rest[1])
                except (IndexError, ValueError) as exc:
                    raise WordNetFormatError(f"{path}:{number}: malformed index line ({exc})") from exc


def tagged_synsets(directory: str) -> set[tuple[str, str]]:
    """The synsets that are some word's sense seen in WordNet's sense-tagged texts (SemCor): in
    index.* a lemma's synsets are ordered by frequency and the first tagsense_cnt were seen.
    About 27k of the 117k synsets: the everyday vocabulary, without most of the taxonomy
    (genus and family names, rare species) that a 2-core pretraining budget cannot afford."""
    return {(pos, offset) for pos, _, offsets, tagged in _index_entries(directory) for offset in offsets[:tagged]}


# WordNet's morphy (morphy(7WN)): the detachment rules tried when a word is not a lemma itself.
SUFFIXES = {"n": (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
                  ("ies", "y"), ("s", "")),
            "v": (("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
                  ("s", "")),
            "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
            "r": ()}
IRREGULAR_FILES = {"n": "noun.exc", "v": "verb.exc", "a": "adj.exc", "r": "adv.exc"}
# Words whose WordNet senses are not what they mean in a gloss ("in" = inch, "it" = information
# technology, "a" = vitamin A): function words, skipped when glosses are read for their words.
FUNCTION_WORDS = frozenset("""a an the and or but nor not no of in on at to by for from with without into onto
    upon as than then so if it its is are was were be been being am do does did has have had this that these those
    which who whom whose what when where why how there here all any some each every one ones other such own same
    very can could may might must shall should will would up down out off over under again also only more most
    about after before between through during against among i me my we us our you your he him his she her they
    them their""".split())


def first_senses(directory: str) -> dict[tuple[str, str], str]:
    """(pos, lemma) -> the lemma's most frequent synset in that part of speech."""
    return {(pos, lemma): offsets[0] for pos, lemma, offsets, _ in _index_entries(directory) if offsets}


def irregular_forms(directory: str) -> dict[tuple[str, str], list[str]]:
    """(pos, inflected form) -> base forms, from WordNet's irregular-form lists (*.exc)."""
    table: dict[tuple[str, str], list[str]] = {}
    for pos, name in IRREGULAR_FILES.items():
        with _open_wordnet(directory, name) as handle:
            for line in handle:
                words = line.split()
                if len(words) >= 2:
                    table.setdefault((pos, words[0]), []).extend(words[1:])
    return table


def most_frequent_sense(word: str, pos: str, first: dict[tuple[str, str], str],
                        irregular: dict[tuple[str, str], list[str]]) -> str | None:
    """The most frequent synset of `word` read as part of speech `pos`, found as morphy finds a
    lemma: the word itself, then its irregular base forms, then the suffix rules."""
    candidates = [word] + irregular.get((pos, word), [])
    candidates += [word[:-len(old)] + new for old, new in SUFFIXES[pos] if word.endswith(old) and len(word) > len(old)]
    for candidate in candidates:
        if (pos, candidate) in first:
            return first[(pos, candidate)]
    return None


def catalogue_synsets(directory: str, synsets: dict[tuple[str, str], Synset],
                      seeds: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The product types' synsets and the language around them, but not the other senses of
    their names (item 15 of docs/RESULTS.md: "mule" the animal competed with the slipper): the
    seeds, every synset one WordNet relation away (hypernym, hyponym, part, member, substance,
    attribute, domain...), and the most frequent sense, in each part of speech, of every content
    word in those synsets' definitions and examples."""
    near = {key for key in seeds if key in synsets}
    for key in list(near):
        near.update((p.pos, p.offset) for p in synsets[key].pointers if (p.pos, p.offset) in synsets)
    first, irregular = first_senses(directory), irregular_forms(directory)
    words = {w for key in near for w in re.findall(r"[a-z]+(?:-[a-z]+)*", synsets[key].gloss.lower())
             if len(w) > 1 and w not in FUNCTION_WORDS}
    keep = set(near)
    for word in words:
        for pos in FILES:
            offset = most_frequent_sense(word, pos, first, irregular)
            if offset is not None and (pos, offset) in synsets:
                keep.add((pos, offset))
    return keep


def read_lexicon(directory: str) -> dict[tuple[str, str], Synset]:
    """Every synset of the four databases, keyed by (pos, offset)."""
    synsets: dict[tuple[str, str], Synset] = {}
    for pos, name in FILES.items():
        path = os.path.join(directory, name)
        with _open_wordnet(directory, name) as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith("  "):  # the licence header
                    continue
                synset = parse_data_line(line.rstrip("\n\r"), f"{path}:{number}", pos)
                synsets[(pos, synset.offset)] = synset
    if not synsets:
        raise WordNetFormatError(f"{directory}: no synsets in {', '.join(FILES.values())}")
    return synsets


def _word(synset: Synset, number: int, rng: random.Random) -> str:
    """Word `number` (1-based) of a lexical pointer, or any of the synset's words for 0."""
    if 0 < number <= len(synset.lemmas):
        return synset.lemmas[number - 1]
    return rng.choice(synset.lemmas)


def synset_sentences(synset: Synset, synsets: dict[tuple[str, str], Synset], rng: random.Random) -> list[str]:
    definition, examples = _definition_and_examples(synset.gloss)
    lines = []
    forward, backward = DEFINE[synset.pos]
    if definition:
        for word in synset.lemmas:
            values = {"word": word, "a_word": with_article(word), "def": definition, "a_def": with_article(definition)}
            lines.append(rng.choice(forward).format(**values))
            lines.append(rng.choice(backward).format(**values))
    lines += examples
    for x, y in zip(synset.lemmas, synset.lemmas[1:]):
        lines.append(rng.choice(SYNONYM).format(x=x, y=y))
    for pointer in synset.pointers:
        templates = RELATIONS.get(pointer.symbol)
        target = synsets.get((pointer.pos, pointer.offset))
        if templates is None or target is None:
            continue
        x, y = _word(synset, pointer.source, rng), _word(target, pointer.target, rng)
        values = {"x": x, "y": y, "a_x": with_article(x), "a_y": with_article(y)}
        lines.append(rng.choice(templates[0]).format(**values))
        lines.append(rng.choice(templates[1]).format(**values))
    return lines


LEXICON_CHOICES = ("none", "catalogue", "common", "all")


def lexicon_sentences(directory: str, rng: random.Random, which: str = "all",
                      seeds: set[tuple[str, str]] | None = None) -> Iterator[str]:
    """The sentences of every synset ("all"), of the sense-tagged ones ("common") or of the
    neighbourhood of the `seeds` synsets ("catalogue": the product types, see
    catalogue_synsets), synset by synset in file order (the caller shuffles them into its
    corpus). Relations to synsets left out are kept: they name the rarer words from the kept
    ones' side."""
    if which not in LEXICON_CHOICES[1:]:
        raise ValueError(f"lexicon {which!r}: expected one of {', '.join(LEXICON_CHOICES[1:])}")
    if which == "catalogue" and not seeds:
        raise ValueError("lexicon 'catalogue' needs the product types' synsets (seeds)")
    synsets = read_lexicon(directory)
    if which == "catalogue":
        keep = catalogue_synsets(directory, synsets, seeds)
    elif which == "common":
        keep = tagged_synsets(directory)
    else:
        keep = synsets.keys()
    for key, synset in synsets.items():
        if key in keep:
            yield from synset_sentences(synset, synsets, rng)
