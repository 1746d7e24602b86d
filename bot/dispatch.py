"""Sending a frozen digest by email through the delivery ledger.

The recipients are fixed once, in one transaction. Worker threads then claim deliveries
atomically (pending → sending, with a lease and the holder's host and pid), send, and record
the outcome only if their claim still holds. A temporary failure goes back to pending with
an exponential backoff; a permanent one fails the delivery and bounces the subscriber. Rows
held by a process that died are taken over at once on the same host, elsewhere when their
lease runs out. So a crash, a restart or a second process never sends a digest twice to
anyone (but the message in flight at a crash, resent with the same Message-ID) and never
skips anyone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.channels.email import DeliveryError, Transport, TransportError
from bot.digest import Digest
from bot.links import reader_links
from bot.mail import Sender, digest_message
from bot.model import Channel, Country, Status, Subscriber
from bot.render.email import Masthead, RenderedEmail, render_email
from bot.store import Claim, Store, open_store

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
CLAIM_BATCH = 10  # deliveries a worker takes per transaction
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class EmailJob:
    """Everything a send needs besides the digest and the store, from settings."""

    sender: Sender
    masthead: Masthead
    public_url: str
    secret: str
    rate: float = 10.0  # messages per second, all workers together
    concurrency: int = 2
    lease: dt.timedelta = dt.timedelta(minutes=5)
    first_retry: dt.timedelta = dt.timedelta(seconds=30)
    last_retry: dt.timedelta = dt.timedelta(minutes=30)
    max_attempts: int = 8


@dataclass(slots=True)
class SendReport:
    counts: dict[str, int] = field(default_factory=dict)
    next_attempt: dt.datetime | None = None
    already_done: bool = False

    @property
    def finished(self) -> bool:
        return not self.counts.get("pending") and not self.counts.get("sending")


class RateLimiter:
    """At most `rate` sends per second over all threads (a token bucket of one)."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Sleep) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.next_slot = 0.0

    def wait(self) -> None:
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


def holder_name() -> str:
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


