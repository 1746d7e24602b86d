"""The digest as Telegram messages (HTML parse mode), split to Telegram's limits.

A message holds at most 4096 characters as the reader sees them (after entity parsing,
counted in UTF-16 code units as Telegram counts) and at most 100 entities (each tag is one).
Parts break between sections or between articles, never inside a tag or an article; a part
that continues a section starts with the section's title and "(suite)", so that each reads
alone. Only an article too long for any message is cut, between words of its lead.

The first part has the table of contents under its title. A digest of several parts ends
each with its number, "2/4", and its last with a link to the week's web version; room for
that line is kept in every part, so it never pushes a part past either limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot.digest import Digest
from bot.render.blocks import (
    FEATURED_MARK,
    Block,
    ShownItem,
    contents_line,
    digest_blocks,
    online_label,
    safe_url,
    title_line,
)
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
    trailer: str = ""  # the line it ends with, if any: "2/4", "4/4 · Tout le résumé en ligne"

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


def render_telegram(digest: Digest, newsletter_name: str, locale: str = "fr", *,
                    archive_url: str | None = None, max_text: int = MAX_TEXT,
                    max_entities: int = MAX_ENTITIES) -> list[TelegramPart]:
    """The digest's messages, in order; each within both limits. Several parts are numbered,
    and the last links `archive_url` (the week's web version), when given."""
    blocks = digest_blocks(digest, locale)
    header = title_line(newsletter_name, digest, locale)
    opening = [_Piece(f"<b>{_text(header)}</b>", header, 1)]
    if contents := contents_line(blocks, locale):
        opening.append(_Piece(_text(contents), contents, 0))

    sections = [(block, _title(block), [_article(item) for item in block.items])
                for block in blocks]

    def pack(reserve: _Piece | None) -> list[TelegramPart]:
        spare = utf16_length(SEPARATOR + reserve.text) if reserve else 0
        packer = _Packer(max_text - spare, max_entities - (reserve.entities if reserve else 0),
                         translate(locale, "suite"))
        for piece in opening:
            packer.add(piece, heading=None)
        for block, title, items in sections:
            # A continued section repeats its name, without the count: "🇰🇿 Kazakhstan (suite)".
            name = _Piece(f"<b>{_text(block.heading)}</b>", block.heading, 1)
            packer.add_section(title, name, items)
        return packer.finish()

    whole = [*opening, *(piece for _, title, items in sections for piece in (title, *items))]
    if (utf16_length(SEPARATOR.join(p.text for p in whole)) <= max_text
            and sum(p.entities for p in whole) <= max_entities):
        return pack(None)  # one message: no number, no link
    # Several: room for the widest last line ("44/44 · <link>") is kept in every part, link
    # or not, so that the split does not depend on it; repacked if the count gains a digit.
    digits = 1
    while True:
        parts = pack(_trailer("9" * digits, "9" * digits, "https://", locale))
        if len(str(len(parts))) <= digits:
            break
        digits = len(str(len(parts)))
    link = safe_url(archive_url)
    return [_with(part, _trailer(str(n), str(len(parts)), link if n == len(parts) else None,
                                 locale)) for n, part in enumerate(parts, 1)]


def _trailer(number: str, total: str, link: str | None, locale: str) -> _Piece:
    """A part's last line: its number, and on the last part the week's web version."""
    text, html = f"{number}/{total}", f"<i>{number}/{total}</i>"
    if link is None:
        return _Piece(html, text, 1)
    words = online_label(locale)
    return _Piece(f'{html} · <a href="{escape(link, quote=True)}">{_text(words)}</a>',
                  f"{text} · {words}", 2)


def _with(part: TelegramPart, trailer: _Piece) -> TelegramPart:
    return TelegramPart(part.html + SEPARATOR + trailer.html, part.text + SEPARATOR + trailer.text,
                        part.entities + trailer.entities, part.continuation, trailer.text)


def _title(block: Block) -> _Piece:
    text = f"{block.heading} ({block.count})"
    return _Piece(f"<b>{_text(block.heading)}</b> ({block.count})", text, 1)


def _article(item: ShownItem) -> _Piece:
    title = f'<a href="{escape(item.url, quote=True)}">{_text(item.title)}</a>' \
        if item.url else _text(item.title)
    mark = f"{FEATURED_MARK} " if item.featured else ""  # also in À la une
    html = f"<b>{mark}{title}</b>\n<i>{_text(item.day)}</i>\n"
    return _Piece(html + _text(item.lead), f"{mark}{item.title}\n{item.day}\n{item.lead}",
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

    def fits_fresh(self, heading: _Piece | None, *pieces: _Piece) -> bool:
        """Would `pieces` fit a new message (starting with `heading`'s "(suite)")?"""
        saved, self.pieces = self.pieces, [self.continued_heading(heading)] if heading else []
        try:
            return self.fits(*pieces)
        finally:
            self.pieces = saved

    def add(self, piece: _Piece, heading: _Piece | None) -> None:
        if self.fits(piece):
            self.pieces.append(piece)
        elif self.fits_fresh(heading, piece):
            self.close()
            self.continue_with(heading)
            self.pieces.append(piece)
        else:  # longer than any message: cut its lead
            first, *rest = self.cut(piece, heading)
            self.pieces.append(first)
            for chunk in rest:
                self.add(chunk, heading)

    def add_section(self, title: _Piece, name: _Piece, items: list[_Piece]) -> None:
        # No title alone at the bottom of a message, unless its first article could not be
        # whole in any message anyway (it is then cut, and starts under its title).
        if items and not self.fits(title, items[0]) and self.fits_fresh(None, title, items[0]):
            self.close()
        self.add(title, heading=None)
        for item in items:
            self.add(item, heading=name)

    def continued_heading(self, heading: _Piece) -> _Piece:
        suffix = f" ({self.continued})"
        return _Piece(heading.html + _text(suffix), heading.text + suffix, heading.entities)

    def continue_with(self, heading: _Piece | None) -> None:
        if heading is not None:
            first = self.continued_heading(heading)
            self.continuation = first.text
            self.pieces = [first]

    def room(self) -> int:
        used = utf16_length(SEPARATOR.join(p.text for p in self.pieces))
        return self.max_text - (used + len(SEPARATOR) if self.pieces else 0)

    def cut(self, piece: _Piece, heading: _Piece | None) -> list[_Piece]:
        """An article too long for one message, in pieces: the first fills the current
        message (or a new one when little room is left), the others each fit a new message
        that starts with the section's "(suite)" title. The first keeps the title and date,
        the rest are plain text."""
        fresh = self.max_text - (utf16_length(self.continued_heading(heading).text)
                                 + len(SEPARATOR) if heading else 0)
        head_text = piece.text[: len(piece.text) - len(piece.lead)]
        head_html = piece.html[: len(piece.html) - len(_text(piece.lead))]
        plain = utf16_length(head_text) > fresh // 2  # an absurdly long title: plain text
        # Room for the title and the lead's first word at least (80 units, or more for a
        # long word): a word is never broken only because this message was nearly full.
        first_word = utf16_length((piece.text if plain else piece.lead).split(" ", 1)[0])
        wanted = max(80, first_word) + (0 if plain else utf16_length(head_text))
        entities = sum(p.entities for p in self.pieces) + (0 if plain else piece.entities)
        if self.room() < wanted or entities > self.max_entities:
            self.close()
            self.continue_with(heading)
        if plain:
            return [_Piece(_text(c), c, 0) for c in _split_words(piece.text, self.room(), fresh)]
        chunks = _split_words(piece.lead, self.room() - utf16_length(head_text), fresh)
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
