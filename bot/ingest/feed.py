"""RSS 2.0 and Atom feeds, through feedparser."""

from __future__ import annotations

import calendar
import datetime as dt
import time
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import feedparser

from bot.errors import InputError, RecordError
from bot.ingest.html_text import html_to_text
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source, check_not_empty_or_binary
from bot.model import ArticleDraft


def parse_feed(source: Source, tz: ZoneInfo) -> ParseResult:
    """Drafts from a feed's entries: identity by guid, else link; dates from the entry."""
    check_not_empty_or_binary(source)
    parsed = feedparser.parse(source.data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        raise InputError(f"{source.name}: not an RSS or Atom feed ({_why(parsed)})")
    result = ParseResult()
    for number, entry in enumerate(parsed.entries, 1):
        location = f"{source.name}: entry {number}"
        title = _plain(entry, "title")
        if not title:
            result.errors.append(RecordError(location, "entry has no title",
                                             str(entry.get("link", ""))))
            continue
        lead = _plain(entry, "summary") or _content(entry)
        published_at = _moment(entry)
        result.drafts.append(ArticleDraft(
            location, title, lead, source.short_name,
            url=str(entry.get("link") or "").strip() or None,
            guid=str(entry.get("id") or "").strip() or None,
            published=published_at.astimezone(tz).date() if published_at else None,
            published_at=published_at,
        ))
    return result


def _why(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "no feed element"
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = getattr(exc, "getMessage", lambda: str(exc))()
    return f"line {line}: {message}" if line else str(message)


def _plain(entry: Any, key: str) -> str:
    value = str(entry.get(key) or "")
    detail = entry.get(f"{key}_detail") or {}
    if "html" in str(detail.get("type", "text/html")):
        return html_to_text(value)
    return html_to_text(escape(value))


def _content(entry: Any) -> str:
    for block in entry.get("content") or []:
        text = html_to_text(str(block.get("value") or ""))
        if text:
            return text
    return ""


def _moment(entry: Any) -> dt.datetime | None:
    stamp: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC)
