"""Which day an article belongs to: the source's own date, else the last French date in its
lead, else its neighbours' in listing order, else the import day. Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import DateSource
from bot.tagging.text import words

_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
_DAYS = {str(d): d for d in range(1, 32)} | {f"{d:02d}": d for d in range(1, 10)} | {"1er": 1}
_YEARS = {str(y): y for y in range(1900, 2101)}
# Numeric dates need their slashes, which words do not keep: "04/04/2025".
_NUMERIC_DATE = re.compile(r"(?<![\w/.])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/])")


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date written in text; `year` is None for "le 29 août"."""

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


def last_full_date(text: str, not_after: dt.date) -> dt.date | None:
    """The last complete date written in `text` that is not after `not_after`.

    Later dates announce events; they say nothing of when the piece was written.
    """
    return _last_full(find_dates(text), not_after)


def _last_full(mentions: list[DateMention], not_after: dt.date) -> dt.date | None:
    dates = [d.date for d in mentions if d.date is not None and d.date <= not_after]
    return dates[-1] if dates else None


def assign_dates(items: Sequence[DatedText], import_day: dt.date
                 ) -> list[tuple[dt.date, DateSource]]:
    """A date and its source for each item of a listing given newest first."""
    result: list[tuple[dt.date, DateSource] | None] = []
    partial: dict[int, DateMention] = {}
    for i, item in enumerate(items):
        if item.explicit is not None:
            result.append((min(item.explicit, import_day), DateSource.EXPLICIT))
            continue
        full = _last_full(item.mentions, import_day)
        result.append((full, DateSource.TEXT) if full else None)
        if full is None:
            yearless = [d for d in item.mentions if d.year is None]
            if yearless:
                partial[i] = yearless[-1]
    if partial:  # only dates read from a source or a text anchor a year
        newer, older = _neighbours(result)
        for i, mention in partial.items():
            day = _fit_year(mention, older[i], newer[i], import_day)
            if day is not None:
                result[i] = (day, DateSource.TEXT)
    newer, older = _neighbours(result)
    out: list[tuple[dt.date, DateSource]] = []
    for i, found in enumerate(result):
        if found is not None:
            out.append(found)
            continue
        near = older[i] or newer[i]
        out.append((near, DateSource.NEIGHBOUR) if near else (import_day, DateSource.IMPORT))
    return out


def _neighbours(dated: Sequence[tuple[dt.date, DateSource] | None]
                ) -> tuple[list[dt.date | None], list[dt.date | None]]:
    """For each item, the date of the nearest dated item before it (newer, in a listing
    given newest first) and after it (older): two passes, so long undated runs stay linear."""
    newer: list[dt.date | None] = []
    last: dt.date | None = None
    for found in dated:
        newer.append(last)
        if found is not None:
            last = found[0]
    older: list[dt.date | None] = [None] * len(dated)
    last = None
    for i in range(len(dated) - 1, -1, -1):
        older[i] = last
        found = dated[i]
        if found is not None:
            last = found[0]
    return newer, older


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
