"""The digests the bot shows: /latest (the newest sent or being sent; never a preview) and an
admin's /apercu (the coming one). Rendered messages are cached per (digest version, locale,
sections): a stored digest's stamp is read without its snapshot, which is loaded, parsed and
rendered only when that version has not been seen yet."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from bot.archive import show_week
from bot.chat.words import _, html
from bot.digest import Digest, IsoWeek, digest_from_json, last_complete_week
from bot.links import week_page
from bot.model import Country
from bot.render.i18n import week_label
from bot.render.telegram import render_telegram
from bot.store import Store
from bot.store.digests import DigestStamp

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, make: Callable[[], V]) -> V:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = self.items[key] = make()
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


LATEST_MAX = 10  # messages /latest sends at most: the rest is on the web archive


def capped(messages: list[str], week: str, locale: str, public_url: str) -> list[str]:
    """At most LATEST_MAX messages: a reader asking for the digest in a private chat is not
    flooded (and Telegram wants about a message a second per chat); the last points to the
    whole digest on the web."""
    if len(messages) <= LATEST_MAX:
        return messages
    # The parts cut off include the last, which links the week's page itself: one link.
    rest = html(locale, _("La suite de ce résumé est en ligne : %(url)s"),
                url=week_page(public_url, week))
    return [*messages[:LATEST_MAX - 1], rest]


class LatestDigest:
    """The messages of the digest /latest shows, for each reader's language and sections."""

    def __init__(self, newsletter_name: str, public_url: str = "") -> None:
        self.newsletter_name = newsletter_name
        self.public_url = public_url
        self.digests: Lru[DigestStamp, Digest] = Lru(4)
        # 3 languages × the section sets readers really follow, for a couple of versions.
        self.messages: Lru[tuple[DigestStamp, str, frozenset[Country]], list[str]] = Lru(512)

    def messages_for(self, store: Store, locale: str,
                     countries: frozenset[Country]) -> list[str] | None:
        """The HTML messages, in order; None when no digest went out yet. A digest is shown
        from its send on (`sending`: its archive page, which a long one links, is written by
        then); never a preview."""
        stamp = store.latest_digest_stamp(("sending", "sent"))
        if stamp is None:
            return None

        def render() -> list[str]:
            digest = self.digests.get(stamp, lambda: _load(store, stamp))
            page = week_page(self.public_url, stamp.week) if self.public_url else None
            return capped(digest_messages(digest.only(countries), self.newsletter_name, locale,
                                          archive_url=page),
                          stamp.week, locale, self.public_url)

        return self.messages.get((stamp, locale, countries), render)


def _load(store: Store, stamp: DigestStamp) -> Digest:
    stored = store.get_digest(stamp.week)
    assert stored is not None  # digests are never deleted
    return digest_from_json(stored.snapshot)


def digest_messages(digest: Digest, newsletter_name: str, locale: str, *,
                    archive_url: str | None = None) -> list[str]:
    """The digest's Telegram parts (the last of several linking `archive_url`, the week's
    page); a reader's variant with nothing in it says so."""
    parts = [part.html for part in render_telegram(digest, newsletter_name, locale,
                                                   archive_url=archive_url)]
    if digest.is_empty:
        parts[-1] += "\n\n" + html(locale, _("Aucun article cette semaine-là dans les pays que "
                                             "vous suivez ; /pays pour en choisir d’autres."))
    return parts


@dataclass(frozen=True, slots=True)
class Coming:
    """The digest an admin previews, and whether it is the live current week."""

    digest: Digest
    live: bool


def coming_digest(store: Store, now: dt.datetime, zone: ZoneInfo, *,
                  article_link: str | None = None) -> Coming:
    """The last complete week while it is not sent (as it stands: a preview freezes
    nothing); once it went out, the current week as it stands."""
    last = show_week(store, last_complete_week(now, zone), now, zone,
                     article_link=article_link)
    if not last.is_final:
        return Coming(last.digest, live=False)
    current = IsoWeek.of(now.astimezone(zone).date())
    return Coming(show_week(store, current, now, zone, article_link=article_link).digest,
                  live=True)


def preview_messages(coming: Coming, newsletter_name: str, locale: str,
                     public_url: str = "") -> list[str]:
    """/apercu: a line saying which week this is, then its parts as readers will get them
    (the last of several linking the week's page, which its send publishes)."""
    if coming.digest.is_empty:
        return [html(locale, _("Rien à montrer : pas encore d’article (%(week)s)."),
                     week=week_label(coming.digest.week, locale))]
    intro = html(locale, _("Aperçu : la semaine en cours, telle qu’elle est maintenant (le "
                           "résumé de la semaine passée est parti).")) if coming.live else \
        html(locale, _("Aperçu du résumé de la semaine passée, pas encore envoyé :"))
    page = week_page(public_url, coming.digest.week) if public_url else None
    parts = [part.html for part in render_telegram(coming.digest, newsletter_name, locale,
                                                   archive_url=page)]
    return [intro, *parts]
