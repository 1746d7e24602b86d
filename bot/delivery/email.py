"""The email channel: a frozen digest to every email reader, through the delivery ledger
(`bot.delivery.ledger`), each reader's message built from its variant's and handed to a
transport (`bot.delivery.mail_transport`). A permanent failure bounces the reader."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.delivery.ledger import RETRIES, Clock, Ledger, Retries, SendReport
from bot.delivery.mail_transport import DeliveryError, Transport
from bot.digest import Digest
from bot.links import reader_links
from bot.mail import DigestMail, Sender, Wire
from bot.model import Channel, Country, Status, Subscriber
from bot.render.email import Masthead, render_email
from bot.store import Claim, Store, open_store

log = logging.getLogger(__name__)
CLAIM_BATCH = 25  # deliveries a worker takes per transaction
Sleep = Callable[[float], None]
SWITCH_INTERVAL = 0.0005  # see EmailSend.run


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
    retries: Retries = RETRIES


@dataclass(frozen=True, slots=True)
class Ready:
    """A claimed delivery and its message, built, waiting for a sender."""

    claim: Claim
    subscriber: Subscriber
    message: Wire


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
        self.ledger = Ledger(database, week, Channel.EMAIL, clock, job.retries, on_progress,
                             on_start)
        self.failure: BaseException | None = None
        self.variants: dict[tuple[frozenset[Country], str], DigestMail] = {}
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
        done = self.ledger.begin()
        if done is not None:
            return done
        log.info("sending %s by email to %d recipients through %s", self.week,
                 self.ledger.total, self.transport.describe())
        # One thread claims and builds the messages; `concurrency` threads, each with its
        # own connection, send them and record each outcome before taking the next. The
        # building then overlaps the network waits instead of adding to them.
        self.ready: queue.Queue[Ready | None] = queue.Queue(maxsize=2 * self.job.concurrency)
        workers = [threading.Thread(target=self.prepare, name="email-claims", daemon=True)]
        workers += [threading.Thread(target=self.work, name=f"email-{n}", daemon=True)
                    for n in range(self.job.concurrency)]
        # Ctrl-C and SIGTERM ask the workers to stop after the message in hand; a
        # KeyboardInterrupt landing inside Thread.join() could leave a thread running while
        # its claims are given back below, and that message would go out twice.
        restore = self.catch_stop_signals()
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                worker.join()
        finally:
            sys.setswitchinterval(switch)
            restore()
            self.ledger.release()
            self.transport.close()
        if self.failure is not None:
            raise self.failure
        return self.ledger.report()

    def prepare(self) -> None:
        """Claim deliveries, record the skipped ones, build the others' messages and hand
        them to the senders; stop when every delivery is final (or on `stop`)."""
        try:
            with open_store(self.database) as store:
                digest_id = store.digest_id(self.week)
                while not self.stop.is_set():
                    claims = self.ledger.claim(store, digest_id, self.job.lease, CLAIM_BATCH)
                    if claims:
                        self.hand_out(store, claims)
                        continue
                    self.ready.join()  # what this process holds is final or pending again
                    if not self.wait_for_more(store, digest_id):
                        return
        except BaseException as exc:  # stop the others; run() re-raises it
            self.failure = self.failure or exc
            self.stop.set()
        finally:
            for _ in range(self.job.concurrency):
                self.ready.put(None)

    def hand_out(self, store: Store, claims: list[Claim]) -> None:
        readers = store.get_subscribers([c.subscriber_id for c in claims])
        skips = [(claim, why) for claim in claims
                 if (why := self.skip_reason(readers[claim.subscriber_id]))]
        if skips:  # recorded together: nothing goes out for them
            for _ in range(store.skip_deliveries(skips, self.clock())):
                self.ledger.on_progress("skipped")
        skipped = {claim.id for claim, _ in skips}
        for claim in claims:
            if self.stop.is_set():
                return  # the rest are given back by run()
            if claim.id not in skipped:
                reader = readers[claim.subscriber_id]
                self.ready.put(Ready(claim, reader, self.build(reader)))

    def work(self) -> None:
        """Send what `prepare` hands out until it says there is no more. After a stop, the
        messages still waiting are not sent: run() gives their claims back."""
        with open_store(self.database) as store:
            while (ready := self.ready.get()) is not None:
                try:
                    if not self.stop.is_set():
                        self.deliver(store, ready)
                except BaseException as exc:  # stop the others; run() re-raises it
                    self.failure = self.failure or exc
                    self.stop.set()
                finally:
                    self.ready.task_done()
            self.ready.task_done()

    def wait_for_more(self, store: Store, digest_id: int) -> bool:
        """Nothing to claim now: sleep until the next retry is due (False when all is done)."""
        wait = self.ledger.idle_wait(store, digest_id)
        if wait is None:
            return False
        if wait > 0:
            self.sleep(wait)
        return True

    def skip_reason(self, subscriber: Subscriber) -> str | None:
        """Why this recipient gets nothing after all (None: they get the digest)."""
        if subscriber.status is not Status.ACTIVE:
            return f"subscriber is {subscriber.status}"
        if self.digest.only(subscriber.countries).is_empty:
            return "no articles this week in the sections followed"
        return None

    def build(self, subscriber: Subscriber) -> Wire:
        variant = self.digest.only(subscriber.countries)
        links = reader_links(self.job.public_url, self.job.secret, subscriber)
        return self.mail(variant, subscriber).message(
            subscriber.address, subscriber.id, links.unsubscribe, links.preferences,
            self.clock())

    def deliver(self, store: Store, ready: Ready) -> None:
        self.limiter.wait()
        try:
            self.transport.send(ready.message)
        except DeliveryError as exc:
            self.failed(store, ready.claim, ready.subscriber, exc)
            return
        self.ledger.finish(store, ready.claim, "sent", message_id=ready.message.message_id)

    def mail(self, variant: Digest, subscriber: Subscriber) -> DigestMail:
        """The message of this reader's variant (sections and language), built once."""
        key = (subscriber.countries, subscriber.locale)
        with self.variants_lock:
            if key not in self.variants:
                self.variants[key] = DigestMail(
                    render_email(variant, self.job.masthead, subscriber.locale),
                    self.job.sender, self.week)
            return self.variants[key]

    def failed(self, store: Store, claim: Claim, subscriber: Subscriber,
               exc: DeliveryError) -> None:
        if exc.temporary:
            self.ledger.later(store, claim, exc.reason)
            return
        log.info("delivery %d: permanent failure (%s); subscriber %d bounced", claim.id,
                 exc.reason, subscriber.id)
        self.ledger.finish(store, claim, "failed", error=exc.reason,
                           subscriber_status=Status.BOUNCED)
