"""The readers' site as an ASGI app (Starlette) and how `bot serve` runs it (uvicorn)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.config import Settings
from bot.delivery.mail_transport import Transport
from bot.errors import BotError
from bot.web.guard import ResponseGuard
from bot.web.site import Site

log = logging.getLogger(__name__)


def create_app(settings: Settings, secret: str, clock: Callable[[], dt.datetime],
               transport_factory: Callable[[], Transport]) -> Starlette:
    """The readers' site; the store is opened per request, `transport_factory()` per mail."""
    site = Site(settings, secret, clock, transport_factory)
    routes = [
        Route("/", site.front_page, methods=["GET"]),
        Route("/subscribe", site.subscribe, methods=["POST"]),
        Route("/confirm/{token}", site.confirm, methods=["GET"]),
        Route("/unsubscribe/{token}", site.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences/{token}", site.preferences, methods=["GET", "POST"]),
        Route("/archive/", site.archive, methods=["GET"]),
        Route("/archive/{week}/", site.archive_week, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(ResponseGuard)],
        exception_handlers={HTTPException: site.http_error, BotError: site.unavailable,
                            Exception: site.server_error})


def serve(app: ASGIApp, settings: Settings) -> None:
    """Serve `app` on BOT_WEB_HOST:BOT_WEB_PORT until Ctrl+C (or SIGTERM)."""
    log.info("serving the readers' pages on http://%s:%d/ (links in mails point at %s/)",
             settings.web_host, settings.web_port, settings.public_url.rstrip("/"))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops cleanly, then passes it on
        uvicorn.Server(server_config(app, settings.web_host, settings.web_port)).run()
    log.info("stopped")


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How `bot serve` runs the app: no access log of uvicorn's (it would write readers'
    links); `ResponseGuard` logs each request by route instead."""
    return uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None,
                          server_header=False, proxy_headers=False)
