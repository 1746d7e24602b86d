"""`bot preview` and `bot demo`: a week's digest rendered for the editor to look at."""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from bot.cli.articles import import_location
from bot.cli.group import Context, cli, pass_context, plural
from bot.config import Settings
from bot.errors import InputError, StoreError, one_line
from bot.model import parse_country

if TYPE_CHECKING:
    from bot.preview import Preview


@cli.command()
@click.option("--week", "week_text", default="latest", show_default=True,
              help='"2025-W34", "latest" (newest week with articles) or "last" (last '
                   "complete week).")
@click.option("--countries", help="Only these sections, as a reader following them gets "
                                  "it: codes or names, comma-separated (KZ,UZ).")
@pass_context
def preview(context: Context, week_text: str, countries: str | None) -> None:
    """Render a week's digest (email, text, Telegram) into the archive folder and summarize
    it; exits 1 when the week has no articles."""
    _preview(context, week_text, countries)


@cli.command(short_help="Try the bot on its sample, in var/demo/ (your store untouched).")
@pass_context
def demo(context: Context) -> None:
    """Import the bundled sample articles into a store of the demo's own (var/demo/, made
    afresh at each run: BOT_DATABASE, BOT_DIGESTS_DIR and BOT_OUTBOX are left alone),
    preview the sample's fullest week, 2025-W14, send it to a sample reader through the
    demo's outbox, and print where to look."""
    from importlib.resources import as_file, files

    from bot.cli.send_week import send_demo

    own = _demo_context(context)
    sample = files("bot") / "samples" / "articles-fr.txt"
    with as_file(sample) as path:
        import_location(own, str(path))
    _preview(own, DEMO_WEEK, None)
    week = send_demo(own.settings, own.now, DEMO_WEEK)
    _echo_demo(own.settings, str(week), context.settings.database)


DEMO_FOLDER = Path("var") / "demo"  # beside the default store, in the current folder
DEMO_WEEK = "2025-W14"  # the sample's fullest week ("latest" is a one-article week)


def _demo_context(context: Context) -> Context:
    """The command's context with the demo's own store, digests folder and outbox, in
    DEMO_FOLDER emptied first, so that every run gives the same result."""
    real = context.settings
    folder = DEMO_FOLDER
    for name, path in (("BOT_DATABASE", real.database), ("BOT_DIGESTS_DIR", real.digests_dir),
                       ("BOT_OUTBOX", real.outbox)):
        if path.resolve().is_relative_to(folder.resolve()):
            raise InputError(f"{name} is {path}, inside {folder}/, which bot demo empties at "
                             f"each run; unset {name} to run the demo")
    try:
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    except OSError as exc:
        raise StoreError(f"{folder}: cannot make the demo's folder afresh "
                         f"({exc.strerror})") from None
    context.now()  # BOT_FAKE_NOW pinned first: the demo's context shares the same clock
    settings = replace(real, database=folder / "bot.sqlite3", database_is_default=False,
                       digests_dir=folder / "digests", outbox=folder / "outbox")
    return replace(context, _settings=settings)


def _echo_demo(settings: Settings, week: str, untouched: Path) -> None:
    """Where the demo's results are, and the command that serves its archive."""
    prefix = " ".join(f"{name}={shlex.quote(str(path))}" for name, path in (
        ("BOT_DATABASE", settings.database), ("BOT_DIGESTS_DIR", settings.digests_dir),
        ("BOT_OUTBOX", settings.outbox)))
    host = f"[{settings.web_host}]" if ":" in settings.web_host else settings.web_host
    click.echo(f"demo: everything is in {DEMO_FOLDER.resolve()}/, made afresh at each run "
               f"(your store {untouched} is untouched)")
    email = settings.digests_dir / week / "email.html"  # what bot serve shows of the week
    click.echo(f"  the week's web version: {email.resolve()}")
    for eml in sorted(settings.outbox.glob("*.eml")):
        click.echo(f"  the sample reader's email: {eml.resolve()}")
    click.echo(f"  to browse the demo's archive: {prefix} {_program()} serve")
    click.echo(f"  then open http://{host}:{settings.web_port}/archive/{week}/")
    click.echo(f"  any other command on the demo's store takes the same prefix: {prefix} "
               f"{_program()} articles list --week {week}")


def _program() -> str:
    """How this `bot` was called (`.venv/bin/bot` after the README's first command), so the
    command printed works as it is; `bot` when it cannot tell."""
    called = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    return shlex.quote(str(called)) if called is not None and called.name == "bot" else "bot"


def _preview(context: Context, week_text: str, countries: str | None) -> None:
    from bot.digest import resolve_week
    from bot.preview import preview_week

    now = context.now()
    wanted = frozenset(parse_country(c, field_name="--countries")
                       for c in (countries or "").split(",") if c.strip())
    with context.open_store() as store:
        week = resolve_week(week_text, now, context.settings.timezone,
                            store.newest_article_day())
        shown = preview_week(store, context.settings, week, wanted, now)
    if shown.digest.is_empty:
        click.echo(f"no articles in {week}", err=True)
        raise click.exceptions.Exit(1)
    _echo_preview(shown, context.settings.timezone)


def _echo_preview(shown: Preview, tz: ZoneInfo) -> None:
    from bot.digest import unreviewed
    from bot.render.i18n import country_name, week_label

    digest = shown.digest
    stored = shown.week.stored
    if stored is not None and stored.sent_at is not None:
        state = f"sent on {stored.sent_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    elif stored is not None:
        state = "being sent"
    elif shown.week_over:
        state = "not sent yet: its send freezes it"
    else:
        state = "live (the week is not over)"
    click.echo(f"{digest.week}: {week_label(digest.week, 'fr')} ({state})")
    if shown.week.is_final:
        click.echo("this week's digest was sent: showing the frozen copy, later articles "
                   "and edits are not in it")
    if digest.featured:
        click.echo(f"  À la une: {len(digest.featured)}")
    for section in digest.sections:
        click.echo(f"  {section.country.flag} {country_name(section.country, 'fr')}: "
                   f"{len(section.items)}")
    size = len(shown.email.html.encode())
    lines = plural(len(shown.email.text.splitlines()), "line")
    click.echo(f"email: {size / 1024:.1f} KB HTML, {lines} of text; "
               f"telegram: {plural(len(shown.parts), 'message')}")
    click.echo(f"{plural(shown.unlinked, 'article')} without a link")
    for line in shown.warnings:
        click.echo(f"warning: {one_line(line)}")
    if not shown.week.is_final:
        problems = unreviewed(digest)
        ids = " ".join(str(i) for i, _ in problems)
        click.echo("review: ready to send" if not problems else
                   f"review: not sendable until {plural(len(problems), 'article')} "
                   f"{'is' if len(problems) == 1 else 'are'} reviewed (bot articles edit, or "
                   f"bot articles approve {ids}; bot send --force sends anyway)")
    for path in shown.files:
        click.echo(f"wrote {path.resolve()}")
