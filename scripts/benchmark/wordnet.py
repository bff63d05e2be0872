"""Reader for WordNet 3.0's databases (data.noun, data.verb, data.adj, data.adv; format in wndb(5))."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

DEFAULT_DATA_NOUN = "/usr/share/wordnet/data.noun"
ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


class WordNetFormatError(ValueError):
    """A data.* line does not follow the wndb(5) layout."""


# ss_type of data.adj's satellite synsets ("s"): adjectives clustered around a head synset.
POS_OF_TYPE = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}


@dataclass
class Pointer:
    symbol: str   # wninput(5): "@" hypernym, "~" hyponym, "%p" part meronym, "&" similar to, "!" antonym...
    offset: str   # the target synset
    pos: str      # the target's part of speech: n, v, a or r (satellites are "a")
    source: int   # 0 for a relation between synsets; else the word number (1-based) in this synset
    target: int   # ... and in the target synset (lexical relations such as antonymy)


@dataclass
class Synset:
    offset: str                      # 8 digits, e.g. "03057021"
    lemmas: list[str]                # spaces instead of underscores, original case kept
    gloss: str                       # raw gloss text after '|'
    hypernyms: list[str] = field(default_factory=list)  # noun offsets ('@' pointers)
    hyponyms: list[str] = field(default_factory=list)   # noun offsets ('~' pointers)
    pos: str = "n"
    pointers: list[Pointer] = field(default_factory=list)

    @property
    def synset_id(self) -> str:
        return f"wn:{self.offset}-{self.pos}"


def parse_data_line(line: str, where: str, pos: str = "n") -> Synset:
    """One line: offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt (ptr offset pos src/tgt)...
    [verb frames] | gloss. `pos` is the part of speech of the file (n, v, a or r)."""
    head, sep, gloss = line.partition(" | ")
    if not sep:
        raise WordNetFormatError(f"{where}: no ' | ' gloss separator")
    fields = head.split()
    try:
        offset, ss_type = fields[0], fields[2]
        w_cnt = int(fields[3], 16)
        # data.adj marks some words with their syntactic position: "galore(ip)", "aforesaid(p)".
        words = [ADJ_MARKER.sub("", fields[4 + 2 * i]).replace("_", " ") for i in range(w_cnt)]
        at = 4 + 2 * w_cnt
        p_cnt = int(fields[at])
        at += 1
        pointers = []
        for _ in range(p_cnt):
            symbol, target, target_pos, numbers = fields[at:at + 4]
            at += 4
            pointers.append(Pointer(symbol, target, POS_OF_TYPE[target_pos], int(numbers[:2], 16),
                                    int(numbers[2:], 16)))
    except (IndexError, ValueError, KeyError) as exc:
        raise WordNetFormatError(f"{where}: malformed synset line ({exc})") from exc
    if POS_OF_TYPE.get(ss_type) != pos:
        raise WordNetFormatError(f"{where}: synset type {ss_type!r} does not belong in the {pos!r} database")
    nouns = [p for p in pointers if p.pos == "n"]
    return Synset(offset, words, gloss.strip(), [p.offset for p in nouns if p.symbol == "@"],
                  [p.offset for p in nouns if p.symbol == "~"], pos, pointers)


class NounDatabase:
    """data.noun, parsed on demand: in wndb(5) a synset's offset is the byte offset of its line,
    so looking a synset up is a slice of the file, and only the synsets reached get parsed."""

    def __init__(self, path: str = DEFAULT_DATA_NOUN):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"WordNet noun database not found at {path}; install Debian's wordnet-base "
                f"(apt-get install -y wordnet-base) or pass --wordnet PATH")
        with open(path, "rb") as handle:
            self._data = handle.read()
        self._path = path
        self._cache: dict[str, Synset] = {}

    def __contains__(self, offset: str) -> bool:
        try:
            self[offset]
        except KeyError:
            return False
        return True

    def __getitem__(self, offset: str) -> Synset:
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        start = int(offset)
        if not self._data.startswith(offset.encode() + b" ", start):
            raise KeyError(f"no synset at offset {offset} in {self._path} (is this WordNet 3.0's data.noun?)")
        end = self._data.find(b"\n", start)
        line = self._data[start:end if end >= 0 else len(self._data)].decode("utf-8", errors="replace")
        synset = parse_data_line(line.rstrip("\r"), f"{self._path}, synset {offset}")
        self._cache[offset] = synset
        return synset
