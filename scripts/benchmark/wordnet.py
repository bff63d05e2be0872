"""Reader for WordNet 3.0's noun database (data.noun, format described in wndb(5))."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATA_NOUN = "/usr/share/wordnet/data.noun"


class WordNetFormatError(ValueError):
    """data.noun is missing or does not follow the wndb(5) layout."""


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


def _strip_adjective_marker(word: str) -> str:
    # Nouns never carry "(p)"-style markers in practice, but wndb(5) allows them on words.
    paren = word.find("(")
    return word[:paren] if paren > 0 else word


def parse_data_line(line: str, path: str, line_no: int) -> Synset:
    head, sep, gloss = line.partition(" | ")
    if not sep:
        raise WordNetFormatError(f"{path}:{line_no}: no ' | ' gloss separator")
    fields = head.split()
    try:
        offset, ss_type = fields[0], fields[2]
        w_cnt = int(fields[3], 16)
        words = [_strip_adjective_marker(fields[4 + 2 * i]).replace("_", " ") for i in range(w_cnt)]
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
        raise WordNetFormatError(f"{path}:{line_no}: malformed synset line ({exc})") from exc
    if ss_type != "n":
        raise WordNetFormatError(f"{path}:{line_no}: synset type {ss_type!r} is not a noun")
    return Synset(offset, words, gloss.strip(), hypernyms, hyponyms)


def load_nouns(path: str = DEFAULT_DATA_NOUN) -> dict[str, Synset]:
    """All noun synsets keyed by offset. License header lines (leading spaces) are skipped."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"WordNet noun database not found at {path}; install Debian's wordnet-base "
            f"(apt-get install -y wordnet-base) or pass --wordnet PATH")
    synsets: dict[str, Synset] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, 1):
            if line.startswith(" ") or not line.strip():
                continue
            synset = parse_data_line(line.rstrip("\n"), path, line_no)
            synsets[synset.offset] = synset
    if not synsets:
        raise WordNetFormatError(f"{path}: no synsets found")
    return synsets
