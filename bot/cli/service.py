"""`bot serve`, `bot run` and `bot config check`: the long-running side and its settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from bot.cli.group import Context, cli, pass_context

if TYPE_CHECKING:
    from starlette.types import ASGIApp


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@pass_context
def config_check(context: Context) -> None:
    """Validate the settings and print them, secrets masked."""
    rows = context.settings.describe()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")
    click.echo("settings are valid")


@cli.command()
@pass_context
def serve(context: Context) -> None:
    """Run the readers' web pages (subscribe, confirm, unsubscribe, preferences, archive) on
    BOT_WEB_HOST:BOT_WEB_PORT until stopped."""
    from bot.web import serve as serve_app

    serve_app(_web_app(context), context.settings)


@cli.command()
@pass_context
def run(context: Context) -> None:
    """Run the service until stopped (Ctrl-C or SIGTERM): the readers' web pages and, when
    TELEGRAM_BOT_TOKEN is set, the Telegram bot's commands."""
    import asyncio

    from bot.service import run_service

    asyncio.run(run_service(context.settings, context.now, _web_app(context)))


def _web_app(context: Context) -> ASGIApp:
    """The web app, its settings checked first; server logs at INFO unless -v asks more."""
    from bot.delivery.mail_transport import open_transport
    from bot.tokens import load_or_create_secret
    from bot.web import create_app

    s = context.settings
    secret = load_or_create_secret(s.secret_key, s.database.parent)
    open_transport(s.smtp_url, s.outbox).close()  # a bad SMTP_URL stops us here, not later
    with context.open_store():  # so does a store that cannot be opened
        pass
    for name in ("bot", "uvicorn"):  # each request and each confirmation sent is logged
        if logging.getLogger(name).getEffectiveLevel() > logging.INFO:
            logging.getLogger(name).setLevel(logging.INFO)
    return create_app(s, secret, context.now, lambda: open_transport(s.smtp_url, s.outbox))
