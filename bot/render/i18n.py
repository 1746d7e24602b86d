"""Words a reader sees: gettext catalogs (French is the source language) and Babel dates.

Catalogs are the `.po` files of `locales/` (see `bot.shipped`), compiled in memory on first
use, so a checkout and a wheel read the same files and nothing generated is committed.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names, get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.digest import IsoWeek
from bot.model import Country
from bot.shipped import locales_dir

LOCALES = ("fr", "en", "ru")
DEFAULT_LOCALE = "fr"


def normalize_locale(value: str | None) -> str:
    """`fr`, `en` or `ru` from a language tag like `en-GB` or `ru_RU`; French otherwise."""
    code = (value or "").replace("_", "-").split("-")[0].lower()
    return code if code in LOCALES else DEFAULT_LOCALE


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The catalog of `locale`, compiled from its `.po` file."""
    po = locales_dir() / normalize_locale(locale) / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=normalize_locale(locale))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def translate(locale: str, message: str, **values: object) -> str:
    """`message` in `locale`, with `%(name)s` placeholders filled from `values`."""
    text = translations(locale).gettext(message)
    return text % values if values else text


def translate_plural(locale: str, singular: str, plural: str, count: int,
                     **values: object) -> str:
    """`singular` or `plural` in `locale` for `count`; `%(num)s` is the count."""
    text = translations(locale).ngettext(singular, plural, count)
    return text % {"num": count, **values}


def country_name(country: Country, locale: str) -> str:
    """A section's name in `locale` ("Kirghizstan", "Kyrgyzstan", "Киргизия")."""
    return translations(locale).gettext(_COUNTRY_MESSAGES[country])


# The French names, marked for extraction; `country_name` translates them.
def _(message: str) -> str:
    return message


_COUNTRY_MESSAGES = {
    Country.KZ: _("Kazakhstan"), Country.KG: _("Kirghizstan"), Country.UZ: _("Ouzbékistan"),
    Country.TJ: _("Tadjikistan"), Country.TM: _("Turkménistan"),
    Country.REGION: _("Asie centrale"), Country.OTHER: _("Autres"),
}


def format_day(day: dt.date, locale: str) -> str:
    """`jeudi 21 août 2025`; French writes the first of the month `1er`."""
    text = format_date(day, "EEEE d MMMM y", locale=normalize_locale(locale))
    return _first_of_month(text, day, locale)


# "8 h 00" is how French writes a time of day; the others read "08:00".
_TIME_PATTERNS = {"fr": "H 'h' mm", "en": "HH:mm", "ru": "HH:mm"}
_FRENCH_ELISION = re.compile(r"\bde (?=[AEIOUYÀÂÉÈÊÎÔÛaeiouyàâéèêîôû])")


def format_schedule(weekday: int, time: dt.time, zone: ZoneInfo, locale: str) -> str:
    """The weekly slot in words: `chaque lundi à 8 h 00, heure de Paris`, `every Monday at
    08:00, Paris time`; Babel names the day (Monday = 0) and the zone's city."""
    locale = normalize_locale(locale)
    day = get_day_names("wide", "format", locale=locale)[weekday]
    shown = format_time(time, _TIME_PATTERNS[locale], locale=locale)
    if locale == "fr":
        shown = shown.replace(" ", "\u00a0")  # never "8" at the end of a line, "h 00" below
    if "/" not in zone.key or zone.key.startswith("Etc/"):  # no city to name
        return translate(locale, "chaque %(day)s à %(time)s (%(zone)s)", day=day, time=shown,
                         zone=_offset_name(zone))
    city = get_timezone_location(zone, locale=locale, return_city=True)
    text = translate(locale, "chaque %(day)s à %(time)s, heure de %(city)s", day=day,
                     time=shown, city=city)
    return _FRENCH_ELISION.sub("d’", text) if locale == "fr" else text


def _offset_name(zone: ZoneInfo) -> str:
    """`UTC`, `UTC+5` for a fixed zone (`Etc/GMT-5` is five hours ahead); else its key."""
    if zone.key.startswith(("Etc/", "GMT", "UTC", "UCT", "Universal", "Zulu", "Greenwich")):
        offset = zone.utcoffset(dt.datetime(2000, 1, 1))  # noqa: DTZ001 - fixed zones only
        if offset is not None:
            minutes = int(offset.total_seconds()) // 60
            if not minutes:
                return "UTC"
            hours, rest = divmod(abs(minutes), 60)
            return f"UTC{'+' if minutes > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")
    return zone.key


def week_label(week: IsoWeek, locale: str) -> str:
    """`semaine du 18 au 24 août 2025`, `du 28 juillet au 3 août 2025`, `du 29 décembre 2025
    au 4 janvier 2026`: Babel dates in a translatable sentence (CLDR has no "du … au …")."""
    start, end = week.monday, week.sunday
    locale = normalize_locale(locale)
    if start.year != end.year:
        pattern = "d MMMM y"
    elif start.month != end.month:
        pattern = "d MMMM"
    else:
        pattern = "d"
    first = _first_of_month(format_date(start, pattern, locale=locale), start, locale)
    last = _first_of_month(format_date(end, "d MMMM y", locale=locale), end, locale)
    return translate(locale, "semaine du %(start)s au %(end)s", start=first, end=last)


def _first_of_month(text: str, day: dt.date, locale: str) -> str:
    if day.day != 1 or normalize_locale(locale) != "fr":
        return text
    if text == "1":  # "semaine du 1er au 7 septembre 2025"
        return "1er"
    return text.replace("1 ", "1er ", 1) if text.startswith("1 ") else text.replace(
        " 1 ", " 1er ", 1)
