"""The addresses a reader follows: their signed links (confirm, unsubscribe, preferences),
and a week's page on the web archive."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import Subscriber
from bot.tokens import sign


@dataclass(frozen=True, slots=True)
class ReaderLinks:
    """Each link is signed when asked for (a digest needs two of the three)."""

    base: str
    secret: str
    subscriber: Subscriber

    def link(self, purpose: str) -> str:
        token = sign(self.secret, purpose, self.subscriber.id, self.subscriber.address)
        return f"{self.base}/{purpose}/{token}"

    @property
    def confirm(self) -> str:
        return self.link("confirm")

    @property
    def unsubscribe(self) -> str:
        return self.link("unsubscribe")

    @property
    def preferences(self) -> str:
        return self.link("preferences")


def reader_links(public_url: str, secret: str, subscriber: Subscriber) -> ReaderLinks:
    return ReaderLinks(public_url.rstrip("/"), secret, subscriber)


def week_page(public_url: str, week: object) -> str:
    """A week's web version, `<BOT_PUBLIC_URL>/archive/2025-W14/`."""
    return f"{public_url.rstrip('/')}/archive/{week}/"
