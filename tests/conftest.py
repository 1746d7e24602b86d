"""Shared fixtures: a pinned clock, a store in tmp_path, and the CLI run as a user would."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store import Store, open_store
from tests.browser import browser  # noqa: F401 - the shared Chromium fixture
from tests.fakes.smtp import smtp_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "bot" / "samples" / "articles-fr.txt"
PARIS = dt.timezone(dt.timedelta(hours=1))
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "bot.sqlite3") as opened:
        yield opened


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class Bot:
    """Runs `bot …` through click's runner with a clean environment of our own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {"BOT_DATABASE": str(folder / "bot.sqlite3"),
                    "BOT_FAKE_NOW": NOW.isoformat()}

    def __call__(self, *args: str, **env: str) -> Result:
        runner = CliRunner()
        environ = {k: None for k in os.environ if k.startswith(("BOT_", "SMTP_", "MAIL_",
                                                               "TELEGRAM_"))}
        environ.update(self.env)
        environ.update(env)
        cwd = Path.cwd()
        os.chdir(self.folder)  # so that no developer's .env is read
        try:
            result = runner.invoke(cli, list(args), env=environ, catch_exceptions=False,
                                   prog_name="bot")
        finally:
            os.chdir(cwd)
        return Result(result.exit_code, result.stdout, result.stderr)

    @property
    def database(self) -> Path:
        return Path(self.env["BOT_DATABASE"])


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return Bot(tmp_path)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib would send 127.0.0.1 through a proxy named in the environment."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
