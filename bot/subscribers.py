"""Subscribers as editors and readers name them: addresses checked and normalized, country
lists parsed, CSV imports read. Pure; the store keeps them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from bot.errors import InputError, RecordError
from bot.model import Channel, Country, parse_country
from bot.render.i18n import LOCALES

MAX_ADDRESS = 254  # RFC 5321's limit on a path


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    channel: Channel
    address: str
    locale: str
    countries: frozenset[Country]
    location: str = ""


def normalize_email(value: str) -> str:
    """A checked, lower-cased address; one line naming the problem otherwise. No DNS."""
    text = value.strip()
    if len(text) > MAX_ADDRESS or any(c in text for c in "\r\n\x00"):
        raise InputError(f"not an email address: {_shown(text)}")
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"not an email address: {_shown(text)} ({exc})") from None
    return str(checked.normalized).lower()


def normalize_chat_id(value: str) -> str:
    """A Telegram chat id (digits, maybe negative) or a channel name (@name)."""
    text = value.strip()
    if text.lstrip("-").isdigit() and len(text) <= 20:
        return str(int(text))
    if text.startswith("@") and 5 <= len(text) <= 33 and text[1:].replace("_", "").isalnum():
        return text
    raise InputError(f"not a Telegram chat id or @channel: {_shown(text)}")


def normalize_address(channel: Channel, value: str) -> str:
    return normalize_email(value) if channel is Channel.EMAIL else normalize_chat_id(value)


def parse_countries(value: str | None, field_name: str = "--countries") -> frozenset[Country]:
    """`KZ,UZ` or `kazakhstan, ouzbékistan` → the set; empty or `all` → every section."""
    if not value or value.strip().lower() in {"all", "tous", "toutes"}:
        return frozenset()
    return frozenset(parse_country(part, field_name=field_name)
                     for part in value.replace(";", ",").split(",") if part.strip())


def parse_locale(value: str | None) -> str:
    code = (value or "fr").strip().lower()
    if code not in LOCALES:
        raise InputError(f"--locale must be one of {', '.join(LOCALES)}, got {value!r}")
    return code


def read_csv(text: str, name: str, channel: Channel
             ) -> tuple[list[NewSubscriber], list[RecordError]]:
    """Rows of `address[,countries[,locale]]` (a header row naming `address` or `email` is
    skipped); every bad row is named with its line."""
    good: list[NewSubscriber] = []
    bad: list[RecordError] = []
    seen: set[str] = set()
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() in {"address", "email", "adresse", "chat"}:
            continue
        location = f"{name}:{number}"
        try:
            address = normalize_address(channel, row[0])
            countries = parse_countries(row[1] if len(row) > 1 else "", "countries")
            locale = parse_locale(row[2] if len(row) > 2 and row[2].strip() else "fr")
        except InputError as exc:
            bad.append(RecordError(location, str(exc), ",".join(row)))
            continue
        if address in seen:
            bad.append(RecordError(location, f"{address} appears twice in the file",
                                   ",".join(row)))
            continue
        seen.add(address)
        good.append(NewSubscriber(channel, address, locale, countries, location))
    return good, bad


def _shown(text: str) -> str:
    """A bad value, safe to print on one line: control characters shown, length capped."""
    shown = repr(text[:80])
    return shown + (f" (and {len(text) - 80} more characters)" if len(text) > 80 else "")
