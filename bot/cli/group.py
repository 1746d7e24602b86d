"""The `bot` command's group: settings read once, the clock, logging, and every
`BotError` turned into one line on stderr and its exit code (2 for bad input), never a
traceback. The only place that reads the real clock, the environment and `.env`; the
commands are in the modules beside it, one per command group."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from bot.config import Settings
from bot.errors import BotError, InputError, one_line
from bot.store import Store, open_store


class BotGroup(click.Group):
    """A group whose errors are one line on stderr: exit 2 for bad input, never a traceback."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name or "bot", complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            code = 1
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())} (see --help)", err=True)
            code = 2
        except BotError as exc:
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            code = exc.exit_code
        if standalone_mode:
            sys.exit(code)
        return code


@dataclass
class Context:
    """What every command gets: settings (read once, lazily) and the clock."""

    _settings: Settings | None = None
    _offset: dt.timedelta | None = None  # BOT_FAKE_NOW's distance from the real clock

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_environ(read_environment())
        return self._settings

    def now(self) -> dt.datetime:
        """The real clock, in the newsroom's zone. BOT_FAKE_NOW (for tests) sets the time
        of the first reading; the clock then runs from there at its real pace, so leases
        run out and retries come due in a long-running `bot run` too."""
        fake = os.environ.get("BOT_FAKE_NOW")
        real = dt.datetime.now(dt.UTC)  # offsets are added in UTC: no daylight-saving slip
        zone = self.settings.timezone
        if fake:
            if self._offset is None:
                try:
                    pinned = dt.datetime.fromisoformat(fake)
                except ValueError:
                    raise InputError(f"BOT_FAKE_NOW must be an ISO date and time, got "
                                     f"{fake!r}") from None
                if pinned.tzinfo is None:
                    pinned = pinned.replace(tzinfo=zone)
                self._offset = pinned - real
            return (real + self._offset).astimezone(zone)
        return real.astimezone(zone)

    def open_store(self) -> Store:
        s = self.settings
        return open_store(s.database, create_folder=s.database_is_default)


def read_environment() -> dict[str, str]:
    """The process environment over the values of `./.env` (the environment wins)."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    values.update(os.environ)
    return values


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(cls=BotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="central-asia-digest-bot")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """The Central Asia weekly digest bot: articles in, a French digest out each week."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it would log the Telegram token
    ctx.obj = Context()


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The count and the word agreeing with it: `plural(1, "article")` → "1 article",
    `plural(2, "new article")` → "2 new articles", `plural(0, "article")` → "0 articles";
    `many` for a plural that is not the singular plus s (`plural(n, "needs", "need")`)."""
    return f"{count} {singular if count == 1 else many or singular + 's'}"


def parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f'--date must look like "2025-08-21", got {value!r}') from None


def columns(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    room = max(20, shutil.get_terminal_size((120, 20)).columns - sum(widths) - 2 * len(widths))
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        click.echo("  ".join([*cells, last]).rstrip())
