"""Ingest: parse an input into drafts, then tag each with its country and date.

Nothing here writes: the CLI stores the result in one transaction, or shows it (--dry-run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.errors import InputError, RecordError
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source, read_source
from bot.model import ArticleDraft, Country, NewArticle
from bot.tagging.countries import CountryTag, classify_words
from bot.tagging.dates import DatedText, DateMention, assign_dates, find_dates
from bot.tagging.text import words

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


# From this many drafts, reading them is shared among processes: a big archive import is
# CPU-bound, and starting the workers (~0.2 s) is then worth it.
PARALLEL_FROM = 20_000
_CHUNK = 5_000


def tag_drafts(drafts: Sequence[ArticleDraft], import_day: dt.date) -> list[NewArticle]:
    """Country and date for each draft; dates need the whole listing (neighbours)."""
    texts = [(d.title, d.lead, d.needs_review is None) for d in drafts]
    readings = _read_in_parallel(texts) if len(texts) >= PARALLEL_FROM else read_texts(texts)
    dates = assign_dates([DatedText(d.published, [] if d.published else r.dates)
                          for d, r in zip(drafts, readings, strict=True)], import_day)
    return [NewArticle(
        title=draft.title, lead=draft.lead, source=draft.source, url=draft.url,
        guid=draft.guid, published=day, published_at=draft.published_at,
        date_source=date_source, country=draft.country or reading.tag.country,
        countries=reading.tag.countries, needs_review=draft.needs_review,
        content_hash=reading.content_hash, location=draft.location,
    ) for draft, reading, (day, date_source) in zip(drafts, readings, dates, strict=True)]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one article's text says on its own: country, dates written, identity."""

    tag: CountryTag
    dates: list[DateMention]
    content_hash: str


def read_texts(texts: Sequence[tuple[str, str, bool]]) -> list[Reading]:
    """Read (title, lead, title is real) triples; pure, so it can run in a worker."""
    readings = []
    for title, lead, real_title in texts:
        lead_words = words(lead)  # once, for the date and the country
        # A title made up from the lead would count the lead's first clause twice.
        tag = classify_words(words(title) if real_title else [], lead_words)
        readings.append(Reading(tag, find_dates(lead, lead_words), content_hash(title, lead)))
    return readings


# Set just before the worker processes fork, so they inherit the texts instead of being sent
# them through a pipe; they send back plain tuples, which pickle fast.
_FORKED_TEXTS: Sequence[tuple[str, str, bool]] = ()
_CODES = {c.value: c for c in Country}
Packed = tuple[str, str, tuple[tuple[int, int, int, int | None], ...], str]


def _read_range(bounds: tuple[int, int]) -> list[Packed]:
    return [(r.tag.country.value, " ".join(c.value for c in r.tag.countries),
             tuple((d.position, d.day, d.month, d.year) for d in r.dates), r.content_hash)
            for r in read_texts(_FORKED_TEXTS[bounds[0] : bounds[1]])]


def _unpack(packed: Packed) -> Reading:
    country, countries, dates, digest = packed
    tag = CountryTag(_CODES[country], tuple(_CODES[c] for c in countries.split()))
    return Reading(tag, [DateMention(*d) for d in dates], digest)


def _read_in_parallel(texts: Sequence[tuple[str, str, bool]]) -> list[Reading]:
    global _FORKED_TEXTS
    workers = min(os.cpu_count() or 1, 8)
    if workers == 1:
        return read_texts(texts)
    bounds = [(i, min(i + _CHUNK, len(texts))) for i in range(0, len(texts), _CHUNK)]
    # "fork" shares the texts for free; only big one-off imports (the CLI) come here, never
    # the threaded `bot run` with its small feed polls.
    context = multiprocessing.get_context("fork")
    _FORKED_TEXTS = texts
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return [_unpack(p) for part in pool.map(_read_range, bounds) for p in part]
    finally:
        _FORKED_TEXTS = ()


def content_hash(title: str, lead: str) -> str:
    """Identity of an article's text, blind to case, spacing and apostrophe style."""
    def norm(text: str) -> str:
        return " ".join(text.casefold().replace("’", "'").split())

    return hashlib.blake2b(f"{norm(title)}\x1f{norm(lead)}".encode(),
                           digest_size=16).hexdigest()
