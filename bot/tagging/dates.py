"""Which day an article belongs to: the source's own date, else the last French date in its
lead, else its neighbours' in listing order, else the import day. Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from bot.folding import words
from bot.model import DateSource

_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
_DAYS = {str(d): d for d in range(1, 32)} | {f"{d:02d}": d for d in range(1, 10)} | {"1er": 1}
_YEARS = {str(y): y for y in range(1900, 2101)}
# Numeric dates need their slashes, which words do not keep: "04/04/2025".
_NUMERIC_DATE = re.compile(r"(?<![\w/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/])")


class DateMention(NamedTuple):
    """A date written in text; `year` is None for "le 29 août". (A tuple: cheap to make and
    to send between processes.)"""

    position: int
    day: int
    month: int
    year: int | None

    def on(self, year: int) -> dt.date | None:
        try:
            return dt.date(year, self.month, self.day)
        except ValueError:
            return None

    @property
    def date(self) -> dt.date | None:
        return self.on(self.year) if self.year is not None else None


@dataclass(frozen=True, slots=True)
class DatedText:
    """One item to date: the date its source gives, if any, and the dates its text holds."""

    explicit: dt.date | None
    mentions: list[DateMention]

    @classmethod
    def read(cls, explicit: dt.date | None, text: str) -> DatedText:
        return cls(explicit, [] if explicit else find_dates(text))


def find_dates(text: str, text_words: list[str] | None = None) -> list[DateMention]:
    """Every day-precise date in `text`, in reading order; month or year alone is not one.

    Read on the words of the text (pass them when already at hand): a day, then a month,
    then maybe a year. In a range ("les 21–22 août", "29 et 30 mai", "du 3 au 5 juin") the
    day next to the month is the last one, which is the one wanted. `position` counts words.
    """
    tokens = words(text) if text_words is None else text_words
    found = []
    if not _MONTHS.keys().isdisjoint(tokens):
        for i in [i for i, token in enumerate(tokens) if token in _MONTHS]:
            month = _MONTHS[tokens[i]]
            day = _DAYS.get(tokens[i - 1]) if i else None
            if day is None:
                continue
            year = _YEARS.get(tokens[i + 1]) if i + 1 < len(tokens) else None
            found.append(DateMention(i - 1, day, month, year))
    if "/" in text:
        for m in _NUMERIC_DATE.finditer(text):
            position = len(words(text[: m.start()]))
            found.append(DateMention(position, int(m.group(1)), int(m.group(2)),
                                     int(m.group(3))))
        found.sort(key=lambda d: d.position)
    return [d for d in found if d.on(d.year or 2000) is not None]


def _last_full(mentions: list[DateMention], not_after: dt.date) -> dt.date | None:
    """The last complete date written that is not after `not_after`: later dates announce
    events, and say nothing of when the piece was written."""
    for mention in reversed(mentions):
        if mention.year is not None:
            day = mention.on(mention.year)
            if day is not None and day <= not_after:
                return day
    return None


def assign_dates(items: Iterable[DatedText], import_day: dt.date
                 ) -> list[tuple[dt.date, DateSource]]:
    """A date and its source for each item of a listing given newest first."""
    return list(date_stream(items, import_day))


def date_stream(items: Iterable[DatedText], import_day: dt.date
                ) -> Iterator[tuple[dt.date, DateSource]]:
    """`assign_dates`, yielding each item's date as soon as it is settled.

    An item with its own date (explicit, or a full date in its text) settles at once and
    anchors its neighbours. A "29 août" without year waits for the next anchor (the older
    side) to pick its year; an undated item waits for the next dated item; at the end of the
    listing the waiting ones fall back on the newer side, then on the import day. Only a run
    of waiting items is ever held, so a long listing streams.
    """
    newer_anchor: dt.date | None = None  # the last explicit or full date seen
    newer_dated: dt.date | None = None  # the last explicit or text date settled
    waiting: list[tuple[DatedText, dt.date | None]] = []
    for item in items:
        own = _own_date(item, import_day)
        if own is None:
            waiting.append((item, newer_anchor))
            continue
        yield from _settle(waiting, own[0], newer_dated, import_day)
        waiting = []
        newer_anchor = newer_dated = own[0]
        yield own
    yield from _settle(waiting, None, newer_dated, import_day)


def _own_date(item: DatedText, import_day: dt.date) -> tuple[dt.date, DateSource] | None:
    if item.explicit is not None:
        return min(item.explicit, import_day), DateSource.EXPLICIT
    full = _last_full(item.mentions, import_day)
    return (full, DateSource.TEXT) if full else None


def _settle(waiting: list[tuple[DatedText, dt.date | None]], older: dt.date | None,
            newer_dated: dt.date | None, import_day: dt.date
            ) -> Iterator[tuple[dt.date, DateSource]]:
    """Dates for a run of waiting items, now that the next anchor (`older`) is known."""
    found: list[dt.date | None] = []
    for item, newer_anchor in waiting:
        yearless = [d for d in item.mentions if d.year is None]
        found.append(_fit_year(yearless[-1], older, newer_anchor, import_day)
                     if yearless else None)
    settled: list[tuple[dt.date, DateSource]] = []
    nearest_older = older
    for day in reversed(found):  # an undated item takes the nearest dated older one
        if day is not None:
            nearest_older = day
            settled.append((day, DateSource.TEXT))
        else:
            settled.append((nearest_older, DateSource.NEIGHBOUR) if nearest_older else
                           (dt.date.min, DateSource.IMPORT))
    settled.reverse()
    for (day, source), text_day in zip(settled, found, strict=True):
        if text_day is not None:
            newer_dated = text_day
        if source is DateSource.IMPORT:  # nothing older: the nearest newer, else today
            yield (newer_dated, DateSource.NEIGHBOUR) if newer_dated else (
                import_day, DateSource.IMPORT)
        else:
            yield day, source


def _fit_year(mention: DateMention, older: dt.date | None, newer: dt.date | None,
              import_day: dt.date) -> dt.date | None:
    """The year that puts "le 29 août" between its neighbours (newest first), or nearest."""
    low = older or dt.date.min
    high = min(newer or import_day, import_day)
    years = {d.year + k for d in (older, newer, import_day) if d for k in (-1, 0, 1)}
    best: tuple[int, int, dt.date] | None = None
    for year in sorted(years):
        day = mention.on(year)
        if day is None or day > import_day:
            continue
        outside = max((low - day).days, (day - high).days, 0)
        closeness = min(abs((day - d).days) for d in (older, newer, import_day) if d)
        key = (outside, closeness, day)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None
