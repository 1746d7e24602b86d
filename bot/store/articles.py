"""The articles."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.errors import NotFound, StoreError
from bot.model import (
    Article,
    Country,
    NewArticle,
)
from bot.store.base import StoreBase
from bot.store.rows import (
    _ARTICLE_COLUMNS,
    ArticleQuery,
    InsertResult,
    _article,
    _article_row,
    _batched,
    _first_of_each,
    _instant,
    _select_articles,
)

if TYPE_CHECKING:
    pass


class ArticleTable(StoreBase):
    """The articles."""

    def insert_articles(self, articles: Iterable[NewArticle], now: dt.datetime,
                        chunk: int = 1_000) -> InsertResult:
        """Insert in one transaction, `chunk` rows at a time as `articles` yields them; an
        article already stored (same hash, url or guid) is left as it is, edits included."""
        imported_at = _instant(now)
        inserted: list[int] = []
        duplicates: list[NewArticle] = []
        seen: set[tuple[str, str]] = set()
        sql = ("INSERT OR IGNORE INTO articles (title, lead, url, guid, source, published, "
               "published_at, date_source, country, countries, needs_review, content_hash, "
               "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        try:
            with self.transaction() as conn:
                for batch in _batched(articles, chunk):
                    fresh = _first_of_each(batch, seen, duplicates)
                    # Rowids grow past the current maximum, and BEGIN IMMEDIATE keeps other
                    # writers out: the rows above it are exactly the ones this batch added.
                    before = conn.execute("SELECT coalesce(max(id), 0) FROM articles"
                                          ).fetchone()[0]
                    conn.executemany(sql, [_article_row(a, imported_at) for a in fresh])
                    added = dict(conn.execute(
                        "SELECT content_hash, id FROM articles WHERE id > ?", (before,)))
                    inserted += [added[a.content_hash] for a in fresh if a.content_hash in added]
                    duplicates += [a for a in fresh if a.content_hash not in added]
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot write the store ({exc})") from None
        return InsertResult(inserted, duplicates)

    def find_stored(self, articles: Iterable[NewArticle]) -> set[str]:
        """The content hashes of `articles` that the store already holds (by hash, url or
        guid), without writing anything: what `--dry-run` needs."""
        found: set[str] = set()
        sql = ("SELECT 1 FROM articles WHERE content_hash = ? OR url = ? OR guid = ? LIMIT 1")
        for a in articles:
            if self.conn.execute(sql, (a.content_hash, a.url, a.guid)).fetchone():
                found.add(a.content_hash)
        return found

    def list_articles(self, query: ArticleQuery) -> list[Article]:
        """Articles matching `query`, newest first (listing order within a day)."""
        sql, params = _select_articles(query)
        return [_article(row) for row in self.conn.execute(sql, params)]

    def explain_list_articles(self, query: ArticleQuery) -> list[str]:
        """SQLite's query plan for `list_articles`, to check that it uses an index."""
        sql, params = _select_articles(query)
        return [str(row[3]) for row in self.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]

    def get_article(self, article_id: int) -> Article:
        sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?"  # noqa: S608
        row = self.conn.execute(sql, (article_id,)).fetchone()
        if row is None:
            raise NotFound(f"article {article_id} does not exist; see `bot articles list`")
        return _article(row)

    def edit_article(self, article_id: int, now: dt.datetime, *, title: str | None = None,
                     country: Country | None = None, published: dt.date | None = None,
                     featured: bool | None = None) -> Article:
        """Apply an editor's corrections and clear `needs_review`."""
        sets = ["needs_review = NULL", "edited_at = ?"]
        params: list[object] = [_instant(now)]
        if title is not None:
            sets.append("title = ?")
            params.append(title)
        if country is not None:
            sets.append("country = ?")
            params.append(country.value)
        if published is not None:
            sets += ["published = ?", "published_at = NULL", "date_source = 'editor'"]
            params.append(published.isoformat())
        if featured is not None:
            sets.append("featured = ?")
            params.append(int(featured))
        with self.transaction() as conn:
            self.get_article(article_id)
            sql = f"UPDATE articles SET {', '.join(sets)} WHERE id = ?"  # noqa: S608
            conn.execute(sql, [*params, article_id])
        return self.get_article(article_id)

    def newest_article_day(self) -> dt.date | None:
        row = self.conn.execute("SELECT max(published) FROM articles").fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    def article_weeks(self) -> list[tuple[str, int]]:
        """(first day of each ISO week that has articles, their count), newest first; the
        caller maps days to weeks (SQLite's %W is not ISO)."""
        rows = self.conn.execute("SELECT published, count(*) FROM articles GROUP BY published "
                                 "ORDER BY published DESC").fetchall()
        return [(str(day), int(count)) for day, count in rows]

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def count_articles_by_country(self, since: dt.date, until: dt.date) -> dict[Country, int]:
        """How many articles each country has, published from `since` to `until` (excluded);
        counted in the country index alone (one range per country), not the table."""
        codes = [c.value for c in Country]
        marks = ", ".join("?" for _ in codes)  # only placeholders: the values are bound
        rows = self.conn.execute(
            f"SELECT country, count(*) FROM articles WHERE country IN ({marks}) "  # noqa: S608
            "AND published >= ? AND published < ? GROUP BY country",
            [*codes, since.isoformat(), until.isoformat()]).fetchall()
        return {Country(str(code)): int(n) for code, n in rows}
