"""The weekly digest: week windows, assembly by country, and the frozen snapshot's JSON.

Pure: articles and a clock go in, values come out. The store and the archive folder are the
caller's business (`bot/freeze.py`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.errors import InputError, one_line
from bot.model import Article, Country

SCHEMA_VERSION = 1  # of digest.json; bump when its shape changes
MAX_FEATURED = 3
# Sections in reading order: the region first, the five in French alphabetical order, the rest.
SECTION_ORDER: tuple[Country, ...] = (Country.REGION, Country.KZ, Country.KG, Country.UZ,
                                      Country.TJ, Country.TM, Country.OTHER)
_WEEK = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    """An ISO 8601 week, Monday to Sunday: `2025-W34`."""

    year: int
    week: int

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def next_monday(self) -> dt.date:
        return self.monday + dt.timedelta(days=7)

    def shifted(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + dt.timedelta(weeks=weeks))

    def window(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """Monday 00:00 to the next Monday 00:00 in `tz`: 167 or 169 hours across a
        daylight-saving change, since each end is local midnight."""
        start = dt.datetime.combine(self.monday, dt.time(), tzinfo=tz)
        return start, dt.datetime.combine(self.next_monday, dt.time(), tzinfo=tz)

    @classmethod
    def of(cls, day: dt.date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)


def parse_week(value: str) -> IsoWeek:
    """`2025-W34` (or `2025W34`) → IsoWeek; a week that does not exist is an error."""
    match = _WEEK.fullmatch(value.strip())
    if match:
        year, week = int(match.group(1)), int(match.group(2))
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise InputError(f"--week: {value!r} does not exist; {year} has "
                             f"{dt.date(year, 12, 28).isocalendar()[1]} weeks") from None
        return IsoWeek(year, week)
    raise InputError(f'--week must look like "2025-W34", "latest" or "last", got {value!r}')


def last_complete_week(now: dt.datetime, tz: ZoneInfo) -> IsoWeek:
    """The week that ended most recently before `now` (local to `tz`)."""
    return IsoWeek.of(now.astimezone(tz).date()).shifted(-1)


def resolve_week(value: str, now: dt.datetime, tz: ZoneInfo,
                 newest_article_day: dt.date | None) -> IsoWeek:
    """A week from `2025-W34`, `latest` (the newest week with articles) or `last` (the last
    complete week before now)."""
    word = value.strip().lower()
    if word == "last":
        return last_complete_week(now, tz)
    if word == "latest":
        if newest_article_day is None:
            raise InputError("--week latest: the store has no articles yet; run bot import")
        return IsoWeek.of(newest_article_day)
    return parse_week(value)


@dataclass(frozen=True, slots=True)
class Item:
    """An article as a digest shows it: a copy, so later edits cannot change a frozen one."""

    id: int
    title: str
    lead: str
    url: str | None
    published: dt.date
    country: Country
    needs_review: str | None = None

    @classmethod
    def of(cls, article: Article, article_link: str | None = None) -> Item:
        """The item of `article`; with no URL, `article_link`'s (BOT_ARTICLE_LINK), if set."""
        url = article.url or (fill_link(article_link, article.title) if article_link else None)
        return cls(article.id, article.title, article.lead, url, article.published,
                   article.country, article.needs_review)


def fill_link(template: str, title: str) -> str:
    """`template` with `{title}` replaced by `title` URL-encoded, every reserved character
    included: "https://ex.org/?s={title}" → "https://ex.org/?s=Caf%C3%A9%20%26%20th%C3%A9"."""
    return template.replace("{title}", quote(title, safe=""))


@dataclass(frozen=True, slots=True)
class Section:
    country: Country
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """One week's digest: *À la une*, then the sections in `SECTION_ORDER`, none empty.

    Every article is in its country's section exactly once; a featured one is in *À la une*
    as well (À la une never empties a section)."""

    week: IsoWeek
    featured: tuple[Item, ...]
    sections: tuple[Section, ...]
    frozen_at: dt.datetime | None = None
    countries: frozenset[Country] = field(default_factory=frozenset)  # empty: every section

    @property
    def items(self) -> tuple[Item, ...]:
        """Every article once, in reading order: the featured first, then the sections' others
        (a featured article is listed in its section too, but counted here once)."""
        shown = {i.id for i in self.featured}
        return self.featured + tuple(i for s in self.sections for i in s.items
                                     if i.id not in shown)

    @property
    def is_empty(self) -> bool:
        return not self.featured and not self.sections

    def only(self, countries: Iterable[Country]) -> Digest:
        """The variant a reader following `countries` gets (all of them when empty)."""
        wanted = frozenset(countries)
        if not wanted:
            return self
        return replace(self, featured=tuple(i for i in self.featured if i.country in wanted),
                       sections=tuple(s for s in self.sections if s.country in wanted),
                       countries=wanted)


