"""The delivery ledger's side of a send, the same for every channel.

The recipients are fixed once, in one transaction. A channel's workers then claim
deliveries atomically (pending → sending, with a lease and the holder's host and pid), send,
and record the outcome only if their claim still holds. A temporary failure goes back to
pending with an exponential backoff, until the channel's last attempt; rows held by a
process that died are taken over at once on the same host, elsewhere when their lease runs
out. So a crash, a restart or a second process never sends a digest twice to anyone (but
the message in flight at a crash) and never skips anyone. `bot.delivery.email` and
`bot.delivery.telegram` are the two channels on it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.model import Channel
from bot.store import Claim, Store, open_store

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


@dataclass(slots=True)
class SendReport:
    """The ledger of one channel after a run: deliveries by status, the next retry."""

    counts: dict[str, int] = field(default_factory=dict)
    next_attempt: dt.datetime | None = None
    already_done: bool = False

    @property
    def finished(self) -> bool:
        return not self.counts.get("pending") and not self.counts.get("sending")


@dataclass(frozen=True, slots=True)
class Retries:
    """When a delivery that failed for a while is tried again, and when it is given up."""

    first: dt.timedelta = dt.timedelta(seconds=30)
    last: dt.timedelta = dt.timedelta(minutes=30)
    max_attempts: int = 8


RETRIES = Retries()  # both channels' default


def backoff(attempts: int, first: dt.timedelta, last: dt.timedelta) -> dt.timedelta:
    """The wait before the next attempt: `first`, doubling at each attempt, up to `last`."""
    doubled: dt.timedelta = first * (2 ** max(attempts - 1, 0))
    return min(doubled, last)


def holder_name() -> str:
    """This process, as the ledger and the store's leases name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_holders(holders: list[str]) -> list[str]:
    """Holders on this host whose process is gone (a crash): their rows need no lease wait."""
    host = socket.gethostname()
    dead = []
    for holder in holders:
        name, _, pid = holder.rpartition(":")
        if name != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(holder)
        except PermissionError:
            pass
    return dead


def idle_wait(store: Store, digest_id: int, channel: Channel, holder: str,
              now: dt.datetime) -> float | None:
    """A worker found nothing to claim: None when the channel is done (or only this process
    still sends), else how long to wait before looking again, saying why when it is a
    retry the editor should know of."""
    counts = store.delivery_counts(digest_id, channel)
    if not counts.get("pending") and (
            not counts.get("sending")
            or set(store.holders_sending(digest_id, channel)) <= {holder}):
        return None
    due = store.next_attempt(digest_id, channel)
    # Rows another process holds may come back: look again at least every few seconds.
    wait = 2.0 if due is None else min((due - now).total_seconds(), 30.0)
    if due is not None and wait >= 1:  # shown by default: the editor should know
        log.warning("%s: %d deliveries wait to be retried (last error: %s); next try in "
                    "%.0f s", channel, counts.get("pending", 0),
                    store.last_error(digest_id, channel) or "none", wait)
    return wait


class Ledger:
    """This process's hold on one channel of one week's ledger: the run's beginning, its
    claims and outcomes, its end. A channel's send loop is built on it."""

    def __init__(self, database: Path, week: str, channel: Channel, clock: Clock,
                 retries: Retries,
                 on_progress: Callable[[str], None] = lambda outcome: None,
                 on_start: Callable[[int, int], None] = lambda total, done: None) -> None:
        self.database = database
        self.week = week
        self.channel = channel
        self.clock = clock
        self.retries = retries
        self.on_progress = on_progress
        self.on_start = on_start
        self.holder = holder_name()
        self.total = 0

    def begin(self, first: str | None = None) -> SendReport | None:
        """Fix the recipients (the first run does; later ones find them fixed), `first`
        (an address) claimed before the others; the report when the channel was already
        done, else None, and `on_start` is told how many there are and are done."""
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            counts = store.delivery_counts(digest_id, self.channel)
            self.total = store.fix_recipients(digest_id, self.channel, self.clock())
            if first:
                store.put_first(digest_id, self.channel, first, self.clock())
            if counts and not counts.get("pending") and not counts.get("sending"):
                return SendReport(counts, None, already_done=True)
        self.on_start(self.total, sum(n for status, n in counts.items()
                                          if status not in {"pending", "sending"}))
        return None

    def claim(self, store: Store, digest_id: int, lease: dt.timedelta,
              limit: int) -> list[Claim]:
        """Up to `limit` due deliveries, rows of a dead process on this host included."""
        dead = dead_holders(store.holders_sending(digest_id, self.channel))
        return store.claim_deliveries(digest_id, self.channel, self.clock(), lease,
                                      self.holder, limit, dead)

    def idle_wait(self, store: Store, digest_id: int) -> float | None:
        """Nothing to claim: None when the channel is done, else seconds to wait."""
        return idle_wait(store, digest_id, self.channel, self.holder, self.clock())

    def finish(self, store: Store, claim: Claim, status: str, **details: object) -> None:
        """Record an outcome, if the claim still holds."""
        if store.finish_delivery(claim, status, self.clock(), **details):  # type: ignore[arg-type]
            self.on_progress(status)

    def later(self, store: Store, claim: Claim, reason: str, **details: object) -> None:
        """A temporary failure: pending again after a backoff, or failed for good once the
        last attempt is spent."""
        if claim.attempts >= self.retries.max_attempts:
            self.finish(store, claim, "failed",
                        error=f"gave up after {claim.attempts} attempts: {reason}", **details)
            return
        delay = backoff(claim.attempts, self.retries.first, self.retries.last)
        log.info("delivery %d: %s; retry in %.0f s", claim.id, reason, delay.total_seconds())
        self.finish(store, claim, "pending", error=reason, retry_at=self.clock() + delay,
                    **details)

    def release(self) -> None:
        """Give back what this process still holds (a stop): another run takes it up."""
        with open_store(self.database) as store:
            store.release_deliveries(self.holder, self.clock(), store.digest_id(self.week),
                                     self.channel)

    def report(self) -> SendReport:
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            return SendReport(store.delivery_counts(digest_id, self.channel),
                              store.next_attempt(digest_id, self.channel))
