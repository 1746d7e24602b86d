"""A digest laid out for reading: blocks (À la une, then each section) of items whose text
is ready to show (typography, localized dates, safe links), and the table of contents that
lists the sections. Shared by every format."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.digest import Digest, Item
from bot.render.i18n import country_name, format_day, normalize_locale, translate, week_label
from bot.render.typography import NBSP, french_typography

PREHEADER_LENGTH = 140
FEATURED_MARK = "⭐"  # À la une's own sign, beside a featured article in its section


@dataclass(frozen=True, slots=True)
class ShownItem:
    title: str
    lead: str
    day: str
    url: str | None
    featured: bool = False  # listed in its section, and in À la une too


@dataclass(frozen=True, slots=True)
class Block:
    heading: str  # flag and name: "🇰🇿 Kazakhstan"
    count: int
    items: tuple[ShownItem, ...]
    name: str = ""  # a section's name alone, for the table of contents: "Kazakhstan"
    anchor: str = ""  # a section's fragment id in the email, `section-kz`; none for À la une

    @property
    def entry(self) -> str:
        """The section in the table of contents, never broken over two lines:
        `Kazakhstan (14)`."""
        return f"{self.name}{NBSP}({self.count})"


def safe_url(url: str | None) -> str | None:
    """The URL if it is an http(s) address a reader may follow; None for anything else
    (javascript:, data:, a typo…), so that the title is shown without a link."""
    if not url or any(c.isspace() for c in url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in {"http", "https"} and parts.netloc else None


def show(item: Item, locale: str, featured: bool = False) -> ShownItem:
    return ShownItem(french_typography(item.title), french_typography(item.lead),
                     format_day(item.published, locale), safe_url(item.url), featured)


def digest_blocks(digest: Digest, locale: str) -> list[Block]:
    """À la une (when the week has featured articles), then every section; a featured
    article is shown in both, marked as such in its section."""
    blocks = []
    if digest.featured:
        blocks.append(Block(f"{FEATURED_MARK} {featured_label(locale)}", len(digest.featured),
                            tuple(show(i, locale) for i in digest.featured)))
    featured = {i.id for i in digest.featured}
    for section in digest.sections:
        name = country_name(section.country, locale)
        blocks.append(Block(f"{section.country.flag} {name}", len(section.items),
                            tuple(show(i, locale, i.id in featured) for i in section.items),
                            name, f"section-{section.country.value.lower()}"))
    return blocks


def featured_label(locale: str) -> str:
    return translate(locale, "À la une")


def contents(blocks: list[Block]) -> list[Block]:
    """The sections a table of contents lists: all of them, when there are two or more (one
    section alone needs no table)."""
    sections = [b for b in blocks if b.anchor]
    return sections if len(sections) > 1 else []


def contents_label(locale: str) -> str:
    """`Dans ce numéro :`, with its no-break space in French."""
    return _typeset(translate(locale, "Dans ce numéro :"), locale)


def contents_line(blocks: list[Block], locale: str) -> str:
    """The table of contents as one line of text (plain text, Telegram):
    `Dans ce numéro : Asie centrale (2) · Kazakhstan (14) · …`; empty when it has no entry.
    No line starts with a separator: each is tied to the entry before it."""
    entries = contents(blocks)
    if not entries:
        return ""
    return f"{contents_label(locale)} " + f"{NBSP}· ".join(b.entry for b in entries)


def online_label(locale: str) -> str:
    """The words of the link to a week's web version at the end of a Telegram digest."""
    return _typeset(translate(locale, "Tout le résumé en ligne"), locale)


def _typeset(text: str, locale: str) -> str:
    """French typography for French words (an English colon takes no space before it)."""
    return french_typography(text) if normalize_locale(locale) == "fr" else text


def title_line(newsletter_name: str, digest: Digest, locale: str) -> str:
    """The subject: `Nouvelles d'Asie centrale — semaine du 18 au 24 août 2025`."""
    return f"{newsletter_name} — {week_label(digest.week, locale)}"


def preheader(digest: Digest, limit: int = PREHEADER_LENGTH) -> str:
    """The top stories' titles, for the inbox's preview line."""
    text = ""
    for item in digest.items:
        title = french_typography(item.title)
        candidate = f"{text} · {title}" if text else title
        if len(candidate) > limit:
            return text or title[: limit - 1] + "…"
        text = candidate
    return text
