"""The signed addresses a reader follows: confirm, unsubscribe, preferences."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import Subscriber
from bot.tokens import sign


@dataclass(frozen=True, slots=True)
class ReaderLinks:
    confirm: str
    unsubscribe: str
    preferences: str


def reader_links(public_url: str, secret: str, subscriber: Subscriber) -> ReaderLinks:
    base = public_url.rstrip("/")

    def link(purpose: str) -> str:
        return f"{base}/{purpose}/{sign(secret, purpose, subscriber.id, subscriber.address)}"

    return ReaderLinks(link("confirm"), link("unsubscribe"), link("preferences"))
