"""`bot send` and `bot stats`: a week out to its readers, and how that went. The work is in
`bot.cli.send_week`, loaded only when a send runs."""

from __future__ import annotations

import click

from bot.cli.group import Context, cli, pass_context
from bot.model import Channel


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
    from bot.cli.send_week import send_command

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
