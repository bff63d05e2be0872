"""The benchmark's JSON Lines files: atomic writes (temp file, fsync, rename, so a reader never sees
half) and reads."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Iterable


def write_text_atomic(path: str, lines: Iterable[str]) -> int:
    """Writes one line per element; returns the number of bytes written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for line in lines:
                handle.write(line)
                handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
            os.fchmod(handle.fileno(), 0o644)  # mkstemp creates 0600; these are shareable data files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size


def write_jsonl(path: str, records: Iterable[dict]) -> int:
    return write_text_atomic(path, (json.dumps(r, ensure_ascii=False, sort_keys=False) for r in records))


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
