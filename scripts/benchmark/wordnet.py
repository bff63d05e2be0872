"""Reader for WordNet 3.0's noun database (data.noun, format described in wndb(5))."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATA_NOUN = "/usr/share/wordnet/data.noun"


class WordNetFormatError(ValueError):
    """A data.noun line does not follow the wndb(5) layout."""


@dataclass
class Synset:
    offset: str                      # 8 digits, e.g. "03057021"
    lemmas: list[str]                # spaces instead of underscores, original case kept
    gloss: str                       # raw gloss text after '|'
    hypernyms: list[str] = field(default_factory=list)  # offsets ('@' pointers)
    hyponyms: list[str] = field(default_factory=list)   # offsets ('~' pointers)

    @property
    def synset_id(self) -> str:
        return f"wn:{self.offset}-n"


def parse_data_line(line: str, where: str) -> Synset:
    """One line: offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt (ptr offset pos src/tgt)... | gloss"""
    head, sep, gloss = line.partition(" | ")
    if not sep:
        raise WordNetFormatError(f"{where}: no ' | ' gloss separator")
    fields = head.split()
    try:
        offset, ss_type = fields[0], fields[2]
        w_cnt = int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
        pos = 4 + 2 * w_cnt
        p_cnt = int(fields[pos])
        pos += 1
        hypernyms, hyponyms = [], []
        for _ in range(p_cnt):
            symbol, target, target_pos = fields[pos], fields[pos + 1], fields[pos + 2]
            pos += 4
            if target_pos != "n":
                continue
            if symbol == "@":
                hypernyms.append(target)
            elif symbol == "~":
                hyponyms.append(target)
    except (IndexError, ValueError) as exc:
        raise WordNetFormatError(f"{where}: malformed synset line ({exc})") from exc
    if ss_type != "n":
        raise WordNetFormatError(f"{where}: synset type {ss_type!r} is not a noun")
    return Synset(offset, words, gloss.strip(), hypernyms, hyponyms)


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
