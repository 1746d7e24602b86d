"""Sending a frozen digest on Telegram through the delivery ledger, like email: recipients
fixed once, deliveries claimed with a lease, outcomes recorded only while the claim holds.

A reader's digest is several messages (parts); the ledger records how many are out, so a
resumed send goes on at the next part. The pace stays under Telegram's limits: at most 30
messages a second overall (`Pace`), and 3 seconds between two messages to one group or
channel (20 a minute). A 429 is waited out and the same part sent again; a 403 (blocked,
deactivated) or "chat not found" marks the subscriber `blocked`; another 400 fails that
delivery with the part named; network errors come back later with a backoff."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import signal
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.digest import Digest
from bot.dispatch import SendReport, backoff, dead_holders, holder_name, idle_wait
from bot.errors import BotError
from bot.model import Channel, Country, Status, Subscriber
from bot.redact import redact_secrets
from bot.render.telegram import TelegramPart, render_telegram
from bot.store import Claim, Store, open_store

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MAX_429 = 10  # 429s in a row for one part before it is left for a later attempt


@dataclass(frozen=True, slots=True)
class TelegramJob:
    """What a broadcast needs besides the digest and the store, from settings."""

    token: str
    api_url: str
    newsletter_name: str
    channel: str | None = None  # TELEGRAM_CHANNEL: sent to first
    rate: float = 30.0  # messages a second, all chats together
    group_gap: float = 3.0  # seconds between two messages to one group or channel
    concurrency: int = 32  # chats written to at once
    lease: dt.timedelta = dt.timedelta(minutes=10)
    first_retry: dt.timedelta = dt.timedelta(seconds=30)
    last_retry: dt.timedelta = dt.timedelta(minutes=30)
    max_attempts: int = 8


def is_group(chat: str) -> bool:
    """A channel (@name, -100…) or a group: Telegram allows it 20 messages a minute."""
    return chat.startswith(("@", "-"))


def chat_id(address: str) -> int | str:
    return int(address) if address.lstrip("-").isdigit() else address


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` is an int in PTB 22 (a timedelta when PTB_TIMEDELTA is set), and reading
    it as an int warns that it will change."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class Pace:
    """At most `rate` sends a second, counted the way a server would see them. Sends start
    at least 1/rate apart, and none starts while `rate` others are under way or ended less
    than a second ago: each arrives between its start and its end, so no one-second window
    at the server can hold more than `rate` of them, however the network delays them."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.count = max(int(rate), 1)
        self.interval = 1.0 / rate
        self.clock = clock
        self.ended: collections.deque[float] = collections.deque()
        self.running = 0
        self.next_start = 0.0
        self.paused_until = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = self.clock()
                while self.ended and self.ended[0] <= now - 1.0:
                    self.ended.popleft()
                wait = max(self.next_start - now, self.paused_until - now)
                if self.running + len(self.ended) >= self.count:
                    wait = max(wait, self.ended[0] + 1.0 - now if self.ended else 0.01)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self.running += 1
            self.next_start = now + self.interval

    def release(self) -> None:
        self.running -= 1
        self.ended.append(self.clock())

    def pause(self, seconds: float) -> None:
        """A 429: nobody sends before it is over (Telegram's flood wait is per bot)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)


@contextlib.asynccontextmanager
async def open_bot(job: TelegramJob) -> AsyncIterator[Bot]:
    """A started bot (getMe answered); a refused token or an unreachable API is one clear
    error that never shows the token."""
    redact_secrets(job.token)  # httpx logs each URL, and the token is in it
    request = HTTPXRequest(connection_pool_size=job.concurrency + 2, connect_timeout=10.0,
                           read_timeout=30.0, write_timeout=30.0, pool_timeout=30.0)
    bot = Bot(job.token, base_url=job.api_url, request=request)
    try:
        await bot.initialize()
    except InvalidToken:
        raise BotError(f"the Bot API at {job.api_url} refused TELEGRAM_BOT_TOKEN; check it "
                       "with @BotFather") from None
    except NetworkError as exc:
        raise BotError(f"cannot reach the Bot API at {job.api_url} ({exc.message})") from None
    try:
        yield bot
    finally:
        await bot.shutdown()


class Sender:
    """Sends parts to chats at Telegram's pace, waiting out 429s."""

    def __init__(self, bot: Bot, job: TelegramJob) -> None:
        self.bot = bot
        self.job = job
        self.pace = Pace(job.rate)
        self.last_end: dict[str, float] = {}

    async def send(self, chat: str, html: str) -> Message:
        if is_group(chat) and chat in self.last_end:
            wait = self.last_end[chat] + self.job.group_gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        for _ in range(MAX_429):
            await self.pace.acquire()
            try:
                return await self.bot.send_message(chat_id(chat), html, parse_mode=ParseMode.HTML,
                                                   link_preview_options=NO_PREVIEW)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                log.warning("Telegram asks to wait %.0f s (429); every send waits", seconds)
                self.pace.pause(seconds)
            finally:
                self.pace.release()
                if is_group(chat):
                    self.last_end[chat] = time.monotonic()
        raise NetworkError(f"still 429 after {MAX_429} tries")


