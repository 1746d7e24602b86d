"""The newsroom's week end to end, as its readers click it: a week sent by `bot run` (email
through the real SMTP server, Telegram through the Bot API double), with no preview before
it; then every link of every message sent that points at BOT_PUBLIC_URL is fetched from
`bot serve`, and each answers 200. An unsubscribe link's GET shows its page and changes
nothing."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.model import Channel, Status
from bot.store import open_store
from tests.fakes.smtp import SmtpServer
from tests.fakes.telegram import FakeBotApi
from tests.telegram_week import TOKEN
from tests.test_run_process import (
    PROXIES,
    Bot,
    Due,
    _start,
    _status,
    _store,
    _until,
    bots,
)

__all__ = ["bots"]  # the fixture, used by name
pytestmark = pytest.mark.slow
LINK = re.compile(r"""https?://[^\s"'<>]+""")


def _email_links(message: EmailMessage) -> set[str]:
    """Every link of a message: its List-Unsubscribe header, its HTML and its text."""
    found = set(re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"] or "")))
    for part in message.walk():
        if part.get_content_type() in {"text/html", "text/plain"}:
            found |= {html.unescape(link) for link in LINK.findall(part.get_content())}
    return found


def _serve(tmp_path: Path, database: Path, public_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "TELEGRAM_", "SMTP_", "MAIL_"))
           and k.lower() not in PROXIES}
    env.update({"BOT_DATABASE": str(database), "BOT_SECRET_KEY": "k" * 32,
                "BOT_PUBLIC_URL": public_url, "BOT_DIGESTS_DIR": str(tmp_path / "digests"),
                "BOT_OUTBOX": str(tmp_path / "outbox")})
    folder = tmp_path / "serve"
    folder.mkdir()
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError:
        return 0


def test_every_link_of_a_week_sent_by_bot_run_answers(tmp_path: Path, bots: list[Bot]) -> None:
    due = Due.now()
    database, emails, _ = _store(tmp_path, due.week, emails=4, chats=8)
    with SmtpServer() as smtp, FakeBotApi(token=TOKEN) as api:
        settings = {**due.env(), "SMTP_URL": smtp.url, "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_API_URL": api.url, "BOT_EMAIL_RATE": "1000"}
        runner = _start(tmp_path, "run", database, **settings)
        bots.append(runner)
        _until(lambda: _status(database, due.week) == "sent", bots)
        assert runner.stop() < 10 and runner.process.returncode == 0, runner.log()
        assert smtp.count_by_recipient() == Counter({a: 1 for a in emails})
        mails = [m.parsed() for m in smtp.messages]
        telegram = [sent.html for sent in api.sent]
    assert not (tmp_path / "digests" / "previews").exists()  # nobody previewed the week
    env_url = runner.public_url
    links_by_kind: dict[str, set[str]] = {"email": set(), "telegram": set()}
    for message in mails:
        links_by_kind["email"] |= _email_links(message)
    for text in telegram:
        links_by_kind["telegram"] |= {html.unescape(u) for u in LINK.findall(text)}
    ours = {kind: {u for u in links if u.startswith(env_url)}
            for kind, links in links_by_kind.items()}
    paths = {re.sub(r"/[0-9]+\.[A-Za-z0-9_-]+$", "/<token>", u[len(env_url):])
             for u in ours["email"]}
    assert paths == {f"/archive/{due.week}/", "/unsubscribe/<token>", "/preferences/<token>"}
    assert ours["telegram"] == {f"{env_url}/archive/{due.week}/"}
    server = _serve(tmp_path, database, env_url)
    try:
        deadline = time.monotonic() + 30
        while _get(env_url + "/") != 200:
            assert server.poll() is None and time.monotonic() < deadline, "bot serve is down"
            time.sleep(0.1)
        answers = {url: _get(url) for urls in ours.values() for url in urls}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answers and set(answers.values()) == {200}, {u: c for u, c in answers.items()
                                                         if c != 200}
    with open_store(database) as store:  # the unsubscribe pages' GETs changed nothing
        readers = list(store.list_subscribers(Channel.EMAIL))
    assert {r.address: r.status for r in readers} == {a: Status.ACTIVE for a in emails}
    assert telegram

