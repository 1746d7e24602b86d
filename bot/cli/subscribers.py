"""`bot subscribers add|remove|list|import`: the readers, as editors manage them."""

from __future__ import annotations

import json

import click

from bot.cli.group import Context, cli, columns, pass_context, plural


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
    columns(rows, ("ID", "CHANNEL", "STATUS", "LOCALE", "COUNTRIES", "ADDRESS"))
    click.echo(plural(len(found), "subscriber"))


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
