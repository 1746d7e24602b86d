"""Rows to values and back, and the SQL the tables share."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.folding import title_key
from bot.model import (
    Article,
    Channel,
    Country,
    DateSource,
    NewArticle,
    Status,
    Subscriber,
)

if TYPE_CHECKING:
    pass


_ARTICLE_COLUMNS = (
    "id, title, lead, url, guid, source, published, published_at, date_source, country, "
    "countries, featured, needs_review, content_hash, imported_at, edited_at"
)


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What an import wrote: new rows, the drafts that were already stored, and the stored
    articles without a URL that an entry of the same title linked (its URL and guid filled
    in, instead of a new row)."""

    inserted: list[int]
    duplicates: list[NewArticle]
    linked: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this process took: sent by it until `lease_until`."""

    id: int
    subscriber_id: int
    attempts: int  # including this one
    parts_sent: int
    lease_until: str


@dataclass(frozen=True, slots=True)
class StoredDigest:
    """A week's frozen digest as the store keeps it."""

    week: str
    status: str  # frozen | sending | sent
    schema_version: int
    snapshot: str
    frozen_at: dt.datetime
    sent_at: dt.datetime | None

    @property
    def is_final(self) -> bool:
        """Sending or sent: it never changes again."""
        return self.status != "frozen"


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """A filter for `Store.list_articles`; dates are local, `until` excluded."""

    since: dt.date | None = None
    until: dt.date | None = None
    country: Country | None = None
    needs_review: bool = False
    limit: int | None = None


def _first_of_each(batch: Sequence[NewArticle], seen: set[tuple[str, str]],
                   repeated: list[NewArticle]) -> list[NewArticle]:
    """The articles of `batch` not repeating one seen before in this import (same hash, url
    or guid); the repeats go to `repeated`."""
    fresh = []
    for a in batch:
        keys = {("hash", a.content_hash)}
        if a.url:
            keys.add(("url", a.url))
        if a.guid:
            keys.add(("guid", a.guid))
        if keys & seen:
            repeated.append(a)
        else:
            fresh.append(a)
        seen |= keys
    return fresh


def _batched(items: Iterable[NewArticle], size: int) -> Iterator[list[NewArticle]]:
    batch: list[NewArticle] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _article_row(a: NewArticle, imported_at: str) -> tuple[object, ...]:
    # The enums are str subclasses: sqlite3 binds them as their text (`.value` is slow).
    return (a.title, a.lead, a.url, a.guid, a.source, a.published.isoformat(),
            _instant(a.published_at) if a.published_at else None, a.date_source,
            a.country, " ".join(a.countries), a.needs_review, a.content_hash, imported_at,
            *_title_columns(a))


def _title_key(a: NewArticle) -> str | None:
    """The folded title stored for `a`: tagging's, else worked out here; None for none."""
    return (title_key(a.title) if a.title_key is None else a.title_key) or None


def _title_columns(a: NewArticle) -> tuple[str | None, int | None]:
    key = _title_key(a)
    return key, title_hash(key)


def title_hash(key: str | None) -> int | None:
    """The indexed stand-in for a title key: its CRC-32 (a lookup compares the keys too)."""
    return zlib.crc32(key.encode()) if key else None


_SUBSCRIBER_COLUMNS = ("id, channel, address, locale, countries, status, consent_source, "
                       "created_at, confirmed_at, unsubscribed_at")


def _codes(countries: frozenset[Country]) -> str:
    return " ".join(sorted(c.value for c in countries))


def _subscriber(row: Sequence[object]) -> Subscriber:
    (id_, channel, address, locale, countries, status, consent, created, confirmed,
     unsubscribed) = row
    return Subscriber(
        id=int(str(id_)), channel=Channel(str(channel)), address=str(address),
        locale=str(locale), countries=frozenset(Country(c) for c in str(countries).split()),
        status=Status(str(status)), consent_source=str(consent) if consent else None,
        created_at=dt.datetime.fromisoformat(str(created)),
        confirmed_at=dt.datetime.fromisoformat(str(confirmed)) if confirmed else None,
        unsubscribed_at=dt.datetime.fromisoformat(str(unsubscribed)) if unsubscribed else None)


def _select_articles(query: ArticleQuery) -> tuple[str, list[object]]:
    where: list[str] = []
    params: list[object] = []
    if query.since is not None:
        where.append("published >= ?")
        params.append(query.since.isoformat())
    if query.until is not None:
        where.append("published < ?")
        params.append(query.until.isoformat())
    if query.country is not None:
        where.append("country = ?")
        params.append(query.country.value)
    if query.needs_review:
        where.append("needs_review IS NOT NULL")
    sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles"  # noqa: S608 - fixed column list
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY published DESC, id ASC"
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(query.limit)
    return sql, params


def _instant(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    # Milliseconds, always: instants are compared as text, and retries come sub-second apart.
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def _article(row: Sequence[object]) -> Article:
    (id_, title, lead, url, guid, source, published, published_at, date_source, country,
     countries, featured, needs_review, content_hash, imported_at, edited_at) = row
    return Article(
        id=int(str(id_)),
        title=str(title),
        lead=str(lead),
        url=str(url) if url is not None else None,
        guid=str(guid) if guid is not None else None,
        source=str(source),
        published=dt.date.fromisoformat(str(published)),
        published_at=dt.datetime.fromisoformat(str(published_at)) if published_at else None,
        date_source=DateSource(str(date_source)),
        country=Country(str(country)),
        countries=tuple(Country(c) for c in str(countries).split()),
        featured=bool(featured),
        needs_review=str(needs_review) if needs_review is not None else None,
        content_hash=str(content_hash),
        imported_at=dt.datetime.fromisoformat(str(imported_at)),
        edited_at=dt.datetime.fromisoformat(str(edited_at)) if edited_at else None,
    )

