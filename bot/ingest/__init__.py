"""Ingest: parse an input into drafts, then tag each with its country and date.

Nothing here writes: the CLI stores the result in one transaction, or shows it (--dry-run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.errors import InputError, RecordError
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source, read_source
from bot.model import ArticleDraft, NewArticle
from bot.tagging.countries import classify
from bot.tagging.dates import DatedText, assign_dates

FORMATS = ("listing", "feed", "jsonl")


@dataclass(frozen=True, slots=True)
class Batch:
    """A parsed and tagged input: the articles to store and the records rejected."""

    source: Source
    format: str
    articles: list[NewArticle]
    errors: list[RecordError]


def guess_format(data: bytes) -> str:
    """`feed` for XML, `jsonl` for JSON objects, else the newsroom's `listing`."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "feed"
    if head == b"{":
        return "jsonl"
    return "listing"


def parse(source: Source, fmt: str, tz: ZoneInfo) -> ParseResult:
    if fmt == "listing":
        from bot.ingest.listing import parse_listing

        return parse_listing(source)
    if fmt == "jsonl":
        from bot.ingest.jsonl import parse_jsonl

        return parse_jsonl(source, tz)
    if fmt == "feed":
        from bot.ingest.feed import parse_feed  # feedparser is slow to import: only when used

        return parse_feed(source, tz)
    raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def load(location: str, fmt: str | None, tz: ZoneInfo, import_day: dt.date) -> Batch:
    """Read, parse and tag one input; raises on an unusable input, collects bad records."""
    source = read_source(location)
    chosen = fmt or guess_format(source.data)
    result = parse(source, chosen, tz)
    if not result.drafts and not result.errors:
        raise InputError(f"{source.name}: no articles found in it (read as {chosen})")
    return Batch(source, chosen, tag_drafts(result.drafts, import_day), result.errors)


def tag_drafts(drafts: Sequence[ArticleDraft], import_day: dt.date) -> list[NewArticle]:
    """Country and date for each draft; dates need the whole listing (neighbours)."""
    dates = assign_dates([DatedText(d.published, d.lead) for d in drafts], import_day)
    tagged = []
    for draft, (day, date_source) in zip(drafts, dates, strict=True):
        # A title made up from the lead would count the lead's first clause twice.
        tag = classify("" if draft.needs_review else draft.title, draft.lead)
        tagged.append(NewArticle(
            title=draft.title, lead=draft.lead, source=draft.source, url=draft.url,
            guid=draft.guid, published=day, published_at=draft.published_at,
            date_source=date_source, country=draft.country or tag.country,
            countries=tag.countries, needs_review=draft.needs_review,
            content_hash=content_hash(draft.title, draft.lead), location=draft.location,
        ))
    return tagged


def content_hash(title: str, lead: str) -> str:
    """Identity of an article's text, blind to case, spacing and apostrophe style."""
    def norm(text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
        return " ".join(text.split())

    return hashlib.sha256(f"{norm(title)}\n{norm(lead)}".encode()).hexdigest()
