"""`bot run` as a real process: the web pages and the Telegram bot (polling the loopback Bot
API double) answer, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.model import Channel
from bot.store import open_store
from tests.fakes.telegram import FakeBotApi
from tests.telegram_week import TOKEN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(tmp_path: Path, **settings: str) -> tuple[subprocess.Popen[str], str]:
    """`bot run` started, and the address of its web pages."""
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))},
           "BOT_DATABASE": str(tmp_path / "bot.sqlite3"), "BOT_SECRET_KEY": "k" * 32,
           "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}", "BOT_OUTBOX": str(tmp_path / "out"),
           "BOT_DIGESTS_DIR": str(tmp_path / "digests"), **settings}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}/"


def _page(process: subprocess.Popen[str], url: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return str(answer.read().decode())
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str, float]:
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, err = process.communicate(timeout=15)
    return out, err, time.monotonic() - started


def test_bot_run_answers_on_the_web_and_on_telegram_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    with FakeBotApi(token=TOKEN) as api:
        process, url = _run(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url)
        try:
            assert "abonner" in _page(process, url).lower()
            assert api.wait_for(lambda: bool(api.commands), timeout=20)  # the menu is set
            api.send_command(4242, "/start", language_code="fr")
            assert api.wait_for(lambda: bool(api.messages_to(4242)), timeout=20)
        finally:
            out, err, took = _stop(process)
        assert process.returncode == 0, err
        assert took < 10
        assert api.violations == []
    with open_store(tmp_path / "bot.sqlite3") as store:
        reader = store.find_subscriber(Channel.TELEGRAM, "4242")
    assert reader is not None and reader.status == "active"
    assert "Telegram on (polling)" in err and TOKEN not in out + err


def test_bot_run_without_a_token_serves_the_web_and_says_telegram_is_off(
        tmp_path: Path) -> None:
    process, url = _run(tmp_path)
    try:
        assert "abonner" in _page(process, url).lower()
    finally:
        _, err, took = _stop(process)
    assert process.returncode == 0, err
    assert "Telegram off (TELEGRAM_BOT_TOKEN is not set)" in err
    assert took < 10
