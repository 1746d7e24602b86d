"""Settings from the environment: a frozen dataclass, validated once at start."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from email.utils import parseaddr
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

T = TypeVar("T")

DEFAULT_DATABASE = "var/bot.sqlite3"
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
    "friday": 4, "saturday": 5, "sunday": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3,
    "vendredi": 4, "samedi": 5, "dimanche": 6,
}
SECRET_NAMES = frozenset({"TELEGRAM_BOT_TOKEN", "BOT_SECRET_KEY"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class SendAt:
    """The weekly slot: a weekday (Monday = 0) and a local time."""

    weekday: int
    time: dt.time

    def __str__(self) -> str:
        day = next(name for name, num in WEEKDAYS.items() if num == self.weekday)
        return f"{day} {self.time:%H:%M}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting the bot reads; build it with `Settings.from_environ`."""

    database: Path
    database_is_default: bool
    digests_dir: Path
    timezone: ZoneInfo
    send_at: SendAt
    public_url: str
    web_host: str
    web_port: int
    smtp_url: str | None
    outbox: Path
    mail_from: str
    mail_unsubscribe: str | None
    newsletter_name: str
    postal_address: str
    templates_dir: Path | None
    secret_key: str | None
    telegram_bot_token: str | None
    telegram_api_url: str
    telegram_channel: str | None
    telegram_admins: tuple[int, ...]
    email_rate: float
    email_concurrency: int
    feeds: tuple[str, ...]
    feed_interval: dt.timedelta
    catchup: dt.timedelta
    article_link: str | None = None  # a link for articles without a URL, `{title}` in it

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Settings:
        """Read and check every variable; the first bad one raises a `ConfigError`."""
        read = _Reader(env)
        public_url = read("BOT_PUBLIC_URL", "http://127.0.0.1:8080", parse_http_url)
        public = urlsplit(public_url)
        database = read("BOT_DATABASE", DEFAULT_DATABASE, parse_path)
        return cls(
            database=database,
            database_is_default=database == Path(DEFAULT_DATABASE),
            digests_dir=read("BOT_DIGESTS_DIR", "digests", parse_path),
            timezone=read("BOT_TIMEZONE", "Europe/Paris", parse_timezone),
            send_at=read("BOT_SEND_AT", "monday 08:00", parse_send_at),
            public_url=public_url,
            web_host=read("BOT_WEB_HOST", public.hostname or "127.0.0.1", parse_text),
            web_port=read("BOT_WEB_PORT", str(public.port or _DEFAULT_PORTS[public.scheme]),
                          parse_port),
            smtp_url=read("SMTP_URL", "", parse_smtp_url) or None,
            outbox=read("BOT_OUTBOX", "var/outbox", parse_path),
            mail_from=read("MAIL_FROM", "Nouvelles d'Asie centrale <digest@localhost>",
                           parse_mail_from),
            mail_unsubscribe=read("MAIL_UNSUBSCRIBE", "", parse_optional_email) or None,
            newsletter_name=read("BOT_NEWSLETTER_NAME", "Nouvelles d'Asie centrale", parse_text),
            postal_address=read("BOT_POSTAL_ADDRESS", "", parse_single_line),
            templates_dir=read("BOT_TEMPLATES_DIR", "", parse_optional_folder),
            secret_key=read("BOT_SECRET_KEY", "", parse_secret) or None,
            telegram_bot_token=read("TELEGRAM_BOT_TOKEN", "", parse_token) or None,
            telegram_api_url=read("TELEGRAM_API_URL", "https://api.telegram.org/bot",
                                  parse_http_url),
            telegram_channel=read("TELEGRAM_CHANNEL", "", parse_telegram_chat) or None,
            telegram_admins=read("TELEGRAM_ADMINS", "", parse_id_list),
            email_rate=read("BOT_EMAIL_RATE", "10", parse_rate),
            email_concurrency=read("BOT_EMAIL_CONCURRENCY", "2", parse_concurrency),
            feeds=tuple(read("BOT_FEEDS", "", str.split)),
            feed_interval=read("BOT_FEED_INTERVAL", "1h", parse_duration),
            catchup=read("BOT_CATCHUP", "24h", parse_duration),
            article_link=read("BOT_ARTICLE_LINK", "", parse_article_link) or None,
        )

    def describe(self) -> list[tuple[str, str]]:
        """Each variable with its effective value as `bot config check` shows it, secrets
        masked."""
        return [(ENV_NAMES[f.name], _show(f.name, getattr(self, f.name)))
                for f in fields(self) if f.name in ENV_NAMES]


ENV_NAMES = {
    "database": "BOT_DATABASE", "digests_dir": "BOT_DIGESTS_DIR", "timezone": "BOT_TIMEZONE",
    "send_at": "BOT_SEND_AT", "public_url": "BOT_PUBLIC_URL", "web_host": "BOT_WEB_HOST",
    "web_port": "BOT_WEB_PORT", "smtp_url": "SMTP_URL", "outbox": "BOT_OUTBOX",
    "mail_from": "MAIL_FROM", "mail_unsubscribe": "MAIL_UNSUBSCRIBE",
    "newsletter_name": "BOT_NEWSLETTER_NAME", "postal_address": "BOT_POSTAL_ADDRESS",
    "templates_dir": "BOT_TEMPLATES_DIR",
    "secret_key": "BOT_SECRET_KEY", "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_url": "TELEGRAM_API_URL", "telegram_channel": "TELEGRAM_CHANNEL",
    "telegram_admins": "TELEGRAM_ADMINS", "email_rate": "BOT_EMAIL_RATE",
    "email_concurrency": "BOT_EMAIL_CONCURRENCY", "feeds": "BOT_FEEDS",
    "feed_interval": "BOT_FEED_INTERVAL", "catchup": "BOT_CATCHUP",
    "article_link": "BOT_ARTICLE_LINK",
}


