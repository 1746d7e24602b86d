"""The articles."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from bot.errors import NotFound, StoreError
from bot.folding import title_key
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
    _title_key,
    title_hash,
)

if TYPE_CHECKING:
    pass


# The articles without a URL of one title key, through the index of articles without a URL.
UNLINKED_BY_TITLE = ("SELECT id, published, content_hash FROM articles "
                     "WHERE title_hash = ? AND url IS NULL AND title_key = ?")


class ArticleTable(StoreBase):
    """The articles."""

    def insert_articles(self, articles: Iterable[NewArticle], now: dt.datetime,
                        chunk: int = 1_000) -> InsertResult:
        """Insert in one transaction, `chunk` rows at a time as `articles` yields them; an
        article already stored (same hash, url or guid) is left as it is, edits included. An
        article with a URL whose title matches a stored one without a URL (`link_target`)
        gives that one its URL and guid instead of adding a row: `InsertResult.linked`."""
        imported_at = _instant(now)
        inserted: list[int] = []
        duplicates: list[NewArticle] = []
        linked: list[int] = []
        seen: set[tuple[str, str]] = set()
        sql = ("INSERT OR IGNORE INTO articles (title, lead, url, guid, source, published, "
               "published_at, date_source, country, countries, needs_review, content_hash, "
               "imported_at, title_key, title_hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        # A big import updates the indexes at random places (the title index most): with
        # room for them in the page cache (32 MB at most, taken only as used) that stays
        # off the disk, and storing 100,000 articles takes no longer than without it.
        self.conn.execute("PRAGMA cache_size = -32000")
        try:
            with self.transaction() as conn:
                for batch in _batched(articles, chunk):
                    fresh = _first_of_each(batch, seen, duplicates)
                    if any(a.url for a in fresh):  # a listing has none: no lookup at all
                        fresh = self._link(fresh, linked)
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
        return InsertResult(inserted, duplicates, linked)

    def _link(self, fresh: list[NewArticle], linked: list[int]) -> list[NewArticle]:
        """Link the articles of `fresh` that match a stored one (their ids go to `linked`);
        returns the others, still to insert."""
        rest = []
        for a in fresh:
            target = self.link_target(a)
            if target is None:
                rest.append(a)
                continue
            # The stored article keeps its text, date, country and editors' corrections:
            # only its URL (and a guid, if it had none) come from the entry.
            self.conn.execute("UPDATE articles SET url = ?, guid = coalesce(guid, ?) "
                              "WHERE id = ?", (a.url, a.guid, target))
            linked.append(target)
        return rest

    def link_target(self, a: NewArticle, taken: Collection[int] = ()) -> int | None:
        """The stored article without a URL that `a` (with a URL, not stored yet) is: the
        one of the same text, else of the same `title_key`, the one dated nearest `a` (the
        newer at equal distance, the first in listing order on the same day); None when
        there is none or `a` is already stored. Articles in `taken` are left out. One
        lookup in the index of articles without a URL, none for a listing's articles."""
        key = _title_key(a) if a.url else None
        if key is None:
            return None
        rows = self.conn.execute(UNLINKED_BY_TITLE, (title_hash(key), key)).fetchall()
        found = [(int(i), dt.date.fromisoformat(day), h) for i, day, h in rows
                 if i not in taken]
        if not found or self.conn.execute(
                "SELECT 1 FROM articles WHERE url = ? OR guid = ? OR "
                "(content_hash = ? AND url IS NOT NULL) LIMIT 1",
                (a.url, a.guid, a.content_hash)).fetchone():
            return None
        same_text = [i for i, _, h in found if h == a.content_hash]
        if same_text:
            return same_text[0]
        return min(found, key=lambda f: (abs((f[1] - a.published).days),
                                         -f[1].toordinal(), f[0]))[0]

    def find_links(self, articles: Iterable[NewArticle]) -> dict[str, int]:
        """The stored article each of `articles` would link (`link_target`), by content
        hash, without writing anything: what `--dry-run` needs."""
        found: dict[str, int] = {}
        taken: set[int] = set()
        for a in articles:
            target = self.link_target(a, taken)
            if target is not None:
                found[a.content_hash] = target
                taken.add(target)
        return found

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
            # A title made up from the lead has no key: the editor's title becomes it, so
            # that a feed entry of that title links the article. A real one keeps its key:
            # the feed carries the title as imported, not as corrected.
            key = title_key(title) or None
            sets += ["title = ?", "title_key = coalesce(title_key, ?)",
                     "title_hash = coalesce(title_hash, ?)"]
            params += [title, key, title_hash(key)]
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

    def approve_articles(self, article_ids: list[int], now: dt.datetime) -> list[Article]:
        """An editor read these articles and lets them go out as they are: clear
        `needs_review`. Every id must exist (NotFound names the first that does not)."""
        with self.transaction() as conn:
            for article_id in article_ids:
                self.get_article(article_id)
                conn.execute("UPDATE articles SET needs_review = NULL, edited_at = ? "
                             "WHERE id = ?", (_instant(now), article_id))
        return [self.get_article(article_id) for article_id in article_ids]

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
