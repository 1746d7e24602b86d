"""The `bot` command: a thin click layer over the library. The only place that reads the
real clock, the environment and `.env`, and that turns `BotError` into exit code 2."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from bot.config import Settings
from bot.errors import BotError, InputError, one_line
from bot.model import Article, Channel, Country, NewArticle, parse_country
from bot.store import ArticleQuery, Store, open_store

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from bot.preview import Preview


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


@cli.command("import")
@click.argument("location", metavar="PATH|URL")
@click.option("--format", "fmt", type=click.Choice(["listing", "feed", "jsonl"]),
              help="Input format; guessed from the content when not given.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the good records; write the bad ones, with reasons, to "
                   "PATH.rejects next to the input.")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@pass_context
def import_command(context: Context, location: str, fmt: str | None, skip_invalid: bool,
                   dry_run: bool) -> None:
    """Import articles from a listing, an RSS/Atom feed or JSON lines (file or URL)."""
    _import(context, location, fmt, skip_invalid, dry_run)


def _import(context: Context, location: str, fmt: str | None = None,
            skip_invalid: bool = False, dry_run: bool = False) -> None:
    from bot.errors import ImportRejected
    from bot.ingest import load
    from bot.rejects import write_rejects

    now = context.now()
    batch = load(location, fmt, context.settings.timezone, now.date())
    if batch.errors and not skip_invalid:
        raise ImportRejected(batch.errors)
    with context.open_store() as store:
        if dry_run:
            tagged = list(batch.articles())
            stored = store.find_stored(tagged)
            _echo_drafts(tagged, stored)
            new = sum(a.content_hash not in stored for a in tagged)
            click.echo(f"dry run: {new} new, {len(tagged) - new} already in the "
                       f"store, {len(batch.errors)} rejected; nothing was written")
            return
        if batch.errors:
            path = write_rejects(batch.source, batch.errors, now)
            click.echo(f"{len(batch.errors)} bad records skipped, written to {path}", err=True)
        # Tagging streams into the store: big imports write while workers still read.
        result = store.insert_articles(batch.articles(), now)
    review = sum(1 for d in batch.drafts if d.needs_review)
    click.echo(f"{batch.source.name}: {len(result.inserted)} new articles, "
               f"{len(result.duplicates)} already in the store ({batch.format})"
               + (f"; {review} need review: bot articles list --needs-review" if review else ""))


@cli.group()
def articles() -> None:
    """List and correct the stored articles."""


@articles.command("list")
@click.option("--week", help='An ISO week, like "2025-W34".')
@click.option("--country", help="A country code (KZ KG UZ TJ TM REGION OTHER) or name.")
@click.option("--needs-review", is_flag=True, help="Only articles an editor should check.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many articles.")
@pass_context
def list_articles(context: Context, week: str | None, country: str | None,
                  needs_review: bool, as_json: bool, limit: int | None) -> None:
    """List articles, newest first."""
    from bot.digest import parse_week

    iso = parse_week(week) if week else None
    query = ArticleQuery(
        since=iso.monday if iso else None, until=iso.next_monday if iso else None,
        country=parse_country(country, field_name="--country") if country else None,
        needs_review=needs_review, limit=limit,
    )
    with context.open_store() as store:
        found = store.list_articles(query)
    if as_json:
        out = "".join(json.dumps(a.as_json(), ensure_ascii=False) + "\n" for a in found)
        click.echo(out, nl=False)
    else:
        _echo_articles(found)


@articles.command("edit")
@click.argument("article_id", metavar="ID", type=int)
@click.option("--country", help="The section it belongs in: a code or a name.")
@click.option("--date", "day", help="Its date, like 2025-08-21.")
@click.option("--title", help="A corrected title.")
@click.option("--feature/--no-feature", default=None, help="Put it in « À la une », or not.")
@pass_context
def edit_article(context: Context, article_id: int, country: str | None, day: str | None,
                 title: str | None, feature: bool | None) -> None:
    """Correct an article's country, date, title or featured flag; clears needs-review."""
    new_country: Country | None = parse_country(country, field_name="--country") \
        if country else None
    published = _parse_day(day) if day else None
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise InputError("--title must not be blank")
    with context.open_store() as store:
        article = store.edit_article(article_id, context.now(), title=title,
                                     country=new_country, published=published,
                                     featured=feature)
    _echo_articles([article])


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
        _import(context, str(path))
    _preview(context, "latest", None)
    from bot.sending import send_demo

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


