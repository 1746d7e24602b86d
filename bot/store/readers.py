"""The readers: email addresses and Telegram chats."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from bot.errors import NotFound
from bot.model import (
    Channel,
    Country,
    Status,
    Subscriber,
)
from bot.store.base import StoreBase
from bot.store.rows import (
    _SUBSCRIBER_COLUMNS,
    _codes,
    _instant,
    _subscriber,
)

if TYPE_CHECKING:
    from bot.subscribers import NewSubscriber


class SubscriberTable(StoreBase):
    """The readers: email addresses and Telegram chats."""

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

    def get_subscribers(self, ids: list[int]) -> dict[int, Subscriber]:
        """Several subscribers by id, in one query (those that exist)."""
        marks = ", ".join("?" for _ in ids)  # only placeholders: the ids are bound
        rows = self.conn.execute(f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers "  # noqa: S608
                                 f"WHERE id IN ({marks})", ids).fetchall()
        return {found.id: found for found in map(_subscriber, rows)}

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