class EmailSend:
    """One run of the email channel for one week's frozen digest."""

    def __init__(self, database: Path, week: str, digest: Digest, job: EmailJob,
                 transport: Transport, clock: Clock, sleep: Sleep | None = None,
                 on_progress: Callable[[str], None] = lambda outcome: None,
                 on_start: Callable[[int, int], None] = lambda total, done: None) -> None:
        self.database = database
        self.week = week
        self.digest = digest
        self.job = job
        self.transport = transport
        self.clock = clock
        self.stop = threading.Event()
        # Waiting is interrupted by a stop (Ctrl-C); tests pass a sleep that moves their clock.
        self.sleep: Sleep = sleep or self.wait_or_stop
        self.on_progress = on_progress
        self.on_start = on_start
        self.holder = holder_name()
        self.failure: BaseException | None = None
        self.variants: dict[tuple[frozenset[Country], str], RenderedEmail] = {}
        self.variants_lock = threading.Lock()
        self.limiter = RateLimiter(job.rate, lambda: clock().timestamp(), self.sleep)

    @property
    def interrupted(self) -> bool:
        """Stopped by a signal (or an error) before every delivery was final."""
        return self.stop.is_set()

    def catch_stop_signals(self) -> Callable[[], None]:
        """Route SIGINT and SIGTERM to `stop` while sending (main thread only); returns the
        function that puts the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.signal(sig, lambda *_: self.stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        return restore

    def wait_or_stop(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def run(self) -> SendReport:
        """Send until every delivery is final (or `stop` is set); returns the ledger's state."""
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            counts = store.delivery_counts(digest_id, Channel.EMAIL)
            total = store.fix_recipients(digest_id, Channel.EMAIL, self.clock())
            if counts and not counts.get("pending") and not counts.get("sending"):
                return SendReport(counts, None, already_done=True)
            log.info("sending %s by email to %d recipients through %s", self.week, total,
                     self.transport.describe())
            final = sum(n for status, n in counts.items() if status not in {"pending", "sending"})
            self.on_start(total, final)
        workers = [threading.Thread(target=self.work, name=f"email-{n}", daemon=True)
                   for n in range(self.job.concurrency)]
        # Ctrl-C and SIGTERM ask the workers to stop after the message in hand; a
        # KeyboardInterrupt landing inside Thread.join() could leave a thread running while
        # its claims are given back below, and that message would go out twice.
        restore = self.catch_stop_signals()
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.join()
        finally:
            restore()
            with open_store(self.database) as store:
                store.release_deliveries(self.holder, self.clock())
            self.transport.close()
        if self.failure is not None:
            raise self.failure
        return self.report()

    def report(self) -> SendReport:
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            return SendReport(store.delivery_counts(digest_id, Channel.EMAIL),
                              store.next_attempt(digest_id, Channel.EMAIL))

    def work(self) -> None:
        try:
            with open_store(self.database) as store:
                digest_id = store.digest_id(self.week)
                while not self.stop.is_set():
                    claims = store.claim_deliveries(
                        digest_id, Channel.EMAIL, self.clock(), self.job.lease, self.holder,
                        CLAIM_BATCH, dead_holders(store.holders_sending(digest_id,
                                                                        Channel.EMAIL)))
                    for claim in claims:
                        if self.stop.is_set():
                            break  # the rest are given back by run()
                        self.deliver(store, claim)
                    if not claims and not self.wait_for_more(store, digest_id):
                        return
        except BaseException as exc:  # stop the others; run() re-raises it
            self.failure = self.failure or exc
            self.stop.set()

    def wait_for_more(self, store: Store, digest_id: int) -> bool:
        """Nothing to claim now: sleep until the next retry is due (False when all is done)."""
        counts = store.delivery_counts(digest_id, Channel.EMAIL)
        if not counts.get("pending") and (
                not counts.get("sending")
                or set(store.holders_sending(digest_id, Channel.EMAIL)) <= {self.holder}):
            return False  # done, or only this process's other threads are still sending
        due = store.next_attempt(digest_id, Channel.EMAIL)
        # Rows another process holds may come back: look again at least every few seconds.
        wait = 2.0 if due is None else min((due - self.clock()).total_seconds(), 30.0)
        if wait > 0:
            if due is not None and wait >= 1:  # shown by default: the editor should know
                log.warning("%d messages wait to be retried (last error: %s); next try in "
                            "%.0f s", counts.get("pending", 0),
                            store.last_error(digest_id, Channel.EMAIL) or "none", wait)
            self.sleep(wait)
        return True

    def deliver(self, store: Store, claim: Claim) -> None:
        now = self.clock()
        subscriber = store.get_subscriber(claim.subscriber_id)
        if subscriber.status is not Status.ACTIVE:
            self.finish(store, claim, "skipped", error=f"subscriber is {subscriber.status}")
            return
        variant = self.digest.only(subscriber.countries)
        if variant.is_empty:
            self.finish(store, claim, "skipped",
                        error="no articles this week in the sections followed")
            return
        links = reader_links(self.job.public_url, self.job.secret, subscriber)
        message = digest_message(self.rendered(variant, subscriber), self.job.sender,
                                 subscriber.address, self.week, subscriber.id,
                                 links.unsubscribe, links.preferences, now)
        self.limiter.wait()
        try:
            self.transport.send(message)
        except DeliveryError as exc:
            self.failed(store, claim, subscriber, exc)
            return
        except TransportError:
            raise
        self.finish(store, claim, "sent", message_id=str(message["Message-ID"]))

    def rendered(self, variant: Digest, subscriber: Subscriber) -> RenderedEmail:
        key = (subscriber.countries, subscriber.locale)
        with self.variants_lock:
            if key not in self.variants:
                self.variants[key] = render_email(variant, self.job.masthead, subscriber.locale)
            return self.variants[key]

    def failed(self, store: Store, claim: Claim, subscriber: Subscriber,
               exc: DeliveryError) -> None:
        if not exc.temporary:
            log.info("delivery %d: permanent failure (%s); subscriber %d bounced", claim.id,
                     exc.reason, subscriber.id)
            self.finish(store, claim, "failed", error=exc.reason,
                        subscriber_status=Status.BOUNCED)
        elif claim.attempts >= self.job.max_attempts:
            self.finish(store, claim, "failed",
                        error=f"gave up after {claim.attempts} attempts: {exc.reason}")
        else:
            delay = min(self.job.first_retry * 2 ** (claim.attempts - 1), self.job.last_retry)
            log.info("delivery %d: %s; retry in %.0f s", claim.id, exc.reason,
                     delay.total_seconds())
            self.finish(store, claim, "pending", error=exc.reason,
                        retry_at=self.clock() + delay)

    def finish(self, store: Store, claim: Claim, status: str, **details: object) -> None:
        if store.finish_delivery(claim, status, self.clock(), **details):  # type: ignore[arg-type]
            self.on_progress(status)