def assemble_week(articles: Sequence[Article], week: IsoWeek, *,
                  article_link: str | None = None) -> Digest:
    """The digest of `week` from `articles` (any; those outside the week are left out).

    Newest first inside a section, the store's order (the listing's) within a day; up to
    three featured articles also go to *À la une*, and stay listed in their own section.
    An article with no URL gets `article_link` (BOT_ARTICLE_LINK) filled with its title.
    """
    inside = sorted((a for a in articles if week.monday <= a.published < week.next_monday),
                    key=_reading_order)
    featured = tuple(Item.of(a, article_link) for a in inside if a.featured)[:MAX_FEATURED]
    return Digest(week, featured, _sections(Item.of(a, article_link) for a in inside))


def _reading_order(article: Article | Item) -> tuple[int, int]:
    """Newest first, then by id (the store's order, the listing's, within a day)."""
    return -article.published.toordinal(), article.id


def _sections(items: Iterable[Item]) -> tuple[Section, ...]:
    """`items` (in reading order) by country, in `SECTION_ORDER`, empty sections left out."""
    listed = list(items)
    found = (Section(c, tuple(i for i in listed if i.country is c)) for c in SECTION_ORDER)
    return tuple(s for s in found if s.items)


def digest_to_json(digest: Digest) -> str:
    """The snapshot written to the store and to `digests/<week>/digest.json`."""
    def item(i: Item) -> dict[str, object]:
        return {"id": i.id, "title": i.title, "lead": i.lead, "url": i.url,
                "published": i.published.isoformat(), "country": i.country.value,
                "needs_review": i.needs_review}

    return json.dumps({
        "schema_version": SCHEMA_VERSION,
        "week": str(digest.week),
        "frozen_at": digest.frozen_at.isoformat() if digest.frozen_at else None,
        "countries": sorted(c.value for c in digest.countries),
        "featured": [item(i) for i in digest.featured],
        "sections": [{"country": s.country.value, "items": [item(i) for i in s.items]}
                     for s in digest.sections],
    }, ensure_ascii=False, indent=1)


def digest_from_json(text: str) -> Digest:
    data = json.loads(text)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"digest.json: schema version {data.get('schema_version')!r}, this "
                         f"bot reads {SCHEMA_VERSION}")

    def item(d: dict[str, object]) -> Item:
        return Item(int(str(d["id"])), str(d["title"]), str(d["lead"]),
                    str(d["url"]) if d.get("url") else None,
                    dt.date.fromisoformat(str(d["published"])), Country(str(d["country"])),
                    str(d["needs_review"]) if d.get("needs_review") else None)

    frozen = data.get("frozen_at")
    featured = tuple(item(i) for i in data["featured"])
    sections = tuple(Section(Country(s["country"]), tuple(item(i) for i in s["items"]))
                     for s in data["sections"])
    listed = {i.id for s in sections for i in s.items}
    if any(i.id not in listed for i in featured):
        # Frozen before featured articles stayed in their sections: put them back there.
        everything = [i for s in sections for i in s.items]
        everything += [i for i in featured if i.id not in listed]
        sections = _sections(sorted(everything, key=_reading_order))
    return Digest(parse_week(data["week"]), featured, sections,
                  dt.datetime.fromisoformat(frozen) if frozen else None,
                  frozenset(Country(c) for c in data.get("countries", [])))


def unreviewed(digest: Digest) -> list[tuple[int, str]]:
    """(id, `#12 "Le 15 avril 2025": no title`) for each article of `digest` that needs
    review, in the digest's order, each once."""
    seen: dict[int, str] = {}
    for item in digest.items:
        if item.needs_review and item.id not in seen:
            seen[item.id] = f'#{item.id} "{one_line(item.title)}": {item.needs_review}'
    return list(seen.items())
