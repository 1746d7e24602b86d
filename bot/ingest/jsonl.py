"""JSON lines: one object per line with `title`, `lead`, `url`, `published`, `country`."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.errors import InputError, RecordError
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source, control_character, decode_text, text_lines
from bot.model import ArticleDraft, Country, parse_country


def parse_jsonl(source: Source, tz: ZoneInfo) -> ParseResult:
    """Drafts from JSON lines; a line that is not a usable object is a bad record."""
    result = ParseResult()
    for number, line in text_lines(source, decode_text(source)):
        location = f"{source.name}:{number}"
        try:
            result.drafts.append(_draft(json.loads(line), location, source, tz))
        except json.JSONDecodeError as exc:
            result.errors.append(RecordError(
                location, f"not valid JSON ({exc.msg} at column {exc.colno})", line))
        except (ValueError, InputError) as exc:
            result.errors.append(RecordError(location, str(exc), line))
    return result


def _draft(obj: object, location: str, source: Source, tz: ZoneInfo) -> ArticleDraft:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    title = _text(obj, "title", required=True)
    lead = _text(obj, "lead")
    url = _text(obj, "url") or None
    if url is not None and (urlsplit(url).scheme not in {"http", "https"} or " " in url):
        raise ValueError(f'"url" must be an http(s) address, got {url!r}')
    published, published_at = _published(obj.get("published"), tz)
    country: Country | None = None
    if obj.get("country") not in (None, ""):
        country = parse_country(str(obj["country"]), field_name='"country"')
    return ArticleDraft(location, title, lead, _text(obj, "source") or source.short_name,
                        url=url, published=published, published_at=published_at,
                        country=country)


def _text(obj: dict[str, object], key: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f'missing "{key}"')
        return ""
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be a string, got {type(value).__name__}')
    text = " ".join(value.split())
    if required and not text:
        raise ValueError(f'"{key}" is blank')
    bad = control_character(value.replace("\n", " ").replace("\r", " "))
    if bad:
        raise ValueError(f'"{key}" holds a {bad}')
    return text


def _published(value: object, tz: ZoneInfo) -> tuple[dt.date | None, dt.datetime | None]:
    """A `published` value: a date, or a date and time (local to `tz` when it has no zone)."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise ValueError(f'"published" must be a string like "2025-08-21", got {value!r}')
    try:
        if len(value.strip()) == 10:
            return dt.date.fromisoformat(value.strip()), None
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'"published" must look like "2025-08-21" or '
                         f'"2025-08-21T09:30:00+02:00", got {value!r}') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz).date(), moment.astimezone(dt.UTC)