@cli.command()
@click.option("--week", "week_text", default="last", show_default=True,
              help='"2025-W34", "latest" or "last" (the last complete week).')
@click.option("--latest", is_flag=True, help='Same as --week latest.')
@click.option("--channel", type=click.Choice(["email", "telegram", "all"]), default="all",
              show_default=True)
@click.option("--to", "to", metavar="ADDRESS",
              help="Send one test copy to this email address or Telegram chat id (@channel); "
                   "the ledger and subscribers are untouched.")
@click.option("--dry-run", is_flag=True, help="Count what would go out; send nothing.")
@pass_context
def send(context: Context, week_text: str, latest: bool, channel: str, to: str | None,
         dry_run: bool) -> None:
    """Send a week's digest to every active subscriber, resumably: run it again after a
    crash and it goes on where it stopped, never sending anyone a second copy."""
    from bot.sending import send_command

    send_command(context.settings, context.now, "latest" if latest else week_text, to, dry_run,
                 channel)


@cli.command()
@click.option("--week", "week_text", help="An ISO week; the latest digest by default.")
@pass_context
def stats(context: Context, week_text: str | None) -> None:
    """The next scheduled send, subscribers by channel and status, and a digest's delivery
    ledger."""
    from bot.timing import describe, next_slot, week_of_slot

    s = context.settings
    upcoming = next_slot(context.now(), s.send_at, s.timezone)
    click.echo(f"next send: {describe(upcoming, s.timezone)} "
               f"({week_of_slot(upcoming, s.timezone)}; BOT_SEND_AT={s.send_at})")
    with context.open_store() as store:
        for (channel, status), count in sorted(store.count_subscribers().items()):
            click.echo(f"subscribers {channel} {status}: {count}")
        week = week_text or store.latest_digest_week()
        if week is None:
            click.echo("no digest frozen yet")
            return
        digest_id = store.digest_id(week)
        counts = {channel: store.delivery_counts(digest_id, channel) for channel in Channel}
        stored = store.get_digest(week)
    state = stored.status if stored else "?"
    click.echo(f"digest {week} ({state}): " + ("; ".join(
        f"{channel} " + ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
        for channel, found in counts.items() if found) or "not sent"))


@cli.group()
def subscribers() -> None:
    """Add, remove, list and import readers (email addresses or Telegram chat ids)."""


_channel_option = click.option("--channel", type=click.Choice(["email", "telegram"]),
                               default="email", show_default=True)


@subscribers.command("add")
@click.argument("address")
@_channel_option
@click.option("--countries", help="Sections followed, comma-separated (KZ,UZ); all if unset.")
@click.option("--locale", default="fr", show_default=True, help="fr, en or ru.")
@pass_context
def add_subscriber(context: Context, address: str, channel: str, countries: str | None,
                   locale: str) -> None:
    """Add an active subscriber (the editor vouches for their consent)."""
    from bot.model import Channel, Status
    from bot.subscribers import NewSubscriber, normalize_address, parse_countries, parse_locale

    kind = Channel(channel)
    new = NewSubscriber(kind, normalize_address(kind, address), parse_locale(locale),
                        parse_countries(countries))
    with context.open_store() as store:
        added, known = store.add_subscribers([new], Status.ACTIVE, "editor", context.now())
    if known:
        click.echo(f"{new.address} is already a subscriber ({known[0].status.value}); "
                   "nothing changed")
    else:
        click.echo(f"added {new.address} (id {added[0].id})")


