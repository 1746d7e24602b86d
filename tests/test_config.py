"""Settings from the environment: defaults, one-line errors, masked secrets, .env files."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import ENV_NAMES, SendAt, Settings
from bot.errors import ConfigError
from tests.conftest import Bot

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECRET = "s3cret-key-0123456789abcdef"


def test_defaults() -> None:
    s = Settings.from_environ({})
    assert s.database == Path("var/bot.sqlite3")
    assert s.database_is_default is True
    assert str(s.timezone) == "Europe/Paris"
    assert s.send_at == SendAt(0, dt.time(8, 0))
    assert str(s.send_at) == "monday 08:00"
    assert s.public_url == "http://127.0.0.1:8080"
    assert (s.web_host, s.web_port) == ("127.0.0.1", 8080)
    assert s.smtp_url is None
    assert s.outbox == Path("var/outbox")
    assert s.mail_from == "Nouvelles d'Asie centrale <digest@localhost>"
    assert (s.telegram_bot_token, s.secret_key) == (None, None)


def test_named_database_is_not_the_default() -> None:
    s = Settings.from_environ({"BOT_DATABASE": "/srv/bot/articles.sqlite3"})
    assert (s.database, s.database_is_default) == (Path("/srv/bot/articles.sqlite3"), False)


@pytest.mark.parametrize(("url", "host", "port"), [
    ("http://news.example.org:9000", "news.example.org", 9000),
    ("http://news.example.org", "news.example.org", 80),
    ("https://news.example.org", "news.example.org", 443),
])
def test_web_address_defaults_to_public_url(url: str, host: str, port: int) -> None:
    s = Settings.from_environ({"BOT_PUBLIC_URL": url})
    assert (s.web_host, s.web_port) == (host, port)


def test_web_port_set_explicitly() -> None:
    s = Settings.from_environ({"BOT_PUBLIC_URL": "http://x.org:9000", "BOT_WEB_PORT": "8001"})
    assert s.web_port == 8001


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("BOT_TIMEZONE", "Mars/Olympus", '"Europe/Paris"'),
    ("BOT_SEND_AT", "8am", '"monday 08:00"'),
    ("BOT_SEND_AT", "lundi 25:00", "23:59"),
    ("BOT_PUBLIC_URL", "ftp://x", "http(s) URL"),
    ("SMTP_URL", "http://x", '"smtp://host:25"'),
    ("BOT_WEB_PORT", "0", "port number from 1 to 65535"),
    ("MAIL_FROM", "nobody", '"Nouvelles <digest@example.org>"'),
    ("TELEGRAM_ADMINS", "abc", "numeric Telegram user ids"),
    ("BOT_EMAIL_RATE", "-1", "messages per second"),
    ("BOT_FEED_INTERVAL", "soon", '"1h"'),
])
def test_bad_value(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_environ({name: value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{name} ")
    assert message.endswith(f"got {value!r}")
    assert expected in message


@pytest.mark.parametrize(("value", "weekday", "time"), [
    ("lundi 08:00", 0, dt.time(8, 0)),
    ("Mardi 7h30", 1, dt.time(7, 30)),
    ("FRIDAY 17:05", 4, dt.time(17, 5)),
])
def test_send_at_accepts_french_and_english(value: str, weekday: int, time: dt.time) -> None:
    assert Settings.from_environ({"BOT_SEND_AT": value}).send_at == SendAt(weekday, time)


@pytest.mark.parametrize(("name", "value"), [
    ("TELEGRAM_BOT_TOKEN", "not-a-token-hunter2"),
    ("BOT_SECRET_KEY", "short-hunter2"),
])
def test_bad_secret_is_not_echoed(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_environ({name: value})
    assert name in str(err.value)
    assert "hunter2" not in str(err.value)


def test_bad_smtp_url_does_not_echo_its_password() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_environ({"SMTP_URL": "smtp+starttls://user:hunter2@host:99999"})
    assert "SMTP_URL" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_describe_masks_secrets() -> None:
    s = Settings.from_environ({"TELEGRAM_BOT_TOKEN": TOKEN, "BOT_SECRET_KEY": SECRET,
                               "SMTP_URL": "smtp+starttls://user:hunter2@host:587"})
    shown = dict(s.describe())
    text = "\n".join(f"{name} {value}" for name, value in s.describe())
    assert TOKEN not in text
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" not in text
    assert SECRET not in text
    assert "hunter2" not in text
    assert shown["SMTP_URL"] == "smtp+starttls://user:******@host:587"
    assert shown["TELEGRAM_BOT_TOKEN"] == "****** (set)"


def test_describe_names_every_variable_once() -> None:
    names = [name for name, _ in Settings.from_environ({}).describe()]
    assert sorted(names) == sorted(ENV_NAMES.values())


class Recording(dict[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_env_names_cover_what_settings_reads() -> None:
    env = Recording()
    Settings.from_environ(env)
    assert env.asked == set(ENV_NAMES.values())


def test_env_example_is_valid_and_complete() -> None:
    path = ROOT / ".env.example"
    values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    settings = Settings.from_environ(values)
    assert settings.describe() == Settings.from_environ({}).describe()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE))
    assert named == set(ENV_NAMES.values())


# -- through the CLI ----------------------------------------------------------------------

def test_config_check(bot: Bot) -> None:
    result = bot("config", "check")
    assert result.exit_code == 0, result.stderr
    for name in ENV_NAMES.values():
        assert re.search(rf"^{name} ", result.stdout, re.MULTILINE), name
    assert result.stdout.splitlines()[-1] == "settings are valid"


def test_config_check_hides_token(bot: Bot) -> None:
    result = bot("config", "check", TELEGRAM_BOT_TOKEN=TOKEN)
    assert result.exit_code == 0, result.stderr
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" not in result.stdout + result.stderr
    assert re.search(r"^TELEGRAM_BOT_TOKEN +\*+ \(set\)$", result.stdout, re.MULTILINE)


def test_config_check_bad_value(bot: Bot) -> None:
    result = bot("config", "check", BOT_SEND_AT="8am")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "BOT_SEND_AT" in line
    assert "8am" in line
    assert result.stdout == ""


def test_dotenv_is_read_and_environment_wins(bot: Bot, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_TIMEZONE=Asia/Almaty\nBOT_SEND_AT=lundi 09:15\n")
    from_file = bot("config", "check")
    assert re.search(r"^BOT_TIMEZONE +Asia/Almaty$", from_file.stdout, re.MULTILINE)
    assert re.search(r"^BOT_SEND_AT +monday 09:15$", from_file.stdout, re.MULTILINE)
    overridden = bot("config", "check", BOT_TIMEZONE="Asia/Tashkent")
    assert re.search(r"^BOT_TIMEZONE +Asia/Tashkent$", overridden.stdout, re.MULTILINE)
    assert "Asia/Almaty" not in overridden.stdout


def test_env_example_copied_to_dotenv_works_on_a_fresh_checkout(bot: Bot,
                                                                tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    del bot.env["BOT_DATABASE"]
    result = bot("articles", "list")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "var" / "bot.sqlite3").is_file()
