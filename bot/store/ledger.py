"""The delivery ledger: one row per (digest, reader), claimed atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.errors import NotFound
from bot.model import (
    Channel,
    Status,
)
from bot.store.base import StoreBase
from bot.store.rows import (
    Claim,
    _instant,
)

if TYPE_CHECKING:
    pass


class Ledger(StoreBase):
    """The delivery ledger: one row per (digest, reader), claimed atomically."""

    def digest_id(self, week: str) -> int:
        row = self.conn.execute("SELECT id FROM digests WHERE week = ?", (week,)).fetchone()
        if row is None:
            raise NotFound(f"{week} was never sent (bot send --week {week} freezes and sends it)")
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
        # Two index walks (due pending rows, earliest first; rows whose holder is gone), not one
        # OR over the whole ledger: a claim stays cheap however many deliveries there are.
        # `marks` is only "?" placeholders: the values are bound.
        sql = (
            "UPDATE deliveries SET status = 'sending', lease_until = ?, claimed_by = ?, "  # noqa: S608
            "attempts = attempts + 1, updated_at = ? WHERE id IN (SELECT id FROM ("
            "SELECT id FROM deliveries WHERE digest_id = ? AND channel = ? AND "
            "status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?) "
            "UNION "
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
        sql = ("UPDATE deliveries SET status = ?, updated_at = ?, lease_until = NULL, "
               "claimed_by = NULL, message_id = coalesce(?, message_id), last_error = ?, "
               "next_attempt_at = coalesce(?, next_attempt_at), "
               "parts_sent = coalesce(?, parts_sent) "
               "WHERE id = ? AND status = 'sending' AND lease_until = ?")
        values = (status, stamp, message_id, error, _instant(retry_at) if retry_at else None,
                  parts_sent, claim.id, claim.lease_until)
        if subscriber_status is None:  # one statement: its own transaction
            return bool(self.conn.execute(sql, values).rowcount)
        with self.transaction() as conn:
            cur = conn.execute(sql, values)
            if cur.rowcount:
                conn.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                             (subscriber_status, stamp, claim.subscriber_id))
        return bool(cur.rowcount)

    def put_first(self, digest_id: int, channel: Channel, address: str,
                  now: dt.datetime) -> None:
        """Make one recipient's pending delivery the first to be claimed (a Telegram channel:
        the public post goes out first, and its slow pace overlaps the rest)."""
        self.conn.execute(
            "UPDATE deliveries SET next_attempt_at = ? WHERE digest_id = ? AND channel = ? AND "
            "status = 'pending' AND attempts = 0 AND subscriber_id = (SELECT id FROM "
            "subscribers WHERE channel = ? AND address = ?)",
            (_instant(now - dt.timedelta(days=1)), digest_id, channel, channel, address))

    def record_parts(self, claim: Claim, parts_sent: int, now: dt.datetime) -> bool:
        """Note that the first `parts_sent` parts of a claimed Telegram delivery are out, so
        that a resumed send continues at the next one (if the claim still holds)."""
        cur = self.conn.execute(
            "UPDATE deliveries SET parts_sent = ?, updated_at = ? WHERE id = ? AND "
            "status = 'sending' AND lease_until = ?",
            (parts_sent, _instant(now), claim.id, claim.lease_until))
        return bool(cur.rowcount)

    def skip_deliveries(self, skips: list[tuple[Claim, str]], now: dt.datetime) -> int:
        """Mark claimed deliveries `skipped` with their reasons, in one transaction (those
        whose claim still holds); returns how many."""
        stamp = _instant(now)
        with self.transaction() as conn:
            cur = conn.executemany(
                "UPDATE deliveries SET status = 'skipped', updated_at = ?, lease_until = NULL, "
                "claimed_by = NULL, last_error = ? WHERE id = ? AND status = 'sending' AND "
                "lease_until = ?", [(stamp, why, claim.id, claim.lease_until)
                                    for claim, why in skips])
        return cur.rowcount

    def release_deliveries(self, holder: str, now: dt.datetime, digest_id: int | None = None,
                           channel: Channel | None = None) -> int:
        """Give back what `holder` still holds (a clean stop): pending again; only the
        rows of one digest and channel when given (a process may send two channels)."""
        sql = ("UPDATE deliveries SET status = 'pending', lease_until = NULL, claimed_by = NULL,"
               " attempts = max(attempts - 1, 0), updated_at = ? WHERE status = 'sending' AND "
               "claimed_by = ?")
        values: list[object] = [_instant(now), holder]
        if digest_id is not None:
            sql += " AND digest_id = ?"
            values.append(digest_id)
        if channel is not None:
            sql += " AND channel = ?"
            values.append(channel)
        with self.transaction() as conn:
            cur = conn.execute(sql, values)
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