class TelegramSend:
    """One run of the Telegram channel for one week's frozen digest."""

    def __init__(self, database: Path, week: str, digest: Digest, job: TelegramJob,
                 clock: Clock, on_progress: Callable[[str], None] = lambda outcome: None,
                 on_start: Callable[[int, int], None] = lambda total, done: None,
                 catch_signals: bool = True) -> None:
        self.database = database
        self.week = week
        self.digest = digest
        self.job = job
        self.clock = clock
        self.on_progress = on_progress
        self.on_start = on_start
        self.holder = holder_name()
        self.catch_signals = catch_signals  # False inside `bot run`, which stops us itself
        self.stop = asyncio.Event()
        self.variants: dict[tuple[frozenset[Country], str], list[TelegramPart]] = {}

    @property
    def interrupted(self) -> bool:
        return self.stop.is_set()

    async def run(self) -> SendReport:
        """Send until every delivery is final (or a signal stops it); the ledger's state."""
        with open_store(self.database) as store:
            digest_id = store.digest_id(self.week)
            counts = store.delivery_counts(digest_id, Channel.TELEGRAM)
            total = store.fix_recipients(digest_id, Channel.TELEGRAM, self.clock())
            if self.job.channel:
                store.put_first(digest_id, Channel.TELEGRAM, self.job.channel, self.clock())
            if counts and not counts.get("pending") and not counts.get("sending"):
                return SendReport(counts, None, already_done=True)
            final = sum(n for status, n in counts.items() if status not in {"pending", "sending"})
        log.info("sending %s on Telegram to %d chats", self.week, total)
        self.on_start(total, final)
        restore = self.catch_stop_signals() if self.catch_signals else (lambda: None)
        try:
            async with open_bot(self.job) as bot:
                sender = Sender(bot, self.job)
                await asyncio.gather(*(self.work(sender) for _ in range(self.job.concurrency)))
        finally:
            restore()
            with open_store(self.database) as store:
                store.release_deliveries(self.holder, self.clock(), digest_id,
                                         Channel.TELEGRAM)
        with open_store(self.database) as store:
            return SendReport(store.delivery_counts(digest_id, Channel.TELEGRAM),
                              store.next_attempt(digest_id, Channel.TELEGRAM))

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
                claims = store.claim_deliveries(
                    digest_id, Channel.TELEGRAM, self.clock(), self.job.lease, self.holder, 1,
                    dead_holders(store.holders_sending(digest_id, Channel.TELEGRAM)))
                if claims:
                    await self.deliver(sender, store, claims[0])
                elif not await self.wait_for_more(store, digest_id):
                    return

    async def wait_for_more(self, store: Store, digest_id: int) -> bool:
        """Nothing to claim now: wait for the next retry (False when all is done)."""
        wait = idle_wait(store, digest_id, Channel.TELEGRAM, self.holder, self.clock())
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
                variant, self.job.newsletter_name, subscriber.locale)
        return self.variants[key]

    async def deliver(self, sender: Sender, store: Store, claim: Claim) -> None:
        subscriber = store.get_subscriber(claim.subscriber_id)
        if subscriber.status is not Status.ACTIVE:
            self.finish(store, claim, "skipped", error=f"subscriber is {subscriber.status}")
            return
        parts = self.parts(subscriber)
        if not parts:
            self.finish(store, claim, "skipped",
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
                    self.finish(store, claim, "failed", parts_sent=index,
                                error=f"part {index + 1}: {exc.message}")
                return
            except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, dropped connections
                self.later(store, claim, index, exc.message)
                return
            store.record_parts(claim, index + 1, self.clock())
        self.finish(store, claim, "sent", parts_sent=len(parts))

    def gone(self, store: Store, claim: Claim, subscriber: Subscriber, reason: str) -> None:
        """The chat blocked the bot, is deactivated or does not exist: stop writing to it."""
        log.info("delivery %d: %s; subscriber %d blocked", claim.id, reason, subscriber.id)
        self.finish(store, claim, "failed", error=reason, subscriber_status=Status.BLOCKED)

    def later(self, store: Store, claim: Claim, parts_sent: int, reason: str) -> None:
        if claim.attempts >= self.job.max_attempts:
            self.finish(store, claim, "failed", parts_sent=parts_sent,
                        error=f"gave up after {claim.attempts} attempts: {reason}")
            return
        delay = backoff(claim.attempts, self.job.first_retry, self.job.last_retry)
        log.info("delivery %d: %s; retry in %.0f s", claim.id, reason, delay.total_seconds())
        self.finish(store, claim, "pending", parts_sent=parts_sent, error=reason,
                    retry_at=self.clock() + delay)

    def finish(self, store: Store, claim: Claim, status: str, **details: object) -> None:
        if store.finish_delivery(claim, status, self.clock(), **details):  # type: ignore[arg-type]
            self.on_progress(status)


async def send_test_copy(job: TelegramJob, chat: str, parts: list[TelegramPart]) -> int:
    """Every part to one chat, outside the ledger (`bot send --to <chat id>`)."""
    async with open_bot(job) as bot:
        sender = Sender(bot, job)
        for part in parts:
            try:
                await sender.send(chat, part.html)
            except TelegramError as exc:
                raise BotError(f"Telegram refused the test copy to {chat}: {exc.message}") \
                    from None
    return len(parts)
