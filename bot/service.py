"""`bot run`: one asyncio process with the weekly schedule (bot.runner), the readers' web
pages and, when it is configured, the Telegram bot (long polling), until SIGINT or
SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from bot.config import Settings
from bot.delivery.mail_transport import open_transport
from bot.redact import redact_secrets
from bot.runner import Notify, Runner
from bot.web import server_config

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service stops it with the rest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_service(settings: Settings, clock: Clock, web_app: ASGIApp,
                      stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (by SIGINT or SIGTERM when run in the main thread): stop
    the sends under way after their messages in flight, then polling, then the web."""
    stop = stop or asyncio.Event()
    restore = _stop_on_signals(stop)
    server = _Server(server_config(web_app, settings.web_host, settings.web_port))
    web = asyncio.create_task(server.serve(), name="web")
    telegram = pace = None
    try:
        if settings.telegram_bot_token:
            from bot.chat import build_application  # PTB is loaded only when it is used
            from bot.delivery.bot_api import Pace
            from bot.delivery.weeks import telegram_job

            redact_secrets(settings.telegram_bot_token)
            pace = Pace(telegram_job(settings).rate)  # replies and broadcast: one pace
            telegram = build_application(settings, clock, pace=pace)
            await telegram.initialize()
            if telegram.post_init is not None:  # run_polling would call it; we start by hand
                await telegram.post_init(telegram)
            await telegram.start()
            assert telegram.updater is not None
            await telegram.updater.start_polling(drop_pending_updates=False)
        runner = Runner(settings, clock, _admins_notifier(telegram, settings), pace)
        log.info("bot run: next send %s; email to %s; Telegram %s; web pages on http://%s:%d/",
                 runner.next_send(), _email_target(settings),
                 "on (polling)" if telegram else "off (TELEGRAM_BOT_TOKEN is not set)",
                 settings.web_host, settings.web_port)
        schedule_task = asyncio.create_task(runner.run(stop), name="schedule")
        done, _ = await asyncio.wait([web, schedule_task],
                                     return_when=asyncio.FIRST_COMPLETED)
        if web in done:
            stop.set()
            await schedule_task
            web.result()  # the web server could not start: say why
        await schedule_task
    finally:
        stop.set()
        if telegram is not None:
            if telegram.updater is not None and telegram.updater.running:
                await telegram.updater.stop()
            if telegram.running:
                await telegram.stop()
            await telegram.shutdown()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await web
        restore()
    log.info("bot run: stopped")


def _email_target(settings: Settings) -> str:
    return open_transport(settings.smtp_url, settings.outbox).describe()


def _admins_notifier(telegram: Any, settings: Settings) -> Notify | None:
    """A message to each of TELEGRAM_ADMINS, when the bot runs; failures are logged."""
    if telegram is None or not settings.telegram_admins:
        return None

    async def notify(text: str) -> None:
        for admin in settings.telegram_admins:
            try:
                await telegram.bot.send_message(admin, text)
            except Exception as exc:  # a notice must not stop the service
                log.warning("could not tell admin %s: %s", admin, exc)
    return notify


def _stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def restore() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return restore
