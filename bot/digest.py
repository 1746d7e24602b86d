"""The weekly digest. For now: ISO week windows, which the article listing needs too."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.errors import InputError

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
    def next_monday(self) -> dt.date:
        return self.monday + dt.timedelta(days=7)

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
    raise InputError(f'--week must look like "2025-W34", got {value!r}')
