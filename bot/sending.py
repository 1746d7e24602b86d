"""`bot send` and the demo's send: resolve and freeze the week, then run the email ledger,
with progress on a terminal and a summary at the end. Called by the CLI with its clock."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

import click

from bot.archive import digest_for_week
from bot.channels.email import Outbox, Transport, open_transport
from bot.config import Settings
from bot.digest import Digest, IsoWeek, resolve_week
from bot.dispatch import EmailJob, EmailSend, SendReport
from bot.errors import InputError
from bot.mail import Sender, digest_message
from bot.model import Channel, Status
from bot.preview import masthead
from bot.render.email import render_email
from bot.store import open_store
from bot.subscribers import NewSubscriber, normalize_email
from bot.tokens import load_or_create_secret

DEMO_READER = "lecteur@example.org"
Clock = Callable[[], dt.datetime]


def email_job(settings: Settings, week: IsoWeek) -> EmailJob:
    secret = load_or_create_secret(settings.secret_key, settings.database.parent)
    return EmailJob(Sender(settings.mail_from, settings.newsletter_name,
                           settings.mail_unsubscribe),
                    masthead(settings, week), settings.public_url, secret,
                    settings.email_rate, settings.email_concurrency)


def frozen_week(settings: Settings, clock: Clock, week_text: str,
                allow_live: bool = False) -> tuple[IsoWeek, Digest]:
    """The week to send and its digest, frozen (sending needs a frozen, finished week)."""
    now = clock()
    with open_store(settings.database, create_folder=settings.database_is_default) as store:
        week = resolve_week(week_text, now, settings.timezone, store.newest_article_day())
        found = digest_for_week(store, week, now, settings.timezone)
    if found.digest.is_empty:
        click.echo(f"no articles in {week}", err=True)
        raise click.exceptions.Exit(1)
    if found.stored is None and not allow_live:
        raise InputError(f"{week} is not over yet; a digest is sent once its week has ended "
                         "(use --to for a test copy)")
    return week, found.digest


def send_command(settings: Settings, clock: Clock, week_text: str, to: str | None,
                 dry_run: bool) -> None:
    week, digest = frozen_week(settings, clock, week_text, allow_live=bool(to))
    if to:
        send_test_copy(settings, clock, week, digest, normalize_email(to))
    elif dry_run:
        count_recipients(settings, digest)
    else:
        run_send(settings, clock, week, digest,
                 open_transport(settings.smtp_url, settings.outbox))


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


def count_recipients(settings: Settings, digest: Digest) -> None:
    would, empty = 0, 0
    with open_store(settings.database) as store:
        for subscriber in store.list_subscribers(Channel.EMAIL, Status.ACTIVE):
            if digest.only(subscriber.countries).is_empty:
                empty += 1
            else:
                would += 1
    click.echo(f"dry run: {digest.week} would go to {would} email subscribers; {empty} "
               "skipped (nothing in the sections they follow); nothing was sent")


def run_send(settings: Settings, clock: Clock, week: IsoWeek, digest: Digest,
             transport: Transport) -> SendReport:
    with open_store(settings.database) as store:
        stored = store.get_digest(str(week))
        if stored is not None and stored.status == "frozen":
            store.mark_digest(str(week), "sending", clock())
    progress = _Progress()
    sender = EmailSend(settings.database, str(week), digest, email_job(settings, week),
                       transport, clock, on_progress=progress.step, on_start=progress.start)
    report = sender.run()
    progress.done()
    if report.already_done:
        click.echo(f"{week} was already sent by email; nothing to do ({_counts(report)})")
    else:
        click.echo(f"{week} by email: {_counts(report)}"
                   + (f"; next attempt {report.next_attempt:%Y-%m-%d %H:%M %Z}"
                      if report.next_attempt and not report.finished else ""))
    if report.finished:
        with open_store(settings.database) as store:
            store.mark_digest(str(week), "sent", clock())
    elif sender.interrupted and sender.failure is None:
        click.echo("stopped before the end; run the same bot send again to finish (nobody "
                   "will get a second copy)", err=True)
        raise click.exceptions.Exit(1)
    return report


def send_demo(settings: Settings, clock: Clock) -> None:
    """Send the latest week to a sample reader through the outbox (never a real relay)."""
    week, digest = frozen_week(settings, clock, "latest")
    with open_store(settings.database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, DEMO_READER, "fr", frozenset())],
                              Status.ACTIVE, "demo", clock())
    run_send(settings, clock, week, digest, Outbox(settings.outbox))
    click.echo(f"the sample reader's email is in {settings.outbox.resolve()}")


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
