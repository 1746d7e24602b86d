"""A week on its way out: the digest frozen, `sending`, then `sent` once every configured
channel is done; the channel of TELEGRAM_CHANNEL enrolled as a recipient; each channel's job
from the settings. `bot send` and `bot run` share these."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bot.archive import digest_for_week, show_week
from bot.config import Settings
from bot.delivery.email import EmailJob
from bot.delivery.ledger import dead_holders, holder_name
from bot.digest import Digest, IsoWeek, resolve_week, unreviewed
from bot.errors import BotError, InputError
from bot.mail import Sender
from bot.model import Channel, Status
from bot.preview import masthead
from bot.publish import is_published, publish_week
from bot.store import Store, open_store
from bot.subscribers import NewSubscriber
from bot.tokens import load_or_create_secret

if TYPE_CHECKING:
    from bot.delivery.telegram import TelegramJob

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


SENDER_LEASE = "sender"  # one process sends at a time: `bot run`'s checks or a `bot send`
LEASE_TTL = dt.timedelta(seconds=60)  # renewed every LEASE_TTL / 4 while held


class SenderBusy(BotError):
    """Another process holds the sender lease: this one sends nothing (exit 1)."""

    exit_code = 1


class EmptyWeek(BotError):
    """The week asked for has no articles: there is nothing to send (exit 1)."""

    exit_code = 1


class NeedsReview(BotError):
    """The week holds articles an editor has not reviewed: nothing is sent (exit 1)."""

    exit_code = 1

    def __init__(self, week: IsoWeek, problems: list[str], ids: list[int]) -> None:
        count = f"{len(problems)} article" + ("s" if len(problems) > 1 else "")
        super().__init__(f"{week} holds {count} that need"
                         + ("" if len(problems) > 1 else "s") + " review; nothing was sent")
        self.week = week
        self.problems = problems
        self.ids = ids

    def lines(self) -> list[str]:
        numbers = " ".join(str(i) for i in self.ids)
        return [str(self), *self.problems,
                f"fix: bot articles edit ID --title … (or --country, --date), or send them as "
                f"they are: bot articles approve {numbers}; bot send --week {self.week} "
                "--force sends the week anyway"]


def check_reviewed(week: IsoWeek, digest: Digest) -> None:
    """The review gate: NeedsReview unless every article of `digest` was reviewed."""
    problems = unreviewed(digest)
    if problems:
        raise NeedsReview(week, [line for _, line in problems], [i for i, _ in problems])


def email_job(settings: Settings, week: IsoWeek) -> EmailJob:
    secret = load_or_create_secret(settings.secret_key, settings.database.parent)
    return EmailJob(Sender(settings.mail_from, settings.newsletter_name,
                           settings.mail_unsubscribe),
                    masthead(settings, week), settings.public_url, secret,
                    settings.email_rate, settings.email_concurrency)


def telegram_job(settings: Settings) -> TelegramJob:
    from bot.delivery.telegram import TelegramJob  # python-telegram-bot: loaded when used

    assert settings.telegram_bot_token is not None
    return TelegramJob(settings.telegram_bot_token, settings.telegram_api_url,
                       settings.newsletter_name, settings.telegram_channel,
                       public_url=settings.public_url)


def frozen_week(settings: Settings, now: dt.datetime, week_text: str, *,
                allow_live: bool = False, freeze: bool = True,
                force: bool = False) -> tuple[IsoWeek, Digest]:
    """The week to send and its digest, frozen (`freeze`: a send's; a dry run freezes
    nothing). A week is sent once it is over (`allow_live`: a test copy, any week) and once
    every article was reviewed (`force` skips the gate; a week whose send began is past it)."""
    with open_store(settings.database, create_folder=settings.database_is_default) as store:
        week = resolve_week(week_text, now, settings.timezone, store.newest_article_day())
        found = (digest_for_week if freeze and not allow_live else show_week)(
            store, week, now, settings.timezone, article_link=settings.article_link)
    if found.digest.is_empty:
        raise EmptyWeek(f"no articles in {week}")
    if not allow_live and now < week.window(settings.timezone)[1]:
        raise InputError(f"{week} is not over yet; a digest is sent once its week has ended "
                         "(use --to for a test copy)")
    if not (force or allow_live or found.is_final):
        check_reviewed(week, found.digest)
    return week, found.digest


def begin_send(store: Store, settings: Settings, week: IsoWeek, digest: Digest,
               now: dt.datetime) -> None:
    """A frozen week becomes `sending`, published first (`digests/<week>/`, whose page every
    message links to); the channel of TELEGRAM_CHANNEL is a recipient."""
    stored = store.get_digest(str(week))
    if stored is not None and (stored.status == "frozen" or not is_published(settings, week)):
        publish_week(settings, week, digest)
    if stored is not None and stored.status == "frozen":
        store.mark_digest(str(week), "sending", now)
    if settings.telegram_bot_token and settings.telegram_channel:
        enroll_channel(store, settings.telegram_channel, now)


def mark_if_sent(settings: Settings, clock: Clock, week: IsoWeek) -> None:
    """The digest is `sent` once every configured channel is done with it."""
    channels = [Channel.EMAIL] + ([Channel.TELEGRAM] if settings.telegram_bot_token else [])
    with open_store(settings.database) as store:
        digest_id = store.digest_id(str(week))
        if all(_channel_done(store, digest_id, channel, settings) for channel in channels):
            store.mark_digest(str(week), "sent", clock())


def _channel_done(store: Store, digest_id: int, channel: Channel, settings: Settings) -> bool:
    counts = store.delivery_counts(digest_id, channel)
    if counts:
        return not counts.get("pending") and not counts.get("sending")
    # Never sent on this channel: done only if there was nobody to send it to.
    readers = next(iter(store.list_subscribers(channel, Status.ACTIVE)), None)
    return readers is None and not (channel is Channel.TELEGRAM and settings.telegram_channel)


def enroll_channel(store: Store, channel: str, now: dt.datetime) -> None:
    """TELEGRAM_CHANNEL is a subscriber like any other, following every section; set in the
    settings, it is active again even if a send found the bot locked out of it before."""
    _, known = store.add_subscribers(
        [NewSubscriber(Channel.TELEGRAM, channel, "fr", frozenset())], Status.ACTIVE,
        "settings (TELEGRAM_CHANNEL)", now)
    for subscriber in known:
        if subscriber.status is not Status.ACTIVE:
            log.warning("the channel %s was %s; it is set in TELEGRAM_CHANNEL, so it gets the "
                        "digest again", channel, subscriber.status)
            store.set_subscriber_status(subscriber.id, Status.ACTIVE, now)


@contextlib.contextmanager
def sender_lease(settings: Settings, clock: Clock) -> Iterator[str]:
    """Hold the store's sender lease while the block runs (renewed by a thread), so that a
    `bot run` on the same store stands by meanwhile; SenderBusy when another live process
    holds it. Yields this process's holder name."""
    holder = holder_name()
    with open_store(settings.database) as store:
        held = store.lease(SENDER_LEASE)
        dead = dead_holders([held.holder]) if held else []
        if not store.take_lease(SENDER_LEASE, holder, clock(), LEASE_TTL, dead):
            assert held is not None
            since = f" since {held.since.astimezone(settings.timezone):%Y-%m-%d %H:%M %Z}" \
                if held.since else ""
            host, _, pid = held.holder.rpartition(":")
            raise SenderBusy(f"another process sends from this store: pid {pid} on {host}"
                             f"{since} (bot run, or a bot send); nothing was sent")
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_TTL.total_seconds() / 4):
            with open_store(settings.database) as store:
                if not store.take_lease(SENDER_LEASE, holder, clock(), LEASE_TTL):
                    log.error("the sender lease was taken by another process")
                    return

    renewer = threading.Thread(target=renew, name="sender-lease", daemon=True)
    renewer.start()
    try:
        yield holder
    finally:
        stop.set()
        renewer.join()
        with open_store(settings.database) as store:
            store.drop_lease(SENDER_LEASE, holder)
