"""What `bot send` and `bot demo` do: resolve and freeze the week, run each channel through
its ledger with progress on a terminal, and a summary at the end. Called by the CLI with
its clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable

import click

from bot.cli.group import plural
from bot.config import Settings
from bot.delivery.email import EmailSend
from bot.delivery.ledger import SendReport
from bot.delivery.mail_transport import Outbox, Transport, open_transport
from bot.delivery.weeks import (
    EmptyWeek,
    begin_send,
    email_job,
    frozen_week,
    mark_if_sent,
    sender_lease,
    telegram_job,
)
from bot.digest import Digest, IsoWeek, unreviewed
from bot.errors import InputError
from bot.links import week_page
from bot.mail import digest_message
from bot.model import Channel, Status
from bot.render.email import render_email
from bot.render.telegram import render_telegram
from bot.store import open_store
from bot.subscribers import NewSubscriber, normalize_chat_id, normalize_email

DEMO_READER = "lecteur@example.org"
Clock = Callable[[], dt.datetime]


def send_command(settings: Settings, clock: Clock, week_text: str, to: str | None,
                 dry_run: bool, channel: str = "email", force: bool = False) -> None:
    """`bot send`: `channel` is email, telegram or all (Telegram only when configured)."""
    telegram_on = settings.telegram_bot_token is not None
    if channel in {"telegram", "all"} and not telegram_on:
        click.echo("telegram: off (TELEGRAM_BOT_TOKEN is not set)")
        if channel == "telegram":
            return
    week, digest = _frozen_week(settings, clock, week_text, allow_live=bool(to),
                                freeze=not dry_run, force=force or dry_run)
    if to:
        if channel == "telegram" or (channel == "all" and _looks_like_chat(to)):
            if not telegram_on:
                raise InputError(f"--to {to}: a Telegram chat, but TELEGRAM_BOT_TOKEN is not set")
            send_telegram_test_copy(settings, week, digest, normalize_chat_id(to))
        else:
            send_test_copy(settings, clock, week, digest, normalize_email(to))
        return
    wanted = [] if channel == "telegram" else [Channel.EMAIL]
    if channel in {"telegram", "all"} and telegram_on:
        wanted.append(Channel.TELEGRAM)
    if dry_run:
        for each in wanted:
            count_recipients(settings, digest, each)
        for _, problem in unreviewed(digest):
            click.echo(f"needs review: {problem} (bot send will not send the week before it is "
                       "reviewed, unless --force)")
        return
    with sender_lease(settings, clock):  # a bot run on this store stands by meanwhile
        for each in wanted:
            if each is Channel.EMAIL:
                run_send(settings, clock, week, digest,
                         open_transport(settings.smtp_url, settings.outbox))
            else:
                run_telegram(settings, clock, week, digest)


def _frozen_week(settings: Settings, clock: Clock, week_text: str, *, allow_live: bool = False,
                 freeze: bool = True, force: bool = False) -> tuple[IsoWeek, Digest]:
    """The week and its frozen digest; a week with no articles says so and exits 1."""
    try:
        return frozen_week(settings, clock(), week_text, allow_live=allow_live, freeze=freeze,
                           force=force)
    except EmptyWeek as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from None


def _looks_like_chat(value: str) -> bool:
    text = value.strip()
    return text.startswith("@") or text.lstrip("-").isdigit()


def send_test_copy(settings: Settings, clock: Clock, week: IsoWeek, digest: Digest,
                   address: str) -> None:
    job = email_job(settings, week)
    front = settings.public_url.rstrip("/") + "/"
    message = digest_message(render_email(digest, job.masthead), job.sender, address, str(week),
                             0, front, front, clock())
    transport = open_transport(settings.smtp_url, settings.outbox)
    try:
        transport.send(message)
    finally:
        transport.close()
    click.echo(f"sent a test copy of {week} to {address} through {transport.describe()}")


def count_recipients(settings: Settings, digest: Digest,
                     channel: Channel = Channel.EMAIL) -> None:
    would, empty = 0, 0
    with open_store(settings.database) as store:
        for subscriber in store.list_subscribers(channel, Status.ACTIVE):
            if digest.only(subscriber.countries).is_empty:
                empty += 1
            else:
                would += 1
    if channel is Channel.TELEGRAM and settings.telegram_channel:
        would += 1 - bool(store_has_chat(settings, settings.telegram_channel))
    kind = "email subscriber" if channel is Channel.EMAIL else "Telegram chat"
    click.echo(f"dry run: {digest.week} would go to {plural(would, kind)}; {empty} "
               "skipped (nothing in the sections they follow); nothing was sent")


def store_has_chat(settings: Settings, chat: str) -> bool:
    with open_store(settings.database) as store:
        found = store.find_subscriber(Channel.TELEGRAM, chat)
    return found is not None and found.status is Status.ACTIVE


def run_send(settings: Settings, clock: Clock, week: IsoWeek, digest: Digest,
             transport: Transport) -> SendReport:
    _start_sending(settings, clock, week, digest)
    progress = _Progress()
    sender = EmailSend(settings.database, str(week), digest, email_job(settings, week),
                       transport, clock, on_progress=progress.step, on_start=progress.start)
    report = sender.run()
    progress.done()
    _conclude(settings, clock, week, report, "by email",
              interrupted=sender.interrupted and sender.failure is None)
    return report


def _start_sending(settings: Settings, clock: Clock, week: IsoWeek, digest: Digest) -> None:
    with open_store(settings.database) as store:
        begin_send(store, settings, week, digest, clock())


def _conclude(settings: Settings, clock: Clock, week: IsoWeek, report: SendReport, how: str,
              *, interrupted: bool) -> None:
    """The summary line; the digest marked sent when every channel is done; exit 1 when a
    signal stopped the send."""
    if report.already_done:
        click.echo(f"{week} was already sent {how}; nothing to do ({_counts(report)})")
    else:
        click.echo(f"{week} {how}: {_counts(report)}"
                   + (f"; next attempt {report.next_attempt:%Y-%m-%d %H:%M %Z}"
                      if report.next_attempt and not report.finished else ""))
    if report.finished:
        mark_if_sent(settings, clock, week)
    elif interrupted:
        click.echo("stopped before the end; run the same bot send again to finish (nobody "
                   "will get the same message twice)", err=True)
        raise click.exceptions.Exit(1)


def run_telegram(settings: Settings, clock: Clock, week: IsoWeek,
                 digest: Digest) -> SendReport:
    """The Telegram broadcast of a frozen week, the channel of TELEGRAM_CHANNEL included."""
    _start_sending(settings, clock, week, digest)
    progress = _Progress()
    from bot.delivery.telegram import TelegramSend

    sender = TelegramSend(settings.database, str(week), digest, telegram_job(settings), clock,
                          on_progress=progress.step, on_start=progress.start)
    report = asyncio.run(sender.run())
    progress.done()
    _conclude(settings, clock, week, report, "on Telegram", interrupted=sender.interrupted)
    return report


def send_telegram_test_copy(settings: Settings, week: IsoWeek, digest: Digest,
                            chat: str) -> None:
    parts = render_telegram(digest, settings.newsletter_name,
                            archive_url=week_page(settings.public_url, week))
    from bot.delivery.telegram import send_test_copy

    count = asyncio.run(send_test_copy(telegram_job(settings), chat, parts))
    click.echo(f"sent a test copy of {week} to the Telegram chat {chat} "
               f"({plural(count, 'message')})")


def send_demo(settings: Settings, clock: Clock, week_text: str) -> IsoWeek:
    """Send a past week to a sample reader through the outbox folder (never a real relay),
    as `bot send` does: frozen, then through the ledger. `settings` are the demo's own."""
    week, digest = _frozen_week(settings, clock, week_text)
    with open_store(settings.database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, DEMO_READER, "fr", frozenset())],
                              Status.ACTIVE, "demo", clock())
    run_send(settings, clock, week, digest, Outbox(settings.outbox))
    return week


def _counts(report: SendReport) -> str:
    order = ("sent", "skipped", "failed", "pending", "sending")
    return ", ".join(f"{report.counts[k]} {k}" for k in order if report.counts.get(k)) or \
        "no recipients"


class _Progress:
    """A bar on a terminal; a plain line every 500 messages otherwise."""

    WIDTH = 30

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.total = 0
        self.count = 0
        self.outcomes: dict[str, int] = {}

    def start(self, total: int, done: int) -> None:
        self.total, self.count = total, done

    def step(self, outcome: str) -> None:
        self.count += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.tty:
            filled = self.WIDTH * self.count // max(self.total, 1)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            click.echo(f"\r[{bar}] {self.count}/{self.total} "
                       + " ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())),
                       nl=False)
        elif self.count % 500 == 0:
            click.echo(f"{self.count}/{self.total} done")

    def done(self) -> None:
        if self.tty and self.count:
            click.echo("")
