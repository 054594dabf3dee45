"""Word splitting shared by the text filter and the store's word index."""

from __future__ import annotations

import re

_WORD = re.compile(r"[0-9a-z]+")
MAX_WORD = 100


def words_of(*texts: str | None) -> set[str]:
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(w[:MAX_WORD] for w in _WORD.findall(text.lower()))
    return found
