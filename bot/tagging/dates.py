"""Which day an article belongs to: the source's own date, else the last French date in its
lead, else its neighbours' in listing order, else the import day. Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import DateSource
from bot.tagging.text import fold

_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
# "le 4 avril 2025", "le 1er avril", "les 21–22 août 2025", "les 29 et 30 mai 2025",
# "du 3 au 5 juin 2025", and numeric "04/04/2025".
_WORDY_DATE = re.compile(
    rf"(?<![\w])(?P<first>\d{{1,2}})(?:er)?"
    rf"(?:\s*(?:[-‐‑–—/]|et|au|a)\s*(?P<last>\d{{1,2}})(?:er)?)?"
    rf"\s+(?P<month>{_MONTH_NAMES})(?![a-z])\.?"
    rf"(?:\s+(?P<year>\d{{4}})(?!\d))?"
)
_NUMERIC_DATE = re.compile(r"(?<![\w/.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?![\w/])")


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
    """One item to date: the date its source gives, if any, and the text to read."""

    explicit: dt.date | None
    text: str


def find_dates(text: str) -> list[DateMention]:
    """Every day-precise date in `text`, in reading order; month or year alone is not one."""
    folded = fold(text)
    found = []
    for m in _WORDY_DATE.finditer(folded):
        day = int(m.group("last") or m.group("first"))
        year = int(m.group("year")) if m.group("year") else None
        found.append(DateMention(m.start(), day, _MONTHS[m.group("month")], year))
    for m in _NUMERIC_DATE.finditer(folded):
        found.append(DateMention(m.start(), int(m.group(1)), int(m.group(2)), int(m.group(3))))
    found.sort(key=lambda d: d.position)
    return [d for d in found if d.on(d.year or 2000) is not None]


def last_full_date(text: str, not_after: dt.date) -> dt.date | None:
    """The last complete date written in `text` that is not after `not_after`.

    Later dates announce events; they say nothing of when the piece was written.
    """
    dates = [d.date for d in find_dates(text) if d.date is not None and d.date <= not_after]
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
        full = last_full_date(item.text, import_day)
        result.append((full, DateSource.TEXT) if full else None)
        if full is None:
            yearless = [d for d in find_dates(item.text) if d.year is None]
            if yearless:
                partial[i] = yearless[-1]
    anchors = list(result)  # only dates read from a source or text anchor a year
    for i, mention in partial.items():
        newer = _nearest(anchors, range(i - 1, -1, -1))
        older = _nearest(anchors, range(i + 1, len(items)))
        day = _fit_year(mention, older, newer, import_day)
        if day is not None:
            result[i] = (day, DateSource.TEXT)
    dated = list(result)
    out: list[tuple[dt.date, DateSource]] = []
    for i, found in enumerate(result):
        if found is not None:
            out.append(found)
            continue
        near = _nearest(dated, range(i + 1, len(items))) or _nearest(dated, range(i - 1, -1, -1))
        out.append((near, DateSource.NEIGHBOUR) if near else (import_day, DateSource.IMPORT))
    return out


def _nearest(dated: Sequence[tuple[dt.date, DateSource] | None],
             indexes: range) -> dt.date | None:
    for j in indexes:
        found = dated[j]
        if found is not None:
            return found[0]
    return None


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
