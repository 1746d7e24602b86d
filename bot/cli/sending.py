"""`bot send` and `bot stats`: a week out to its readers, and how that went. The work is in
`bot.cli.send_week`, loaded only when a send runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.group import Context, cli, pass_context, plural
from bot.model import Channel

if TYPE_CHECKING:
    from bot.digest import Digest


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
@click.option("--force", is_flag=True,
              help="Send even if articles of the week still need review.")
@pass_context
def send(context: Context, week_text: str, latest: bool, channel: str, to: str | None,
         dry_run: bool, force: bool) -> None:
    """Send a week's digest to every active subscriber, resumably: run it again after a
    crash and it goes on where it stopped, never sending anyone a second copy. A week that
    holds an article needing review is not sent (exit 1) unless --force."""
    from bot.cli.send_week import send_command

    send_command(context.settings, context.now, "latest" if latest else week_text, to, dry_run,
                 channel, force)


@cli.command()
@click.option("--week", "week_text", help="An ISO week; the latest digest by default.")
@pass_context
def stats(context: Context, week_text: str | None) -> None:
    """The next scheduled send, subscribers by channel and status, and a digest's delivery
    ledger."""
    from bot.digest import assemble_week, digest_from_json, parse_week
    from bot.store import ArticleQuery
    from bot.timing import describe, next_slot, week_of_slot

    s = context.settings
    upcoming = next_slot(context.now(), s.send_at, s.timezone)
    click.echo(f"next send: {describe(upcoming, s.timezone)} "
               f"({week_of_slot(upcoming, s.timezone)}; BOT_SEND_AT={s.send_at})")
    with context.open_store() as store:
        for (channel, status), count in sorted(store.count_subscribers().items()):
            click.echo(f"subscribers {channel} {status}: {count}")
        week = str(parse_week(week_text)) if week_text else store.latest_digest_week()
        stored = store.get_digest(week) if week else None
        if week is not None and stored is None:  # the week asked, as the store has it now
            iso = parse_week(week)
            found = store.list_articles(ArticleQuery(since=iso.monday, until=iso.next_monday))
            _echo_unlinked(assemble_week(found, iso, article_link=s.article_link))
        if week is None or stored is None:
            click.echo(f"digest {week}: not sent" if week else "no digest sent yet")
            return
        digest_id = store.digest_id(week)
        counts = {channel: store.delivery_counts(digest_id, channel) for channel in Channel}
    state = stored.status
    _echo_unlinked(digest_from_json(stored.snapshot))
    click.echo(f"digest {week} ({state}): " + ("; ".join(
        f"{channel} " + ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
        for channel, found in counts.items() if found) or "not sent"))


def _echo_unlinked(digest: Digest) -> None:
    """"digest 2025-W34: 3 articles without a link": no URL, and no BOT_ARTICLE_LINK when it
    was assembled."""
    unlinked = sum(1 for i in digest.items if not i.url)
    click.echo(f"digest {digest.week}: {plural(unlinked, 'article')} without a link")
