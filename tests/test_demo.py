"""`bot demo`: the sample imported, previewed and sent in `var/demo/`, a store of its own made
afresh at each run, the user's store, digests folder and outbox left alone; what it prints
(the files, and a `bot serve` command that does serve the demo's archive)."""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.store import open_store
from tests.conftest import Bot

SERVE = ("BOT_DATABASE=var/demo/bot.sqlite3 BOT_DIGESTS_DIR=var/demo/digests "
         "BOT_OUTBOX=var/demo/outbox bot serve")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _line(stdout: str, start: str) -> str:
    [found] = [line for line in stdout.splitlines() if line.startswith(start)]
    return found[len(start):]


def test_demo_leaves_the_users_store_digests_and_outbox_alone(bot: Bot,
                                                             tmp_path: Path) -> None:
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"title": "Astana accueille un sommet", "lead": "Le Kazakhstan reçoit.", '
                    '"published": "2025-04-02"}\n', encoding="utf-8")
    assert bot("import", str(mine)).exit_code == 0
    before = _digest(bot.database)
    user = {"BOT_DIGESTS_DIR": str(tmp_path / "my-digests"),
            "BOT_OUTBOX": str(tmp_path / "my-outbox")}

    result = bot("demo", **user)

    assert result.exit_code == 0, result.stderr
    assert _digest(bot.database) == before
    with open_store(bot.database) as store:
        assert store.count_articles() == 1
        assert store.get_digest("2025-W14") is None
    assert not (tmp_path / "my-digests").exists() and not (tmp_path / "my-outbox").exists()
    assert f"(your store {bot.database} is untouched)" in result.stdout
    with open_store(tmp_path / "var" / "demo" / "bot.sqlite3") as demo:
        assert demo.count_articles() == 21


def test_demo_never_creates_the_default_store(bot: Bot, tmp_path: Path) -> None:
    del bot.env["BOT_DATABASE"]
    result = bot("demo")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["demo"]
    assert not (tmp_path / "digests").exists()
    assert "(your store var/bot.sqlite3 is untouched)" in result.stdout


def test_demo_previews_and_sends_2025_w14_and_says_where_to_look(bot: Bot,
                                                                tmp_path: Path) -> None:
    result = bot("demo")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    demo = (tmp_path / "var" / "demo").resolve()
    assert "articles-fr.txt: 21 new articles, 0 already in the store (listing); 1 needs " \
           "review" in out
    assert "2025-W14: semaine du 31 mars au 6 avril 2025 (" in out  # not "latest", W35
    assert "2025-W35" not in out
    assert "2025-W14 by email: 1 sent" in out
    assert all(Path(line[len("wrote "):]).is_relative_to(demo)
               for line in out.splitlines() if line.startswith("wrote "))

    email = Path(_line(out, "  the week's web version: "))
    assert email == demo / "digests" / "2025-W14" / "email.html" and email.is_file()
    assert "frontière stratégique de l’Europe" in email.read_text(encoding="utf-8")
    eml = Path(_line(out, "  the sample reader's email: "))
    assert eml.parent == demo / "outbox"
    assert "To: lecteur@example.org" in eml.read_text(encoding="utf-8")
    assert _line(out, "  to browse the demo's archive: ") == SERVE
    assert _line(out, "  then open ") == "http://127.0.0.1:8080/archive/2025-W14/"
    with open_store(demo / "bot.sqlite3") as store:
        stored = store.get_digest("2025-W14")
        assert stored is not None and stored.status == "sent"


def test_demo_twice_gives_the_same_result(bot: Bot, tmp_path: Path) -> None:
    first = bot("demo")
    (tmp_path / "var" / "demo" / "outbox" / "stray.eml").write_text("left over")
    second = bot("demo")
    assert first.exit_code == second.exit_code == 0, second.stderr
    assert second.stdout == first.stdout
    assert "21 new articles, 0 already in the store" in second.stdout
    assert len(list((tmp_path / "var" / "demo" / "outbox").glob("*.eml"))) == 1


def test_demo_refuses_a_user_setting_inside_its_folder(bot: Bot, tmp_path: Path) -> None:
    (tmp_path / "var" / "demo").mkdir(parents=True)
    result = bot("demo", BOT_DATABASE=str(tmp_path / "var" / "demo" / "bot.sqlite3"))
    assert result.exit_code == 2
    assert "BOT_DATABASE is" in result.stderr and "unset BOT_DATABASE" in result.stderr
    assert not (tmp_path / "var" / "demo" / "bot.sqlite3").exists()


@pytest.mark.slow
def test_the_printed_serve_command_serves_the_demo_archive(bot: Bot, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = bot("demo", BOT_WEB_PORT=str(port))
    assert result.exit_code == 0, result.stderr
    *assignments, program, command = shlex.split(_line(result.stdout,
                                                       "  to browse the demo's archive: "))
    assert (program, command) == ("bot", "serve")
    url = _line(result.stdout, "  then open ")
    assert url == f"http://127.0.0.1:{port}/archive/2025-W14/"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "SMTP_", "MAIL_", "TELEGRAM_"))
           and k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}}
    env.update(dict(a.split("=", 1) for a in assignments), BOT_WEB_PORT=str(port))
    bot_program = Path(sys.executable).parent / "bot"
    server = subprocess.Popen([bot_program, command], cwd=tmp_path, env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    page = answer.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "bot serve did not answer"
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=20)
    assert "frontière stratégique de l’Europe" in page
    assert server.returncode == 0, stderr
