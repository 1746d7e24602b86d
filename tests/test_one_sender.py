"""One process sends from a store at a time: `bot send` holds the store's sender lease
while it sends (renewed, given back at the end), a `bot run` on the same store stands by
meanwhile, and a `bot send` while another process holds it exits 1 naming that process and
sends nothing; `--dry-run` and `--to` still work. A dead holder's lease is taken over."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.config import Settings
from bot.delivery.weeks import LEASE_TTL, SENDER_LEASE
from bot.runner import Runner
from bot.store import open_store
from tests.conftest import NOW, Bot
from tests.fakes.smtp import SmtpServer
from tests.test_cli_send import _sending_bot


def _outbox(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "var" / "outbox").glob("*.eml"))


def test_bot_send_stands_down_while_another_process_holds_the_lease(
        bot: Bot, tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        with open_store(bot.database) as store:  # a live bot run elsewhere
            assert store.take_lease(SENDER_LEASE, "newsroom-2:4242", NOW, LEASE_TTL)
        result = bot("send", "--week", "2025-W14", "--channel", "email")
        assert result.exit_code == 1
        assert result.stderr == (
            "error: another process sends from this store: pid 4242 on newsroom-2 since "
            "2026-11-27 11:00 CET (bot run, or a bot send); nothing was sent\n")
        assert server.messages == []
        dry = bot("send", "--week", "2025-W14", "--channel", "email", "--dry-run")
        assert dry.exit_code == 0 and "would go to 5 email subscribers" in dry.stdout
        copy = bot("send", "--week", "2025-W14", "--channel", "email", "--to", "ed@ex.org")
        assert copy.exit_code == 0, copy.stderr
        assert [m.recipients for m in server.messages] == [("ed@ex.org",)]
    with open_store(bot.database) as store:
        lease = store.lease(SENDER_LEASE)
        assert lease is not None and lease.holder == "newsroom-2:4242"  # left as it was


def test_a_dead_holder_on_this_host_is_taken_over_and_the_lease_given_back(
        bot: Bot, tmp_path: Path) -> None:
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        with open_store(bot.database) as store:
            assert store.take_lease(SENDER_LEASE, f"{socket.gethostname()}:{dead}", NOW,
                                    LEASE_TTL)
        result = bot("send", "--week", "2025-W14", "--channel", "email")
        assert result.exit_code == 0, result.stderr
        assert len(server.messages) == 5
    with open_store(bot.database) as store:
        assert store.lease(SENDER_LEASE) is None


def test_bot_run_stands_by_while_bot_send_sends(bot: Bot, tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SMTP_"))},
               **bot.env, "BOT_EMAIL_RATE": "2"}  # 5 messages: about 2 seconds
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "send", "--week",
                                    "2025-W14", "--channel", "email"], env=env, cwd=tmp_path,
                                   text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not server.messages:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            with open_store(bot.database) as store:
                lease = store.lease(SENDER_LEASE)
                status = store.get_digest("2025-W14")
            assert lease is not None and lease.holder.endswith(f":{process.pid}")
            assert status is not None and status.status == "sending"  # resumable, unfinished
            # bot run's check at that moment: the send under way is not "interrupted" to it
            settings = Settings.from_environ(bot.env)
            runner = Runner(settings, lambda: NOW + dt.timedelta(seconds=5))  # its clock
            asyncio.run(runner.check())
            assert "send" not in runner.running
        finally:
            _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert len(server.messages) == 5
    with open_store(bot.database) as store:
        assert store.lease(SENDER_LEASE) is None
