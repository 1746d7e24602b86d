"""Sending through a real SMTP server on 127.0.0.1 that misbehaves: refusals, dropped
connections, a server down at start, a sender killed again and again, and Ctrl-C."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.archive import digest_for_week
from bot.delivery.email import EmailJob, EmailSend
from bot.delivery.ledger import Retries
from bot.delivery.mail_transport import Smtp
from bot.digest import IsoWeek
from bot.ingest import load
from bot.mail import Sender
from bot.model import Channel, Status
from bot.render.email import Masthead
from bot.store import open_store
from bot.subscribers import NewSubscriber
from tests.conftest import NOW, SAMPLE
from tests.fakes.smtp import SmtpServer

PARIS = __import__("zoneinfo").ZoneInfo("Europe/Paris")
WEEK = IsoWeek(2025, 14)
SECRET = "k" * 32


def _job(**changes: object) -> EmailJob:
    values: dict[str, object] = dict(
        sender=Sender("Nouvelles <digest@example.org>", "Nouvelles"),
        masthead=Masthead("Nouvelles", "https://ex.org/archive/2025-W14/"),
        public_url="https://ex.org", secret=SECRET, rate=1000.0, concurrency=4,
        retries=Retries(dt.timedelta(milliseconds=50), dt.timedelta(milliseconds=400), 30))
    values.update(changes)
    return EmailJob(**values)  # type: ignore[arg-type]


def _store_with_readers(folder: Path, count: int) -> tuple[Path, list[str]]:
    database = folder / "bot.sqlite3"
    readers = [f"reader{n}@example.org" for n in range(count)]
    with open_store(database) as store:
        store.insert_articles(list(load(str(SAMPLE), None, PARIS, NOW.date()).articles()), NOW)
        digest_for_week(store, WEEK, NOW, PARIS)
        store.add_subscribers([NewSubscriber(Channel.EMAIL, r, "fr", frozenset())
                               for r in readers], Status.ACTIVE, "test", NOW)
    return database, readers


def _send(database: Path, server: SmtpServer, **job: object) -> None:
    with open_store(database) as store:
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
    EmailSend(database, str(WEEK), digest, _job(**job), Smtp(server.url, timeout=5),
              lambda: dt.datetime.now(dt.UTC)).run()


def _ledger(database: Path) -> dict[str, int]:
    with open_store(database) as store:
        return store.delivery_counts(store.digest_id(str(WEEK)))


def test_refusals_and_dropped_connections_still_reach_everyone_once(tmp_path: Path) -> None:
    database, readers = _store_with_readers(tmp_path, 300)
    with SmtpServer(seed=7, rcpt_failure_rate=0.3, data_failure_rate=0.3,
                    drop_rate=0.05) as server:
        _send(database, server)
        assert server.count_by_recipient() == Counter({r: 1 for r in readers})
        assert len(server.refusals) > 100  # the faults did happen
    assert _ledger(database) == {"sent": 300}


def test_a_permanent_refusal_bounces_only_those_readers(tmp_path: Path) -> None:
    database, readers = _store_with_readers(tmp_path, 20)
    gone = set(readers[:3])
    with SmtpServer(reject=gone) as server:
        _send(database, server)
        assert set(server.count_by_recipient()) == set(readers) - gone
    assert _ledger(database) == {"sent": 17, "failed": 3}
    with open_store(database) as store:
        bounced = {s.address for s in store.list_subscribers(Channel.EMAIL, Status.BOUNCED)}
    assert bounced == gone


def test_a_server_down_at_start_is_waited_for(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    database, readers = _store_with_readers(tmp_path, 10)
    server = SmtpServer().start()
    server.stop()  # down, its port known
    threading.Timer(1.0, server.start).start()
    caplog.set_level(logging.INFO, logger="bot.delivery")
    try:
        _send(database, server)
        assert server.count_by_recipient() == Counter({r: 1 for r in readers})
    finally:
        server.stop()
    assert any("cannot connect" in r.getMessage() and "retry in" in r.getMessage()
               for r in caplog.records)
    assert _ledger(database) == {"sent": 10}


def _bot(database: Path, server: SmtpServer, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SMTP_"))},
           "BOT_DATABASE": str(database), "SMTP_URL": server.url,
           "BOT_SECRET_KEY": SECRET,
           "BOT_EMAIL_RATE": "1000", "BOT_EMAIL_CONCURRENCY": "3",
           "BOT_DIGESTS_DIR": str(tmp_path / "digests")}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "send", "--week", str(WEEK),
                             "--channel", "email"], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(server: SmtpServer, messages: int, process: subprocess.Popen[str]) -> bool:
    """Wait until the server has `messages` messages; False if the process ended first."""
    deadline = time.monotonic() + 60
    while len(server.messages) < messages:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_a_sender_killed_again_and_again_sends_everyone_once_more_at_most(
        tmp_path: Path) -> None:
    database, readers = _store_with_readers(tmp_path, 2000)
    rng = random.Random(3)
    kills = 0
    with SmtpServer() as server:
        while kills < 5 or len(server.messages) < 200:
            process = _bot(database, server, tmp_path)
            # Killed at a random moment once it sends: after 20 to 200 more messages.
            if not _wait_for(server, len(server.messages) + rng.randint(20, 200), process):
                break  # it finished before the kill: enough kills happen before that
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        final = _bot(database, server, tmp_path)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        received = server.messages
    assert kills >= 5
    per_reader = Counter(r for m in received for r in m.recipients)
    assert set(per_reader) == set(readers)
    duplicates = [r for r, n in per_reader.items() if n > 1]
    assert len(duplicates) <= 3 * kills  # at most the messages in flight at each kill
    ids: dict[str, set[str | None]] = {}
    for message in received:
        ids.setdefault(message.recipients[0], set()).add(message.message_id)
    assert all(len(found) == 1 for found in ids.values())  # a resend is the same message
    assert _ledger(database) == {"sent": 2000}
    assert "2025-W14 by email: 2000 sent" in out or "already sent" in out


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    database, readers = _store_with_readers(tmp_path, 1500)
    with SmtpServer() as server:
        process = _bot(database, server, tmp_path)
        assert _wait_for(server, 100, process)  # in the middle of the send
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = process.communicate(timeout=30)
        assert time.monotonic() - started < 10
        assert process.returncode == 1 and "run the same bot send again to finish" in err
        with open_store(database) as store:
            held = store.conn.execute("SELECT count(*) FROM deliveries WHERE status = "
                                      "'sending'").fetchone()[0]
        assert held == 0  # every claim given back or finished
        rerun = _bot(database, server, tmp_path)
        rerun.communicate(timeout=120)
        assert server.count_by_recipient() == Counter({r: 1 for r in readers})


def test_no_secret_reaches_the_logs_of_a_whole_send(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    database, readers = _store_with_readers(tmp_path, 5)
    caplog.set_level(logging.DEBUG)
    with SmtpServer(user="relay-user", password="hunter2-relay", rcpt_failure_rate=0.3,
                    seed=2) as server:
        _send(database, server)
        assert server.count_by_recipient() == Counter({r: 1 for r in readers})
        links = [m.parsed()["List-Unsubscribe"] for m in server.messages]
    # Everything but the test server's own loggers (aiosmtpd's "mail.log", asyncio).
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if not r.name.startswith(("mail.log", "asyncio")))
    assert "sending 2025-W14 by email to 5 recipients" in text
    assert "hunter2-relay" not in text and SECRET not in text
    assert "/unsubscribe/" not in text and not any(link[1:-1] in text for link in links)
    assert not any(reader in text for reader in readers)  # addresses are logged by id
