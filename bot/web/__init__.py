"""The readers' web pages: `site` (the pages), `guard` (headers and the request log around
every answer), `server` (the app and uvicorn), `forms` (the forms, read defensively)."""

from bot.web.server import create_app, serve, server_config
from bot.web.site import RESEND_AFTER

__all__ = ["RESEND_AFTER", "create_app", "serve", "server_config"]
