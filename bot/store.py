"""The SQLite store: schema, migrations and every SQL statement of the project."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from bot.errors import NotFound, StoreError
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
    from bot.subscribers import NewSubscriber

log = logging.getLogger(__name__)

# Each entry upgrades the file from user_version N to N + 1. Append only: never edit one
# that has shipped, since files in the field already ran it.
MIGRATIONS: tuple[str, ...] = (
    # 1: the article store
    """
    CREATE TABLE articles (
        id            INTEGER PRIMARY KEY,
        title         TEXT NOT NULL,
        lead          TEXT NOT NULL,
        url           TEXT,
        guid          TEXT,
        source        TEXT NOT NULL,
        published     TEXT NOT NULL,              -- local date, YYYY-MM-DD
        published_at  TEXT,                       -- UTC instant when the source gave one
        date_source   TEXT NOT NULL
            CHECK (date_source IN ('explicit', 'editor', 'text', 'neighbour', 'import')),
        country       TEXT NOT NULL
            CHECK (country IN ('KZ', 'KG', 'UZ', 'TJ', 'TM', 'REGION', 'OTHER')),
        countries     TEXT NOT NULL DEFAULT '',   -- space-separated codes, strongest first
        featured      INTEGER NOT NULL DEFAULT 0 CHECK (featured IN (0, 1)),
        needs_review  TEXT,                       -- the reason, NULL when fine
        content_hash  TEXT NOT NULL UNIQUE,
        imported_at   TEXT NOT NULL,
        edited_at     TEXT
    );
    -- Partial: a listing's articles have neither, and skip these indexes altogether.
    CREATE UNIQUE INDEX articles_url ON articles (url) WHERE url IS NOT NULL;
    CREATE UNIQUE INDEX articles_guid ON articles (guid) WHERE guid IS NOT NULL;
    CREATE INDEX articles_by_date ON articles (published, id);
    CREATE INDEX articles_by_country ON articles (country, published, id);
    CREATE INDEX articles_needing_review ON articles (published) WHERE needs_review IS NOT NULL;
    """,
    # 2: readers, frozen digests and the delivery ledger
    """
    CREATE TABLE subscribers (
        id               INTEGER PRIMARY KEY,
        channel          TEXT NOT NULL CHECK (channel IN ('email', 'telegram')),
        address          TEXT NOT NULL,           -- email address or Telegram chat id
        locale           TEXT NOT NULL DEFAULT 'fr',
        countries        TEXT NOT NULL DEFAULT '',-- space-separated codes; empty = all
        status           TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'blocked')),
        consent_source   TEXT,
        created_at       TEXT NOT NULL,
        confirmed_at     TEXT,
        unsubscribed_at  TEXT,
        updated_at       TEXT NOT NULL,
        UNIQUE (channel, address)
    );
    CREATE INDEX subscribers_by_status ON subscribers (channel, status);
    CREATE TABLE digests (
        id              INTEGER PRIMARY KEY,
        week            TEXT NOT NULL UNIQUE,     -- ISO week, 2025-W34
        status          TEXT NOT NULL DEFAULT 'frozen'
            CHECK (status IN ('frozen', 'sending', 'sent')),
        schema_version  INTEGER NOT NULL,
        snapshot        TEXT NOT NULL,            -- the frozen digest as JSON
        frozen_at       TEXT NOT NULL,
        sent_at         TEXT
    );
    CREATE TABLE deliveries (
        id               INTEGER PRIMARY KEY,
        digest_id        INTEGER NOT NULL REFERENCES digests (id),
        subscriber_id    INTEGER NOT NULL REFERENCES subscribers (id),
        status           TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        lease_until      TEXT,
        last_error       TEXT,
        message_id       TEXT,
        parts_sent       INTEGER NOT NULL DEFAULT 0,
        updated_at       TEXT NOT NULL,
        UNIQUE (digest_id, subscriber_id)
    );
    CREATE INDEX deliveries_to_claim ON deliveries (digest_id, status, next_attempt_at);
    """,
    # 3: who holds a delivery being sent (host and pid), so that a crashed sender's rows are
    # taken over at once on the same machine instead of when the lease runs out
    """
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
    CREATE INDEX deliveries_by_channel ON deliveries (digest_id, channel, status);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_ARTICLE_COLUMNS = (
    "id, title, lead, url, guid, source, published, published_at, date_source, country, "
    "countries, featured, needs_review, content_hash, imported_at, edited_at"
)


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What an import wrote: new rows, and the drafts that were already stored."""

    inserted: list[int]
    duplicates: list[NewArticle]


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


class Store:
    """One open SQLite database; use `open_store` to get one."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- articles -------------------------------------------------------------------------

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

    # -- subscribers ----------------------------------------------------------------------

    def add_subscribers(self, new: Sequence[NewSubscriber], status: Status, consent: str,
                        now: dt.datetime) -> tuple[list[Subscriber], list[Subscriber]]:
        """Add in one transaction; returns (added, already there). An address already
        known is left as it is: never re-activated here (only its owner, by confirming)."""
        added: list[int] = []
        known: list[int] = []
        stamp = _instant(now)
        with self.transaction() as conn:
            for n in new:
                row = conn.execute("SELECT id FROM subscribers WHERE channel = ? AND address = ?",
                                   (n.channel, n.address)).fetchone()
                if row is not None:
                    known.append(int(row[0]))
                    continue
                cur = conn.execute(
                    "INSERT INTO subscribers (channel, address, locale, countries, status, "
                    "consent_source, created_at, confirmed_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (n.channel, n.address, n.locale, _codes(n.countries), status, consent,
                     stamp, stamp if status is Status.ACTIVE else None, stamp))
                added.append(int(cur.lastrowid or 0))
        return [self.get_subscriber(i) for i in added], [self.get_subscriber(i) for i in known]

    def get_subscriber(self, subscriber_id: int) -> Subscriber:
        row = self.conn.execute(f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers "  # noqa: S608
                                "WHERE id = ?", (subscriber_id,)).fetchone()
        if row is None:
            raise NotFound(f"subscriber {subscriber_id} does not exist")
        return _subscriber(row)

    def find_subscriber(self, channel: Channel, address: str) -> Subscriber | None:
        row = self.conn.execute(f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers "  # noqa: S608
                                "WHERE channel = ? AND address = ?",
                                (channel, address)).fetchone()
        return _subscriber(row) if row else None

    def list_subscribers(self, channel: Channel | None = None,
                         status: Status | None = None) -> Iterator[Subscriber]:
        """Subscribers in id order, streamed (a send to many must not load them all)."""
        sql = f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers WHERE 1 = 1"  # noqa: S608
        params: list[object] = []
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        for row in self.conn.execute(sql + " ORDER BY id", params):
            yield _subscriber(row)

    def set_subscriber_status(self, subscriber_id: int, status: Status,
                              now: dt.datetime) -> Subscriber:
        """Change a subscriber's status (and its consent times) at once."""
        stamp = _instant(now)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE subscribers SET status = ?, updated_at = ?, "
                "confirmed_at = CASE WHEN ? = 'active' THEN ? ELSE confirmed_at END, "
                "unsubscribed_at = CASE WHEN ? = 'unsubscribed' THEN ? ELSE unsubscribed_at END "
                "WHERE id = ?", (status, stamp, status, stamp, status, stamp, subscriber_id))
        return self.get_subscriber(subscriber_id)

    def set_subscriber_countries(self, subscriber_id: int, countries: frozenset[Country],
                                 now: dt.datetime) -> Subscriber:
        with self.transaction() as conn:
            conn.execute("UPDATE subscribers SET countries = ?, updated_at = ? WHERE id = ?",
                         (_codes(countries), _instant(now), subscriber_id))
        return self.get_subscriber(subscriber_id)

    def count_subscribers(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute("SELECT channel, status, count(*) FROM subscribers "
                                 "GROUP BY channel, status").fetchall()
        return {(str(c), str(s)): int(n) for c, s, n in rows}

    def request_subscription(self, new: NewSubscriber, consent: str, now: dt.datetime,
                             resend_after: dt.timedelta) -> tuple[Subscriber, bool]:
        """A reader asks to subscribe (double opt-in), in one transaction. A new address is
        added as pending; an unsubscribed or bounced one goes back to pending with the
        sections now asked for; a pending one too, unless it asked less than `resend_after`
        ago; an active or blocked one is left as it is. Returns the subscriber and whether
        a confirmation message is due."""
        stamp = _instant(now)
        with self.transaction() as conn:
            row = conn.execute("SELECT id, status, updated_at FROM subscribers "
                               "WHERE channel = ? AND address = ?",
                               (new.channel, new.address)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO subscribers (channel, address, locale, countries, status, "
                    "consent_source, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (new.channel, new.address, new.locale, _codes(new.countries), consent,
                     stamp, stamp))
                return self.get_subscriber(int(cur.lastrowid or 0)), True
            subscriber_id, status = int(row[0]), Status(str(row[1]))
            asked = dt.datetime.fromisoformat(str(row[2]))
            due = (status in (Status.UNSUBSCRIBED, Status.BOUNCED)
                   or (status is Status.PENDING and now - asked >= resend_after))
            if due:
                conn.execute("UPDATE subscribers SET status = 'pending', countries = ?, "
                             "consent_source = ?, updated_at = ? WHERE id = ?",
                             (_codes(new.countries), consent, stamp, subscriber_id))
            return self.get_subscriber(subscriber_id), due

    def confirm_subscriber(self, subscriber_id: int, now: dt.datetime) -> Subscriber:
        """Activate a pending subscriber (its owner followed the confirm link); any other
        status is left as it is, so an old link never re-activates an unsubscribed reader."""
        stamp = _instant(now)
        with self.transaction() as conn:
            conn.execute("UPDATE subscribers SET status = 'active', confirmed_at = ?, "
                         "updated_at = ? WHERE id = ? AND status = 'pending'",
                         (stamp, stamp, subscriber_id))
        return self.get_subscriber(subscriber_id)

    # -- digests ------------------------------------------------------------------------

    def get_digest(self, week: str) -> StoredDigest | None:
        row = self.conn.execute(
            "SELECT week, status, schema_version, snapshot, frozen_at, sent_at FROM digests "
            "WHERE week = ?", (week,)).fetchone()
        if row is None:
            return None
        return StoredDigest(str(row[0]), str(row[1]), int(row[2]), str(row[3]),
                            dt.datetime.fromisoformat(str(row[4])),
                            dt.datetime.fromisoformat(str(row[5])) if row[5] else None)

    def save_digest(self, week: str, snapshot: str, schema_version: int,
                    now: dt.datetime) -> StoredDigest:
        """Store (or refresh) a week's snapshot; one already being sent or sent is kept as
        it is, and returned."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO digests (week, status, schema_version, snapshot, frozen_at) "
                "VALUES (?, 'frozen', ?, ?, ?) ON CONFLICT (week) DO UPDATE SET "
                "schema_version = excluded.schema_version, snapshot = excluded.snapshot, "
                "frozen_at = excluded.frozen_at WHERE digests.status = 'frozen'",
                (week, schema_version, snapshot, _instant(now)))
        stored = self.get_digest(week)
        assert stored is not None
        return stored

    def mark_digest(self, week: str, status: str, now: dt.datetime) -> None:
        """Move a frozen digest on to `sending` or `sent` (never back)."""
        with self.transaction() as conn:
            conn.execute("UPDATE digests SET status = ?, sent_at = CASE WHEN ? = 'sent' THEN ? "
                         "ELSE sent_at END WHERE week = ?",
                         (status, status, _instant(now), week))

    # -- the delivery ledger ------------------------------------------------------------

    def digest_id(self, week: str) -> int:
        row = self.conn.execute("SELECT id FROM digests WHERE week = ?", (week,)).fetchone()
        if row is None:
            raise NotFound(f"no frozen digest for {week}; run bot preview --week {week}")
        return int(row[0])

    def fix_recipients(self, digest_id: int, channel: Channel, now: dt.datetime) -> int:
        """Fix, in one transaction, who gets this digest on `channel`: every active subscriber
        now. Done once: a later call adds nobody (who subscribes during a send gets next
        week's). Returns the number of recipients."""
        stamp = _instant(now)
        with self.transaction() as conn:
            done = conn.execute("SELECT count(*) FROM deliveries WHERE digest_id = ? AND "
                                "channel = ?", (digest_id, channel)).fetchone()[0]
            if not done:
                conn.execute(
                    "INSERT INTO deliveries (digest_id, subscriber_id, channel, status, "
                    "next_attempt_at, updated_at) SELECT ?, id, channel, 'pending', ?, ? "
                    "FROM subscribers WHERE channel = ? AND status = 'active' ORDER BY id",
                    (digest_id, stamp, stamp, channel))
            return int(conn.execute("SELECT count(*) FROM deliveries WHERE digest_id = ? AND "
                                    "channel = ?", (digest_id, channel)).fetchone()[0])

    def claim_deliveries(self, digest_id: int, channel: Channel, now: dt.datetime,
                         lease: dt.timedelta, holder: str, limit: int,
                         dead_holders: Iterable[str] = ()) -> list[Claim]:
        """Atomically take up to `limit` deliveries due now: pending ones whose time has
        come, and ones being sent whose lease ran out or whose holder is known dead."""
        stamp, until = _instant(now), _instant(now + lease)
        dead = list(dead_holders)
        marks = ", ".join("?" for _ in dead) or "NULL"
        # Two index walks (due pending rows in id order; rows whose holder is gone), not one
        # OR over the whole ledger: a claim stays cheap however many deliveries there are.
        # `marks` is only "?" placeholders: the values are bound.
        sql = (
            "UPDATE deliveries SET status = 'sending', lease_until = ?, claimed_by = ?, "  # noqa: S608
            "attempts = attempts + 1, updated_at = ? WHERE id IN (SELECT id FROM ("
            "SELECT id FROM deliveries WHERE digest_id = ? AND channel = ? AND "
            "status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?) UNION "
            "SELECT id FROM (SELECT id FROM deliveries WHERE digest_id = ? AND channel = ? AND "
            f"status = 'sending' AND (lease_until < ? OR claimed_by IN ({marks})) LIMIT ?) "
            "ORDER BY id LIMIT ?) RETURNING id, subscriber_id, attempts, parts_sent")
        with self.transaction() as conn:
            rows = conn.execute(sql, (until, holder, stamp, digest_id, channel, stamp, limit,
                                      digest_id, channel, stamp, *dead, limit, limit)
                                ).fetchall()
        rows.sort(key=lambda r: int(r[0]))
        return [Claim(int(r[0]), int(r[1]), int(r[2]), int(r[3]), until) for r in rows]

    def holders_sending(self, digest_id: int, channel: Channel) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT claimed_by FROM deliveries WHERE digest_id = ? "
                                 "AND channel = ? AND status = 'sending'",
                                 (digest_id, channel)).fetchall()
        return [str(r[0]) for r in rows if r[0]]

    def finish_delivery(self, claim: Claim, status: str, now: dt.datetime, *,
                        message_id: str | None = None, error: str | None = None,
                        retry_at: dt.datetime | None = None, parts_sent: int | None = None,
                        subscriber_status: Status | None = None) -> bool:
        """Record the outcome of a claimed delivery, if this claim still holds it (a claim
        whose lease ran out and was taken over records nothing). Returns whether it did."""
        stamp = _instant(now)
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET status = ?, updated_at = ?, lease_until = NULL, "
                "claimed_by = NULL, message_id = coalesce(?, message_id), last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at), "
                "parts_sent = coalesce(?, parts_sent) "
                "WHERE id = ? AND status = 'sending' AND lease_until = ?",
                (status, stamp, message_id, error, _instant(retry_at) if retry_at else None,
                 parts_sent, claim.id, claim.lease_until))
            if cur.rowcount and subscriber_status is not None:
                conn.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                             (subscriber_status, stamp, claim.subscriber_id))
        return bool(cur.rowcount)

    def release_deliveries(self, holder: str, now: dt.datetime) -> int:
        """Give back every delivery `holder` still holds (a clean stop): pending again."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET status = 'pending', lease_until = NULL, claimed_by = NULL,"
                " attempts = max(attempts - 1, 0), updated_at = ? WHERE status = 'sending' AND "
                "claimed_by = ?", (_instant(now), holder))
        return cur.rowcount

    def delivery_counts(self, digest_id: int, channel: Channel | None = None) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM deliveries WHERE digest_id = ?"
        params: list[object] = [digest_id]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        rows = self.conn.execute(sql + " GROUP BY status", params).fetchall()
        return {str(status): int(n) for status, n in rows}

    def last_error(self, digest_id: int, channel: Channel) -> str | None:
        row = self.conn.execute("SELECT last_error FROM deliveries WHERE digest_id = ? AND "
                                "channel = ? AND status = 'pending' AND last_error IS NOT NULL "
                                "ORDER BY updated_at DESC LIMIT 1",
                                (digest_id, channel)).fetchone()
        return str(row[0]) if row else None

    def next_attempt(self, digest_id: int, channel: Channel) -> dt.datetime | None:
        row = self.conn.execute("SELECT min(next_attempt_at) FROM deliveries WHERE digest_id = ? "
                                "AND channel = ? AND status = 'pending'",
                                (digest_id, channel)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row and row[0] else None

    def latest_digest_week(self) -> str | None:
        row = self.conn.execute("SELECT week FROM digests ORDER BY week DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def open_store(path: Path | str, *, create_folder: bool = False) -> Store:
    """Open (creating if needed) and migrate the database at `path`; ":memory:" works too.

    The folder must exist unless `create_folder` (the embedded default `var/`): a typo in a
    configured path should fail, not start an empty store somewhere else.
    """
    if str(path) == ":memory:":
        return _connect(":memory:", None)
    path = Path(path)
    folder = path.parent
    if create_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create folder {folder} ({exc.strerror})") from None
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise StoreError(f"{path}: folder {folder} {what}; create it or set BOT_DATABASE")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: folder {folder} cannot be written; set BOT_DATABASE")
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file; set BOT_DATABASE")
    return _connect(str(path), path)


def _connect(target: str, path: Path | None) -> Store:
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        store = Store(conn, path)
        migrate(store)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{target}: cannot open the store ({exc})") from None
    return store


def migrate(store: Store, *, target: int = SCHEMA_VERSION) -> None:
    """Upgrade the file in place, one migration per transaction, up to `target`."""
    current = store.schema_version
    if current > SCHEMA_VERSION:
        raise StoreError(f"{store.path}: schema version {current} is newer than this bot's "
                         f"({SCHEMA_VERSION}); upgrade the bot")
    for version in range(current, target):
        log.info("migrating %s to schema version %d", store.path or "memory", version + 1)
        store.conn.executescript(
            f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};\n"
            "COMMIT;"
        )


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
            a.country, " ".join(a.countries), a.needs_review, a.content_hash, imported_at)


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
