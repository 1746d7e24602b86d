"""Frozen digests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.store.base import StoreBase
from bot.store.rows import (
    StoredDigest,
    _instant,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class DigestStamp:
    """A stored digest without its snapshot: which week, how it stands, and which version
    (a frozen digest is refreshed until it is sent; `frozen_at` tells the versions apart)."""

    week: str
    status: str
    frozen_at: dt.datetime


class DigestTable(StoreBase):
    """Frozen digests."""

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

    def latest_digest_week(self) -> str | None:
        row = self.conn.execute("SELECT week FROM digests ORDER BY week DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def latest_digest_stamp(self, statuses: Collection[str] = ()) -> DigestStamp | None:
        """The newest digest whose status is one of `statuses` (any when empty), without its
        snapshot: the rows are searched on the columns stored before it, and only the chosen
        row's `frozen_at` (stored after it) is read past it."""
        marks = ", ".join("?" for _ in statuses)  # only placeholders: the values are bound
        where = f"WHERE status IN ({marks}) " if statuses else ""
        row = self.conn.execute(f"SELECT week, status FROM digests {where}"  # noqa: S608
                                "ORDER BY week DESC LIMIT 1", list(statuses)).fetchone()
        if row is None:
            return None
        frozen = self.conn.execute("SELECT frozen_at FROM digests WHERE week = ?",
                                   (row[0],)).fetchone()
        return DigestStamp(str(row[0]), str(row[1]), dt.datetime.fromisoformat(str(frozen[0])))
