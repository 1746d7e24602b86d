"""The digest as Telegram messages (HTML parse mode), split to Telegram's limits.

A message holds at most 4096 characters as the reader sees them (after entity parsing,
counted in UTF-16 code units as Telegram counts) and at most 100 entities (each tag is one).
Parts break between sections or between articles, never inside a tag or an article; a part
that continues a section starts with the section's title and "(suite)", so that each reads
alone. Only an article too long for any message is cut, between words of its lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot.digest import Digest
from bot.render.blocks import Block, ShownItem, digest_blocks, title_line
from bot.render.i18n import translate

MAX_TEXT = 4096  # Telegram's MessageLimit.MAX_TEXT_LENGTH
MAX_ENTITIES = 100  # Telegram refuses a message with more formatting entities
SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class TelegramPart:
    """One message: its HTML, the text the reader sees, and its entity count."""

    html: str
    text: str
    entities: int
    continuation: str = ""  # the repeated section title it starts with, if any

    @property
    def length(self) -> int:
        return utf16_length(self.text)


@dataclass(frozen=True, slots=True)
class _Piece:
    html: str
    text: str
    entities: int
    lead: str = ""  # an article's lead, kept apart in case it must be cut

    @property
    def length(self) -> int:
        return utf16_length(self.text)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji flag counts 4)."""
    return len(text.encode("utf-16-le")) // 2


def render_telegram(digest: Digest, newsletter_name: str, locale: str = "fr",
                    max_text: int = MAX_TEXT, max_entities: int = MAX_ENTITIES
                    ) -> list[TelegramPart]:
    """The digest's messages, in order; each within both limits."""
    packer = _Packer(max_text, max_entities, translate(locale, "suite"))
    header = title_line(newsletter_name, digest, locale)
    packer.add(_Piece(f"<b>{_text(header)}</b>", header, 1), heading=None)
    for block in digest_blocks(digest, locale):
        # A continued section repeats its name, without the count: "🇰🇿 Kazakhstan (suite)".
        name = _Piece(f"<b>{_text(block.heading)}</b>", block.heading, 1)
        packer.add_section(_title(block), name, [_article(item) for item in block.items])
    return packer.finish()


def _title(block: Block) -> _Piece:
    text = f"{block.heading} ({block.count})"
    return _Piece(f"<b>{_text(block.heading)}</b> ({block.count})", text, 1)


def _article(item: ShownItem) -> _Piece:
    title = f'<a href="{escape(item.url, quote=True)}">{_text(item.title)}</a>' \
        if item.url else _text(item.title)
    html = f"<b>{title}</b>\n<i>{_text(item.day)}</i>\n"
    return _Piece(html + _text(item.lead), f"{item.title}\n{item.day}\n{item.lead}",
                  3 if item.url else 2, item.lead)


def _text(text: str) -> str:
    """Text for Telegram's HTML: `<`, `>` and `&` escaped, nothing else touched."""
    return escape(text, quote=False)


class _Packer:
    """Fills messages piece by piece within both limits."""

    def __init__(self, max_text: int, max_entities: int, continued: str) -> None:
        self.max_text = max_text
        self.max_entities = max_entities
        self.continued = continued
        self.parts: list[TelegramPart] = []
        self.pieces: list[_Piece] = []
        self.continuation = ""

    def fits(self, *pieces: _Piece) -> bool:
        both = [*self.pieces, *pieces]
        text = SEPARATOR.join(p.text for p in both)
        return (utf16_length(text) <= self.max_text
                and sum(p.entities for p in both) <= self.max_entities)

    def add(self, piece: _Piece, heading: _Piece | None) -> None:
        if not self.fits(piece):
            self.close()
            if heading is not None:
                self.start_continuing(heading)
        if not self.fits(piece):  # longer than any message: cut its lead
            for chunk in self.cut(piece, heading):
                self.add(chunk, heading)
            return
        self.pieces.append(piece)

    def add_section(self, title: _Piece, name: _Piece, items: list[_Piece]) -> None:
        if items and not self.fits(title, items[0]):
            self.close()  # no title alone at the bottom of a message
        self.add(title, heading=None)
        for item in items:
            self.add(item, heading=name)

    def start_continuing(self, heading: _Piece) -> None:
        suffix = f" ({self.continued})"
        self.continuation = heading.text + suffix
        self.pieces = [_Piece(heading.html + _text(suffix), heading.text + suffix,
                              heading.entities)]

    def cut(self, piece: _Piece, heading: _Piece | None) -> list[_Piece]:
        """An article too long for one message, as pieces that each fit a message that
        starts with the section's "(suite)" title; the first keeps the title and date, the
        rest are plain text."""
        room = self.max_text
        if heading is not None:
            room -= utf16_length(f"{heading.text} ({self.continued})") + len(SEPARATOR)
        head_text = piece.text[: len(piece.text) - len(piece.lead)]
        head_html = piece.html[: len(piece.html) - len(_text(piece.lead))]
        if utf16_length(head_text) > room // 2:  # an absurdly long title: plain text only
            return [_Piece(_text(c), c, 0) for c in _split_words(piece.text, room, room)]
        chunks = _split_words(piece.lead, room - utf16_length(head_text), room)
        first = _Piece(head_html + _text(chunks[0]), head_text + chunks[0], piece.entities)
        return [first, *(_Piece(_text(c), c, 0) for c in chunks[1:])]

    def close(self) -> None:
        if self.pieces:
            self.parts.append(TelegramPart(SEPARATOR.join(p.html for p in self.pieces),
                                           SEPARATOR.join(p.text for p in self.pieces),
                                           sum(p.entities for p in self.pieces),
                                           self.continuation))
        self.pieces = []
        self.continuation = ""

    def finish(self) -> list[TelegramPart]:
        self.close()
        return self.parts


def _split_words(text: str, first_room: int, room: int) -> list[str]:
    """`text` in chunks of at most `first_room`, then `room`, UTF-16 units, broken between
    words where possible (a word longer than a chunk is broken between characters)."""
    chunks: list[str] = []
    limit = max(first_room, 1)
    rest = text
    while utf16_length(rest) > limit:
        cut = _longest_prefix(rest, limit)
        space = rest.rfind(" ", 0, cut + 1)
        if space > 0:
            cut = space
        chunks.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
        limit = max(room, 1)
    chunks.append(rest)
    return chunks


def _longest_prefix(text: str, units: int) -> int:
    """The number of characters of `text` that fit in `units` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return index
    return len(text)
