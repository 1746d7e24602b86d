"""What `bot run` keeps in the store: the sender's lease, the notices given about a week,
and the states of the digests its plan needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.base import StoreBase
from bot.store.rows import _instant


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str  # host:pid
    since: dt.datetime | None  # None for a lease taken before the store recorded it
    until: dt.datetime


class ScheduleTable(StoreBase):
    """The sender's lease and the notices given."""

    def take_lease(self, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta,
                   dead: Iterable[str] = ()) -> bool:
        """Hold the lease `name` until now + ttl if it is free, ran out, is ours already, or
        its holder is in `dead`; returns whether this holder has it."""
        gone = list(dead)
        marks = ", ".join("?" for _ in gone) or "NULL"  # only placeholders: values are bound
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO leases (name, holder, until, since) VALUES (?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "until = excluded.until, since = CASE WHEN leases.holder = excluded.holder "
                "THEN coalesce(leases.since, excluded.since) ELSE excluded.since END "
                "WHERE leases.holder = excluded.holder OR "
                f"leases.until < ? OR leases.holder IN ({marks})",
                (name, holder, _instant(now + ttl), _instant(now), _instant(now), *gone))
            return bool(cur.rowcount)

    def lease_holder(self, name: str) -> tuple[str, dt.datetime] | None:
        row = self.conn.execute("SELECT holder, until FROM leases WHERE name = ?",
                                (name,)).fetchone()
        return (str(row[0]), dt.datetime.fromisoformat(str(row[1]))) if row else None

    def lease(self, name: str) -> Lease | None:
        """Who holds the lease `name`, since when, and until when (unless renewed)."""
        row = self.conn.execute("SELECT holder, since, until FROM leases WHERE name = ?",
                                (name,)).fetchone()
        if row is None:
            return None
        until = dt.datetime.fromisoformat(str(row[2]))
        return Lease(str(row[0]), dt.datetime.fromisoformat(str(row[1])) if row[1] else None,
                     until)

    def drop_lease(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop): another process may take it at once."""
        self.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def add_notice(self, week: str, kind: str, now: dt.datetime) -> bool:
        """Record that `kind` was said about `week`; False if it was said before."""
        cur = self.conn.execute("INSERT OR IGNORE INTO notices (week, kind, created_at) "
                                "VALUES (?, ?, ?)", (week, kind, _instant(now)))
        return bool(cur.rowcount)

    def week_states(self, weeks: Iterable[str]) -> dict[str, str]:
        """Each week's digest status, or the notice given about it (empty, stale)."""
        wanted = list(weeks)
        marks = ", ".join("?" for _ in wanted) or "NULL"
        states = {str(w): str(s) for w, s in self.conn.execute(
            f"SELECT week, status FROM digests WHERE week IN ({marks})", wanted)}  # noqa: S608
        for week, kind in self.conn.execute(
                f"SELECT week, kind FROM notices WHERE week IN ({marks})", wanted):  # noqa: S608
            if states.get(str(week)) != "sent":
                states[str(week)] = str(kind)
        return states

    def interrupted_weeks(self) -> list[str]:
        """Weeks whose send began and did not finish."""
        return [str(r[0]) for r in self.conn.execute(
            "SELECT week FROM digests WHERE status = 'sending' ORDER BY week")]
