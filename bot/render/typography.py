"""French typography for titles and leads, applied when rendering (the store keeps the text
as written): no-break spaces before « : ; ! ? » and inside guillemets, so that no
punctuation starts a line on a phone."""

from __future__ import annotations

import re

NBSP = "\u00a0"  # espace insécable: before the colon, inside « »
NNBSP = "\u202f"  # espace fine insécable: before ; ! ?

# "Tennis : …" and "Tennis: …" alike; "10:30" and "https://" have no space after the colon.
_BEFORE_COLON = re.compile(r"(?:[ \u00a0\u202f]+|(?<=\w)):(?=\s|$)")
_ENTITY_LIKE = re.compile(r"&#?\w+$")
# "vraiment?" → "vraiment ?" too, but only where the mark ends a word ("?" in a URL stays).
_BEFORE_HIGH = re.compile(r"(?<=[^\s(\[«\"'])[ \u00a0\u202f]*([;!?]+)(?=[\s»)\]\"',.…]|$)")
_AFTER_OPEN = re.compile(r"«[ \u00a0\u202f]*")
_BEFORE_CLOSE = re.compile(r"[ \u00a0\u202f]*»")


def french_typography(text: str) -> str:
    """`Sommet : « Oui » ?` → the same with the right no-break spaces."""
    if not any(mark in text for mark in ":;!?«»"):
        return text
    text = _BEFORE_COLON.sub(NBSP + ":", text)
    text = _BEFORE_HIGH.sub(_high_mark, text)
    text = _AFTER_OPEN.sub("«" + NBSP, text)
    return _BEFORE_CLOSE.sub(NBSP + "»", text)


def _high_mark(match: re.Match[str]) -> str:
    marks = match.group(1)
    # "&amp;" written out in a text stays as it is.
    if marks.startswith(";") and _ENTITY_LIKE.search(match.string, 0, match.start()):
        return match.group(0)
    return NNBSP + marks
