"""The `bot` command: a thin click layer over the library, one module per command group
(`articles`, `preview`, `sending`, `subscribers`, `service`) on the group of `group`."""

from __future__ import annotations

from bot.cli import articles, preview, sending, service, subscribers
from bot.cli.group import cli

__all__ = ["articles", "cli", "main", "preview", "sending", "service", "subscribers"]


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="bot")