@subscribers.command("remove")
@click.argument("address")
@_channel_option
@pass_context
def remove_subscriber(context: Context, address: str, channel: str) -> None:
    """Unsubscribe a reader now (the row is kept, as `unsubscribed`)."""
    from bot.errors import NotFound
    from bot.model import Channel, Status
    from bot.subscribers import normalize_address

    kind = Channel(channel)
    normalized = normalize_address(kind, address)
    with context.open_store() as store:
        found = store.find_subscriber(kind, normalized)
        if found is None:
            raise NotFound(f"{normalized} is not a subscriber")
        store.set_subscriber_status(found.id, Status.UNSUBSCRIBED, context.now())
    click.echo(f"unsubscribed {normalized}")


@subscribers.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced",
                                             "blocked"]))
@click.option("--channel", type=click.Choice(["email", "telegram"]))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def list_subscribers(context: Context, status: str | None, channel: str | None,
                     as_json: bool) -> None:
    """List subscribers, oldest first."""
    from bot.model import Channel, Status

    with context.open_store() as store:
        found = list(store.list_subscribers(Channel(channel) if channel else None,
                                            Status(status) if status else None))
    if as_json:
        click.echo("".join(json.dumps(s.as_json(), ensure_ascii=False) + "\n" for s in found),
                   nl=False)
        return
    rows = [(str(s.id), s.channel.value, s.status.value, s.locale,
             " ".join(sorted(c.value for c in s.countries)) or "all", s.address) for s in found]
    _columns(rows, ("ID", "CHANNEL", "STATUS", "LOCALE", "COUNTRIES", "ADDRESS"))
    click.echo(f"{len(found)} subscribers")


@subscribers.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@_channel_option
@click.option("--skip-invalid", is_flag=True, help="Import the good rows; list the bad ones.")
@pass_context
def import_subscribers(context: Context, path: str, channel: str, skip_invalid: bool) -> None:
    """Import active subscribers from a CSV: address[,countries[,locale]] per row."""
    from bot.errors import ImportRejected
    from bot.ingest.source import decode_text, read_source
    from bot.model import Channel, Status
    from bot.subscribers import read_csv

    source = read_source(path)
    good, bad = read_csv(decode_text(source), source.name, Channel(channel))
    if bad and not skip_invalid:
        raise ImportRejected(bad)
    for error in bad:
        click.echo(f"skipped {error}", err=True)
    with context.open_store() as store:
        added, known = store.add_subscribers(good, Status.ACTIVE, f"import {source.short_name}",
                                             context.now())
    click.echo(f"{source.name}: {len(added)} added, {len(known)} already known (left as they "
               f"are), {len(bad)} rejected")


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
    from bot.channels.email import open_transport
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


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f'--date must look like "2025-08-21", got {value!r}') from None


def _columns(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    room = max(20, shutil.get_terminal_size((120, 20)).columns - sum(widths) - 2 * len(widths))
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        click.echo("  ".join([*cells, last]).rstrip())


def _echo_articles(found: list[Article]) -> None:
    rows = [(str(a.id), a.published.isoformat(), a.date_source.value, a.country.value,
             "★" if a.featured else "", a.needs_review or "", one_line(a.title)) for a in found]
    _columns(rows, ("ID", "DATE", "DATED BY", "COUNTRY", "", "REVIEW", "TITLE"))
    click.echo(f"{len(found)} articles")


def _echo_drafts(found: list[NewArticle], stored: set[str]) -> None:
    rows = [(a.location, a.published.isoformat(), a.date_source.value, a.country.value,
             "stored" if a.content_hash in stored else "new", a.needs_review or "",
             one_line(a.title)) for a in found]
    _columns(rows, ("FROM", "DATE", "DATED BY", "COUNTRY", "STATUS", "REVIEW", "TITLE"))


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="bot")


if __name__ == "__main__":
    main()
