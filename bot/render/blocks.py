"""A digest laid out for reading: blocks (À la une, then each section) of items whose text
is ready to show (typography, localized dates, safe links). Shared by every format."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.digest import Digest, Item
from bot.render.i18n import country_name, format_day, translate, week_label
from bot.render.typography import french_typography

PREHEADER_LENGTH = 140


@dataclass(frozen=True, slots=True)
class ShownItem:
    title: str
    lead: str
    day: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Block:
    heading: str  # flag and name: "🇰🇿 Kazakhstan"
    count: int
    items: tuple[ShownItem, ...]


def safe_url(url: str | None) -> str | None:
    """The URL if it is an http(s) address a reader may follow; None for anything else
    (javascript:, data:, a typo…), so that the title is shown without a link."""
    if not url or any(c.isspace() for c in url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in {"http", "https"} and parts.netloc else None


def show(item: Item, locale: str) -> ShownItem:
    return ShownItem(french_typography(item.title), french_typography(item.lead),
                     format_day(item.published, locale), safe_url(item.url))


def digest_blocks(digest: Digest, locale: str) -> list[Block]:
    blocks = []
    if digest.featured:
        blocks.append(Block("⭐ " + translate(locale, "À la une"), len(digest.featured),
                            tuple(show(i, locale) for i in digest.featured)))
    for section in digest.sections:
        heading = f"{section.country.flag} {country_name(section.country, locale)}"
        blocks.append(Block(heading, len(section.items),
                            tuple(show(i, locale) for i in section.items)))
    return blocks


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
