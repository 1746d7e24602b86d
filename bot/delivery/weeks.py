"""A week on its way out: the digest frozen, `sending`, then `sent` once every configured
channel is done; the channel of TELEGRAM_CHANNEL enrolled as a recipient; each channel's job
from the settings. `bot send` and `bot run` share these."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.archive import digest_for_week
from bot.config import Settings
from bot.delivery.email import EmailJob
from bot.digest import Digest, IsoWeek, resolve_week
from bot.errors import BotError, InputError
from bot.mail import Sender
from bot.model import Channel, Status
from bot.preview import masthead
from bot.store import Store, open_store
from bot.subscribers import NewSubscriber
from bot.tokens import load_or_create_secret

if TYPE_CHECKING:
    from bot.delivery.telegram import TelegramJob

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


class EmptyWeek(BotError):
    """The week asked for has no articles: there is nothing to send (exit 1)."""

    exit_code = 1


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
                       settings.newsletter_name, settings.telegram_channel)


def frozen_week(settings: Settings, now: dt.datetime, week_text: str,
                allow_live: bool = False) -> tuple[IsoWeek, Digest]:
    """The week to send and its digest, frozen (sending needs a frozen, finished week);
    `allow_live` accepts the current week, unfrozen, for a test copy."""
    with open_store(settings.database, create_folder=settings.database_is_default) as store:
        week = resolve_week(week_text, now, settings.timezone, store.newest_article_day())
        found = digest_for_week(store, week, now, settings.timezone)
    if found.digest.is_empty:
        raise EmptyWeek(f"no articles in {week}")
    if found.stored is None and not allow_live:
        raise InputError(f"{week} is not over yet; a digest is sent once its week has ended "
                         "(use --to for a test copy)")
    return week, found.digest


def begin_send(store: Store, settings: Settings, week: IsoWeek, now: dt.datetime) -> None:
    """A frozen week becomes `sending`; the channel of TELEGRAM_CHANNEL is a recipient."""
    stored = store.get_digest(str(week))
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