class _Reader:
    """Reads one variable, applies its parser, and names the variable in any error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def __call__(self, name: str, default: str, parse: Callable[[str], T]) -> T:
        raw = self.env.get(name)
        value = default if raw is None or not raw.strip() else raw.strip()
        try:
            return parse(value)
        except ValueError as exc:
            shown = "(hidden)" if name in SECRET_NAMES else repr(_hide_password(value))
            raise ConfigError(f"{name} {exc}, got {shown}") from None


def _show(name: str, value: object) -> str:
    if value is None or value == ():
        return "(not set)"
    if name in {"secret_key", "telegram_bot_token"}:
        return "****** (set)"
    if name == "smtp_url" and isinstance(value, str):
        return mask_url_password(value)
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    return str(value)


def _hide_password(value: str) -> str:
    """Hide a URL's password even in a URL too broken for urlsplit to read."""
    return re.sub(r"(//[^/:@]*):[^@/]*@", r"\1:******@", value)


def mask_url_password(url: str) -> str:
    """`smtp://user:pw@host` → `smtp://user:******@host`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:******@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def parse_text(value: str) -> str:
    return value


def parse_single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value


def parse_path(value: str) -> Path:
    if "\x00" in value:
        raise ValueError("must be a file path")
    return Path(value).expanduser()


def parse_optional_folder(value: str) -> Path | None:
    """An existing folder, or None when unset: a misspelt folder fails at start rather than
    quietly rendering the shipped templates."""
    if not value:
        return None
    folder = parse_path(value)
    if not folder.is_dir():
        raise ValueError("must be an existing folder")
    return folder


def parse_timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError('must be an IANA time zone like "Europe/Paris"') from None


def parse_send_at(value: str) -> SendAt:
    match = re.fullmatch(r"([a-zA-Z]+)\s+(\d{1,2})[:h](\d{2})", value.strip())
    day = WEEKDAYS.get(match.group(1).lower()) if match else None
    if match is None or day is None:
        raise ValueError('must look like "monday 08:00" (or "lundi 08:00")')
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError('must look like "monday 08:00", with a time from 00:00 to 23:59')
    return SendAt(day, dt.time(hour, minute))


def parse_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError('must be an http(s) URL like "https://example.org"')
    return value.rstrip("/") if parts.path in {"", "/"} else value


def parse_article_link(value: str) -> str:
    """A link for the articles that have no URL, `{title}` standing for the article's title
    (URL-encoded when filled in): "https://www.example.org/?s={title}"; empty when unset."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = urlsplit("")
    if ("{title}" not in value or "{title}" in parts.netloc or not parts.hostname
            or parts.scheme not in {"http", "https"} or any(c.isspace() for c in value)):
        raise ValueError('must be an http(s) URL containing {title}, like '
                         '"https://www.example.org/?s={title}"')
    return value


def parse_smtp_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in {"smtp", "smtp+starttls", "smtps"} or not parts.hostname:
        raise ValueError('must look like "smtp://host:25", "smtp+starttls://user:pw@host:587" '
                         'or "smtps://user:pw@host:465"')
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("has a bad port number") from None
    return value


def parse_port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return int(value)


def parse_mail_from(value: str) -> str:
    parse_single_line(value)
    _, address = parseaddr(value)
    if "@" not in address:
        raise ValueError('must be an address like "Nouvelles <digest@example.org>"')
    return value


def parse_optional_email(value: str) -> str:
    if value and (("@" not in value) or any(c.isspace() for c in value)):
        raise ValueError('must be an email address like "unsubscribe@example.org"')
    return value


def parse_secret(value: str) -> str:
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters long")
    return value


def parse_token(value: str) -> str:
    if value and not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", value):
        raise ValueError('must look like "123456:ABC-DEF…" as given by @BotFather')
    return value


def parse_telegram_chat(value: str) -> str:
    if value and not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+", value):
        raise ValueError('must be a channel "@name" or a numeric chat id')
    return value


def parse_id_list(value: str) -> tuple[int, ...]:
    items = value.replace(",", " ").split()
    if not all(re.fullmatch(r"\d+", item) for item in items):
        raise ValueError('must be numeric Telegram user ids separated by spaces or commas')
    return tuple(int(item) for item in items)


MAX_RATE = 10_000  # a relay on the same host takes a few thousand a second


def parse_rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise ValueError("must be a number of messages per second, like 10") from None
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"must be a number of messages per second from 0 to {MAX_RATE}")
    return rate


def parse_concurrency(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 32:
        raise ValueError("must be a whole number from 1 to 32")
    return int(value)


_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?\s*(?:(\d+)s)?")


def parse_duration(value: str) -> dt.timedelta:
    text = value.strip().lower()
    if text.isdigit():
        return dt.timedelta(seconds=int(text))
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError('must be a duration like "1h", "30m", "1h30m" or seconds')
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")
