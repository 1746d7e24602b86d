"""Domain values: countries and articles. Frozen dataclasses, no I/O."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.errors import InputError
from bot.folding import fold


class Country(enum.StrEnum):
    """A digest section: one of the five countries, the region as a whole, or elsewhere."""

    KZ = "KZ"
    KG = "KG"
    UZ = "UZ"
    TJ = "TJ"
    TM = "TM"
    REGION = "REGION"
    OTHER = "OTHER"

    @property
    def french_name(self) -> str:
        return _FRENCH_NAMES[self]

    @property
    def flag(self) -> str:
        return _FLAGS[self]


FIVE: tuple[Country, ...] = (Country.KZ, Country.KG, Country.UZ, Country.TJ, Country.TM)

_FRENCH_NAMES = {
    Country.KZ: "Kazakhstan",
    Country.KG: "Kirghizstan",
    Country.UZ: "Ouzbékistan",
    Country.TJ: "Tadjikistan",
    Country.TM: "Turkménistan",
    Country.REGION: "Asie centrale",
    Country.OTHER: "Autres",
}
_FLAGS = {
    Country.KZ: "🇰🇿",
    Country.KG: "🇰🇬",
    Country.UZ: "🇺🇿",
    Country.TJ: "🇹🇯",
    Country.TM: "🇹🇲",
    Country.REGION: "🌏",
    Country.OTHER: "🗞️",
}
_ALIASES = {
    "kz": Country.KZ, "kazakhstan": Country.KZ, "kazakstan": Country.KZ,
    "kg": Country.KG, "kirghizstan": Country.KG, "kirghizistan": Country.KG,
    "kyrgyzstan": Country.KG, "kirghizie": Country.KG,
    "uz": Country.UZ, "ouzbekistan": Country.UZ, "uzbekistan": Country.UZ,
    "tj": Country.TJ, "tadjikistan": Country.TJ, "tajikistan": Country.TJ,
    "tm": Country.TM, "turkmenistan": Country.TM, "turkmenie": Country.TM,
    "region": Country.REGION, "asie centrale": Country.REGION, "central asia": Country.REGION,
    "other": Country.OTHER, "autres": Country.OTHER, "autre": Country.OTHER,
}


def parse_country(value: str, *, field_name: str = "country") -> Country:
    """A country from its code or a French or English name, any case, accents optional."""
    key = " ".join(fold(value).replace("-", " ").split())
    if key in _ALIASES:
        return _ALIASES[key]
    valid = ", ".join(c.value for c in Country)
    raise InputError(f"{field_name}: unknown country {value!r}; use one of {valid} or a name")


class DateSource(enum.StrEnum):
    """Where an article's date came from, most trustworthy first."""

    EXPLICIT = "explicit"  # given by the source (feed entry, JSON field)
    EDITOR = "editor"  # set by an editor with `bot articles edit`
    TEXT = "text"  # a French date written in the lead
    NEIGHBOUR = "neighbour"  # borrowed from the nearest dated item in listing order
    IMPORT = "import"  # the import day, for want of anything better


class ArticleDraft(NamedTuple):
    """One parsed record, before tagging; `location` names its file and line or entry.
    (Drafts and new articles are tuples: a big import makes hundreds of thousands, and a
    frozen dataclass costs twice as much to build.)"""

    location: str
    title: str
    lead: str
    source: str
    url: str | None = None
    guid: str | None = None
    published: dt.date | None = None
    published_at: dt.datetime | None = None
    country: Country | None = None
    needs_review: str | None = None


class NewArticle(NamedTuple):
    """A tagged draft, ready to be stored."""

    title: str
    lead: str
    source: str
    url: str | None
    guid: str | None
    published: dt.date
    published_at: dt.datetime | None
    date_source: DateSource
    country: Country
    countries: tuple[Country, ...]
    needs_review: str | None
    content_hash: str
    location: str = ""
    # The title's `bot.folding.title_key`, worked out while tagging; "" for a title made up
    # from the lead (it matches nothing); None: the store folds the title itself.
    title_key: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """An article as the store holds it."""

    id: int
    title: str
    lead: str
    source: str
    url: str | None
    published: dt.date
    published_at: dt.datetime | None
    date_source: DateSource
    country: Country
    countries: tuple[Country, ...]
    featured: bool
    needs_review: str | None
    content_hash: str
    imported_at: dt.datetime
    guid: str | None = None
    edited_at: dt.datetime | None = field(default=None)

    def as_json(self) -> dict[str, object]:
        """The fields `bot articles list --json` prints, in a stable order."""
        return {
            "id": self.id,
            "title": self.title,
            "lead": self.lead,
            "url": self.url,
            "published": self.published.isoformat(),
            "date_source": self.date_source.value,
            "country": self.country.value,
            "countries": [c.value for c in self.countries],
            "needs_review": self.needs_review,
            "featured": self.featured,
        }


class Channel(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"


class Status(enum.StrEnum):
    """A subscriber's standing: only `active` ones receive the digest."""

    PENDING = "pending"  # waiting for the owner to confirm (double opt-in)
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the mail server refused the address for good
    BLOCKED = "blocked"  # the Telegram user blocked the bot


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A reader: an email address or a Telegram chat id, and what they follow."""

    id: int
    channel: Channel
    address: str
    locale: str
    countries: frozenset[Country]  # empty: every section
    status: Status
    consent_source: str | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    unsubscribed_at: dt.datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "channel": self.channel.value, "address": self.address,
                "locale": self.locale, "countries": sorted(c.value for c in self.countries),
                "status": self.status.value, "consent_source": self.consent_source,
                "created_at": self.created_at.isoformat(),
                "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None}
