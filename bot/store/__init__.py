"""The SQLite store: schema, migrations and every SQL statement of the project (nothing
outside `bot/store/` speaks SQL)."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from bot.errors import StoreError
from bot.folding import title_key
from bot.store.articles import ArticleTable
from bot.store.digests import DigestTable
from bot.store.ledger import Ledger
from bot.store.readers import SubscriberTable
from bot.store.rows import ArticleQuery, Claim, InsertResult, StoredDigest, title_hash
from bot.store.schedule import Lease, ScheduleTable
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


class Store(ArticleTable, SubscriberTable, DigestTable, Ledger, ScheduleTable):
    """One open SQLite database; use `open_store` to get one."""


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
        _set_wal(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        # For migration 6, which folds the titles already stored.
        conn.create_function("bot_title_key", 1, title_key, deterministic=True)
        conn.create_function("bot_title_hash", 1, title_hash, deterministic=True)
        store = Store(conn, path)
        migrate(store)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{target}: cannot open the store ({exc})") from None
    return store


def _set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode; switching a new file to it needs a moment alone with it, which the busy
    timeout does not wait for: another process opening it at the same time is waited out."""
    for attempt in range(100):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.02)


def migrate(store: Store, *, target: int = SCHEMA_VERSION) -> None:
    """Upgrade the file in place, one migration per transaction, up to `target`. The
    version is read again under the write lock: two processes opening a new store at once
    (two `bot run`) apply each migration once."""
    conn = store.conn
    while True:
        current = store.schema_version
        if current > SCHEMA_VERSION:
            raise StoreError(f"{store.path}: schema version {current} is newer than this "
                             f"bot's ({SCHEMA_VERSION}); upgrade the bot")
        if current >= target:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if store.schema_version == current:  # nobody did it meanwhile
                log.info("migrating %s to schema version %d", store.path or "memory",
                         current + 1)
                for statement in _statements(MIGRATIONS[current]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (`executescript` would commit our transaction)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        found.append(pending.strip())
    return found


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "ArticleQuery", "Claim", "InsertResult", "Lease",
           "Store", "StoredDigest", "migrate", "open_store"]
