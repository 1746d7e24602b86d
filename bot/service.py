"""`bot run`: one asyncio process serving the readers' web pages and, when it is configured,
the Telegram bot (long polling), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from bot.config import Settings
from bot.redact import redact_secrets
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
    """Serve until `stop` is set (by SIGINT or SIGTERM when run in the main thread)."""
    stop = stop or asyncio.Event()
    restore = _stop_on_signals(stop)
    server = _Server(server_config(web_app, settings.web_host, settings.web_port))
    web = asyncio.create_task(server.serve(), name="web")
    telegram = None
    try:
        if settings.telegram_bot_token:
            from bot.chat import build_application  # PTB is loaded only when it is used

            redact_secrets(settings.telegram_bot_token)
            telegram = build_application(settings, clock)
            await telegram.initialize()
            if telegram.post_init is not None:  # run_polling would call it; we start by hand
                await telegram.post_init(telegram)
            await telegram.start()
            assert telegram.updater is not None
            await telegram.updater.start_polling(drop_pending_updates=False)
        log.info("bot run: web pages on http://%s:%d/; Telegram %s", settings.web_host,
                    settings.web_port, "on (polling)" if telegram else
                    "off (TELEGRAM_BOT_TOKEN is not set)")
        done, _ = await asyncio.wait([web, asyncio.create_task(stop.wait())],
                                     return_when=asyncio.FIRST_COMPLETED)
        if web in done:
            web.result()  # the web server could not start: say why
    finally:
        server.should_exit = True
        if telegram is not None:
            if telegram.updater is not None and telegram.updater.running:
                await telegram.updater.stop()
            if telegram.running:
                await telegram.stop()
            await telegram.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await web
        restore()
    log.info("bot run: stopped")


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
