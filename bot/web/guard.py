"""Around every answer of the readers' site: the security headers, and one log line per
request by route, never by path (paths hold readers' tokens)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
SECURITY_HEADERS = {
    # Inline styles (these pages', and the archived emails') but never a script.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' https: data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # a reader's link must not leak in a Referer
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class ResponseGuard:
    """Around every answer: adds `SECURITY_HEADERS` (and `no-store` unless it says
    otherwise), and logs one INFO line per request by route, never by path (paths hold
    tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {**SECURITY_HEADERS, "cache-control": "no-store"}
                headers += [(k.encode(), v.encode()) for k, v in extra.items()
                            if k.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_guarded)
        finally:
            log.info("%s %s %d (%.0f ms)", scope["method"], route_of(scope), status,
                     (time.monotonic() - started) * 1000)


def route_of(scope: Scope) -> str:
    """The matched route's pattern (`/unsubscribe/{token}`), or `(no such page)`."""
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__name__", None)
    return ROUTE_NAMES.get(name, "(no such page)") if isinstance(name, str) else \
        "(no such page)"


ROUTE_NAMES = {
    "front_page": "/", "subscribe": "/subscribe", "confirm": "/confirm/{token}",
    "unsubscribe": "/unsubscribe/{token}", "preferences": "/preferences/{token}",
    "archive": "/archive/", "archive_week": "/archive/{week}/",
}
