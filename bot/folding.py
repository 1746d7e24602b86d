"""Text folding shared by the domain and the taggers: lower case, no accents, ASCII words."""

from __future__ import annotations

import re
import unicodedata

_COMBINING = re.compile(r"[\u0300-\u036f]")
# Letters NFKD does not decompose. (str.translate with a dict is slow: replace instead.)
_LIGATURES = (("œ", "oe"), ("æ", "ae"), ("ß", "ss"), ("ø", "o"), ("ł", "l"), ("đ", "d"),
              ("ı", "i"), ("ð", "d"))
# Non-ASCII characters that separate words; every other one is dropped after NFKD (accents
# go, letters stay). Measured: twice as fast as a regex over the folded text.
_SEPARATORS = ("’", "‘", "‚", "“", "”", "«", "»", "–", "—", "‑", "‐", "−", "…",
               "\xa0", "\u202f", "\u2009", "\u2007", "\u200b")
_ASCII_WORD_BYTES = bytes(b if chr(b).isascii() and chr(b).isalnum() else 32 for b in range(256))


def fold(text: str) -> str:
    """Lower-case and strip accents, keeping other characters: "Ouzbékistan" → "ouzbekistan"."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    for letter, plain in _LIGATURES:
        if letter in lowered:
            lowered = lowered.replace(letter, plain)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", lowered))


def words(text: str) -> list[str]:
    """The folded ASCII words of `text`; apostrophes, hyphens and dashes separate words."""
    lowered = text.lower()
    if lowered.isascii():
        data = lowered.encode()
    else:
        for separator in _SEPARATORS:
            if separator in lowered:
                lowered = lowered.replace(separator, " ")
        for letter, plain in _LIGATURES:
            if letter in lowered:
                lowered = lowered.replace(letter, plain)
        data = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore")
    return data.translate(_ASCII_WORD_BYTES).decode().split()


def title_key(title: str) -> str:
    """A title as feed entries are matched to stored articles: its folded words, so that
    accents, case, punctuation and a cut teaser's `…` make no difference ("Tachkent : l’été…"
    → "tachkent l ete"); empty for a title with no word."""
    return " ".join(words(title))
