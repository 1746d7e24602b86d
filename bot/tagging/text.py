"""Text folding shared by the taggers: lower case, no accents, ASCII words."""

from __future__ import annotations

import re
import unicodedata


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFKD", chr(code))[:1]
        if base.isascii() and base.isalpha():
            table[code] = base.lower()
    table.update({ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss", ord("ø"): "o",
                  ord("ł"): "l", ord("đ"): "d", ord("ı"): "i", ord("ð"): "d"})
    return table


_FOLD = _build_fold_table()
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case and strip accents, keeping other characters: "Ouzbékistan" → "ouzbekistan"."""
    return text.lower().translate(_FOLD)


def words(text: str) -> list[str]:
    """The folded ASCII words of `text`; apostrophes, hyphens and dashes separate words."""
    return _WORD.findall(fold(text))
