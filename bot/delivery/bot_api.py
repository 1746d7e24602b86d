"""The Telegram Bot API as the broadcast uses it: a started bot, and messages sent at
Telegram's pace. At most 30 messages a second overall (`Pace`), 3 seconds between two
messages to one group or channel (20 a minute); a 429 is waited out and the same message
sent again."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.errors import BotError
from bot.redact import redact_secrets

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Answer = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns
MAX_429 = 10  # 429s in a row for one part before it is left for a later attempt


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
async def open_bot(token: str, api_url: str, connections: int) -> AsyncIterator[Bot]:
    """A started bot (getMe answered) with `connections` HTTP connections; a refused token
    or an unreachable API is one clear error that never shows the token."""
    redact_secrets(token)  # httpx logs each URL, and the token is in it
    request = HTTPXRequest(connection_pool_size=connections, connect_timeout=10.0,
                           read_timeout=30.0, write_timeout=30.0, pool_timeout=30.0)
    bot = Bot(token, base_url=api_url, request=request)
    try:
        await bot.initialize()
    except InvalidToken:
        raise BotError(f"the Bot API at {api_url} refused TELEGRAM_BOT_TOKEN; check it "
                       "with @BotFather") from None
    except NetworkError as exc:
        raise BotError(f"cannot reach the Bot API at {api_url} ({exc.message})") from None
    try:
        yield bot
    finally:
        await bot.shutdown()


class Sender:
    """Sends parts to chats at Telegram's pace, waiting out 429s."""

    def __init__(self, bot: Bot, rate: float, group_gap: float,
                 pace: Pace | None = None) -> None:
        self.bot = bot
        self.group_gap = group_gap  # seconds between two messages to one group or channel
        self.pace = pace or Pace(rate)  # `bot run` shares one with the bot's replies
        self.last_end: dict[str, float] = {}

    async def send(self, chat: str, html: str) -> Message:
        if is_group(chat) and chat in self.last_end:
            wait = self.last_end[chat] + self.group_gap - time.monotonic()
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


class PacedReplies(BaseRateLimiter[None]):
    """The Telegram bot's replies at the broadcast's pace: PTB hands every Bot API call to
    this hook, and what sends or edits a message waits for the same `Pace` as the broadcast
    of that process, so that replies and the weekly send together stay under Telegram's
    30 messages a second. A 429 pauses both."""

    PACED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup",
                       "sendPhoto", "sendDocument", "copyMessage", "forwardMessage"})

    def __init__(self, pace: Pace) -> None:
        self.pace = pace

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
            self, callback: Callable[..., Coroutine[Any, Any, Answer]], args: Any,
            kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
            rate_limit_args: None) -> Answer:
        if endpoint not in self.PACED:
            return await callback(*args, **kwargs)
        await self.pace.acquire()
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:  # the caller decides whether to try again; all wait
            self.pace.pause(retry_seconds(exc))
            raise
        finally:
            self.pace.release()
