"""`bot preview` and `bot demo`: a week's digest rendered for the editor to look at."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from bot.cli.articles import import_location
from bot.cli.group import Context, cli, pass_context
from bot.errors import one_line
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


@cli.command()
@pass_context
def demo(context: Context) -> None:
    """Import the bundled sample articles, preview their latest week, and send it to a sample
    reader through the local outbox."""
    from importlib.resources import as_file, files

    sample = files("bot") / "samples" / "articles-fr.txt"
    with as_file(sample) as path:
        import_location(context, str(path))
    _preview(context, "latest", None)
    from bot.cli.send_week import send_demo

    send_demo(context.settings, context.now)


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
    from bot.render.i18n import country_name, week_label

    digest = shown.digest
    stored = shown.week.stored
    if stored is not None and stored.sent_at is not None:
        state = f"sent on {stored.sent_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    elif stored is not None:
        state = "being sent" if stored.is_final else "frozen"
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
    messages = f"{len(shown.parts)} message" + ("s" if len(shown.parts) > 1 else "")
    click.echo(f"email: {size / 1024:.1f} KB HTML, {len(shown.email.text.splitlines())} "
               f"lines of text; telegram: {messages}")
    for line in shown.warnings:
        click.echo(f"warning: {one_line(line)}")
    for path in shown.files:
        click.echo(f"wrote {path.resolve()}")
