"""The Telegram channel: a frozen digest to every chat, through the delivery ledger
(`bot.delivery.ledger`), like email, sent at Telegram's pace (`bot.delivery.bot_api`).

A reader's digest is several messages (parts); the ledger records how many are out, so a
resumed send goes on at the next part. A 403 (blocked, deactivated) or "chat not found"
marks the subscriber `blocked`; another 400 fails that delivery with the part named;
network errors and repeated 429s come back later with a backoff."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, TelegramError

from bot.delivery.bot_api import Pace, Sender, open_bot
from bot.delivery.ledger import RETRIES, Clock, Ledger, Retries, SendReport
from bot.digest import Digest
from bot.errors import BotError
from bot.links import week_page
from bot.model import Channel, Country, Status, Subscriber
from bot.render.telegram import TelegramPart, render_telegram
from bot.store import Claim, Store, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TelegramJob:
    """What a broadcast needs besides the digest and the store, from settings."""

    token: str
    api_url: str
    newsletter_name: str
    channel: str | None = None  # TELEGRAM_CHANNEL: sent to first
    public_url: str = ""  # BOT_PUBLIC_URL: the last of several parts links the week's page
    rate: float = 30.0  # messages a second, all chats together
    group_gap: float = 3.0  # seconds between two messages to one group or channel
    concurrency: int = 32  # chats written to at once
    lease: dt.timedelta = dt.timedelta(minutes=10)
    retries: Retries = RETRIES


@contextlib.asynccontextmanager
async def open_sender(job: TelegramJob, pace: Pace | None = None) -> AsyncIterator[Sender]:
    """A started bot, sending at the job's pace (or at `pace`, shared with others)."""
    bot: Bot
    async with open_bot(job.token, job.api_url, job.concurrency + 2) as bot:
        yield Sender(bot, job.rate, job.group_gap, pace)


class TelegramSend:
    """One run of the Telegram channel for one week's frozen digest."""

    def __init__(self, database: Path, week: str, digest: Digest, job: TelegramJob,
                 clock: Clock, on_progress: Callable[[str], None] = lambda outcome: None,
                 on_start: Callable[[int, int], None] = lambda total, done: None,
                 catch_signals: bool = True, pace: Pace | None = None) -> None:
        self.database = database
        self.week = week
        self.digest = digest
        self.job = job
        self.clock = clock
        self.ledger = Ledger(database, week, Channel.TELEGRAM, clock, job.retries, on_progress,
                             on_start)
        self.catch_signals = catch_signals  # False inside `bot run`, which stops us itself
        self.pace = pace  # `bot run`'s, shared with the bot's replies
        self.stop = asyncio.Event()
        self.variants: dict[tuple[frozenset[Country], str], list[TelegramPart]] = {}

    @property
    def interrupted(self) -> bool:
        return self.stop.is_set()

    async def run(self) -> SendReport:
        """Send until every delivery is final (or a signal stops it); the ledger's state."""
        done = self.ledger.begin(first=self.job.channel)
        if done is not None:
            return done
        log.info("sending %s on Telegram to %d chats", self.week, self.ledger.total)
        restore = self.catch_stop_signals() if self.catch_signals else (lambda: None)
        try:
            async with open_sender(self.job, self.pace) as sender:
                await asyncio.gather(*(self.work(sender) for _ in range(self.job.concurrency)))
        finally:
            restore()
            self.ledger.release()
        return self.ledger.report()

    def catch_stop_signals(self) -> Callable[[], None]:
        """SIGINT and SIGTERM stop the send after the parts under way (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)

        def restore() -> None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return restore

    async def work(self, sender: Sender) -> None:
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            while not self.stop.is_set():
                claims = self.ledger.claim(store, digest_id, self.job.lease, 1)
                if claims:
                    await self.deliver(sender, store, claims[0])
                elif not await self.wait_for_more(store, digest_id):
                    return

    async def wait_for_more(self, store: Store, digest_id: int) -> bool:
        """Nothing to claim now: wait for the next retry (False when all is done)."""
        wait = self.ledger.idle_wait(store, digest_id)
        if wait is None:
            return False
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), wait)
        return True

    def parts(self, subscriber: Subscriber) -> list[TelegramPart]:
        key = (subscriber.countries, subscriber.locale)
        if key not in self.variants:
            variant = self.digest.only(subscriber.countries)
            self.variants[key] = [] if variant.is_empty else render_telegram(
                variant, self.job.newsletter_name, subscriber.locale,
                archive_url=week_page(self.job.public_url, self.week) if self.job.public_url
                else None)
        return self.variants[key]

    async def deliver(self, sender: Sender, store: Store, claim: Claim) -> None:
        subscriber = store.get_subscriber(claim.subscriber_id)
        if subscriber.status is not Status.ACTIVE:
            self.ledger.finish(store, claim, "skipped", error=f"subscriber is {subscriber.status}")
            return
        parts = self.parts(subscriber)
        if not parts:
            self.ledger.finish(store, claim, "skipped",
                               error="no articles this week in the sections followed")
            return
        for index in range(claim.parts_sent, len(parts)):
            if self.stop.is_set():
                return  # given back by run(); the parts sent are recorded
            try:
                await sender.send(subscriber.address, parts[index].html)
            except (Forbidden, ChatMigrated) as exc:
                self.gone(store, claim, subscriber, exc.message)
                return
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    self.gone(store, claim, subscriber, exc.message)
                else:
                    log.warning("delivery %d: Telegram refused part %d of %d (%s)", claim.id,
                                index + 1, len(parts), exc.message)
                    self.ledger.finish(store, claim, "failed", parts_sent=index,
                                       error=f"part {index + 1}: {exc.message}")
                return
            except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, dropped connections
                self.ledger.later(store, claim, exc.message, parts_sent=index)
                return
            store.record_parts(claim, index + 1, self.clock())
        self.ledger.finish(store, claim, "sent", parts_sent=len(parts))

    def gone(self, store: Store, claim: Claim, subscriber: Subscriber, reason: str) -> None:
        """The chat blocked the bot, is deactivated or does not exist: stop writing to it."""
        log.info("delivery %d: %s; subscriber %d blocked", claim.id, reason, subscriber.id)
        self.ledger.finish(store, claim, "failed", error=reason, subscriber_status=Status.BLOCKED)


async def send_test_copy(job: TelegramJob, chat: str, parts: list[TelegramPart]) -> int:
    """Every part to one chat, outside the ledger (`bot send --to <chat id>`)."""
    async with open_sender(job) as sender:
        for part in parts:
            try:
                await sender.send(chat, part.html)
            except TelegramError as exc:
                raise BotError(f"Telegram refused the test copy to {chat}: {exc.message}") \
                    from None
    return len(parts)
