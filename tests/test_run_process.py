"""`bot run` as real processes on one store: the week sent at its slot through the real SMTP
server, the outbox and the Telegram double; two processes due at the same moment send it
once; the sending one killed mid-send and the other finishing; SIGTERM mid-send; feeds
polled. The schedule sees a slot just passed: BOT_SEND_AT is computed from the real clock
(BOT_TIMEZONE=UTC), or the clock is pinned with BOT_FAKE_NOW."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.archive import digest_for_week
from bot.digest import Digest, IsoWeek
from bot.ingest import load
from bot.model import Channel, Status
from bot.render.telegram import render_telegram
from bot.runner import LEASE
from bot.store import ArticleQuery, open_store
from bot.subscribers import NewSubscriber
from tests.fakes.smtp import SmtpServer
from tests.fakes.telegram import FakeBotApi
from tests.telegram_week import SETS, TOKEN, telegram_store
from tests.test_runner import ENTRIES, Feed, serving_feed

pytestmark = pytest.mark.slow
UTC = ZoneInfo("UTC")
NAME = "Nouvelles d'Asie centrale"  # BOT_NEWSLETTER_NAME's default
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


# -- processes --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bot:
    """One `bot run`; its output goes to files (a pipe nobody reads would block it)."""

    process: subprocess.Popen[bytes]
    folder: Path
    public_url: str  # BOT_PUBLIC_URL, where its web pages answer

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return (self.folder / "stderr.txt").read_text(errors="replace")

    def stop(self) -> float:
        """SIGTERM, then the seconds it took to exit (30 at most, else the test fails)."""
        self.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        self.process.wait(timeout=30)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _start(tmp_path: Path, name: str, database: Path, **settings: str) -> Bot:
    folder = tmp_path / name  # its own working directory: no developer's .env is read
    folder.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "TELEGRAM_", "SMTP_", "MAIL_"))
           and k.lower() not in PROXIES}  # 127.0.0.1 must not go through a proxy
    env.update({"BOT_DATABASE": str(database), "BOT_SECRET_KEY": "k" * 32,
                "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "BOT_OUTBOX": str(tmp_path / "outbox"),
                "BOT_DIGESTS_DIR": str(tmp_path / "digests"), **settings})
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                   cwd=folder, stdout=out, stderr=err)
    return Bot(process, folder, env["BOT_PUBLIC_URL"])


@pytest.fixture
def bots() -> Iterator[list[Bot]]:
    """The processes a test starts: whatever happens, none outlives it."""
    started: list[Bot] = []
    yield started
    for bot in started:
        bot.kill()


def _until(predicate: Callable[[], bool], bots: list[Bot], timeout: float = 60) -> None:
    """Wait for `predicate`; fail at once, with its log, if a process ends meanwhile."""
    deadline = time.monotonic() + timeout
    while not predicate():
        for bot in bots:
            assert bot.process.poll() is None, f"bot run ended early:\n{bot.log()}"
        assert time.monotonic() < deadline, "timed out:\n" + "\n---\n".join(
            b.log()[-3000:] for b in bots)
        time.sleep(0.05)


# -- the store --------------------------------------------------------------------------------


@dataclass
class Due:
    """Settings that make a slot just passed (on the real clock), and the week it sends."""

    send_at: str
    week: IsoWeek

    @classmethod
    def now(cls) -> Due:
        slot = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(second=0,
                                                                           microsecond=0)
        return cls(f"{DAYS[slot.weekday()]} {slot:%H:%M}",
                   IsoWeek.of(slot.date() - dt.timedelta(days=7)))

    def env(self) -> dict[str, str]:
        return {"BOT_SEND_AT": self.send_at, "BOT_TIMEZONE": "UTC", "BOT_CATCHUP": "1h"}


PLACES = {"KZ": "Astana", "UZ": "Tachkent", "KG": "Bichkek", "TJ": "Douchanbé",
          "TM": "Achgabat"}
WORDS = ["projet", "accord", "réforme", "marché", "route", "eau", "énergie", "culture",
         "frontière"]


def _store(folder: Path, week: IsoWeek, emails: int, chats: int) -> tuple[Path, list[str],
                                                                        list[str]]:
    """A store with articles across `week` (enough for digests of several Telegram
    messages), `emails` email readers and `chats` Telegram readers going round SETS."""
    rng = random.Random(2)
    lines = [json.dumps({"title": f"{city} : nouvelle {n + 1} de la semaine",
                         "lead": f"À {city}, " + " ".join(rng.choice(WORDS) for _ in range(90)),
                         "url": f"https://www.example.fr/{code}/{n}",
                         "published": (week.monday + dt.timedelta(days=rng.randrange(7)))
                         .isoformat(), "country": code}, ensure_ascii=False)
             for code, city in PLACES.items() for n in range(5)]
    source = folder / "week.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    database = folder / "bot.sqlite3"
    now = dt.datetime.now(dt.UTC)
    addresses = [f"lecteur{n}@example.org" for n in range(emails)]
    chat_ids = [str(200_000 + n) for n in range(chats)]
    with open_store(database) as store:
        store.insert_articles(list(load(str(source), "jsonl", UTC, now.date()).articles()), now)
        store.add_subscribers([NewSubscriber(Channel.EMAIL, a, "fr", frozenset())
                               for a in addresses], Status.ACTIVE, "test", now)
        store.add_subscribers([NewSubscriber(Channel.TELEGRAM, c, ("fr", "en", "ru")[n % 3],
                                             SETS[n % len(SETS)])
                               for n, c in enumerate(chat_ids)], Status.ACTIVE, "test", now)
    return database, addresses, chat_ids


def _status(database: Path, week: IsoWeek) -> str | None:
    with open_store(database) as store:
        stored = store.get_digest(str(week))
    return stored.status if stored else None


def _ledger(database: Path, week: IsoWeek, channel: Channel) -> dict[str, int]:
    with open_store(database) as store:
        return store.delivery_counts(store.digest_id(str(week)), channel)


def _expected_parts(database: Path, week: IsoWeek) -> dict[str, list[str]]:
    """Each Telegram reader's parts, from the frozen digest, in order."""
    with open_store(database) as store:
        digest: Digest = digest_for_week(store, week, dt.datetime.now(dt.UTC), UTC).digest
        readers = list(store.list_subscribers(Channel.TELEGRAM))
    wanted = {}
    for reader in readers:
        variant = digest.only(reader.countries)
        wanted[reader.address] = [] if variant.is_empty else [
            p.html for p in render_telegram(variant, NAME, reader.locale,
                                            archive_url=f"{ANY_BOT}/archive/{week}/")]
    return wanted


# The last of several parts links the week's page at its sender's BOT_PUBLIC_URL, whose port
# is that process's own: compared as any of our bots'.
ANY_BOT = "http://127.0.0.1:0"
_A_BOT = re.compile(r"http://127\.0\.0\.1:\d+/archive/")


def _received(api: FakeBotApi) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = collections.defaultdict(list)
    for sent in api.sent:
        texts[str(sent.chat_id)].append(_A_BOT.sub(f"{ANY_BOT}/archive/", sent.html))
    return texts


def _collapse(texts: list[str]) -> list[str]:
    """A part sent twice in a row (in flight at a kill) counts once."""
    return [t for n, t in enumerate(texts) if n == 0 or texts[n - 1] != t]


def _sending(bots: list[Bot], week: IsoWeek) -> list[Bot]:
    return [b for b in bots if f"sending {week} by email" in b.log()]


# -- two processes ----------------------------------------------------------------------------


def test_two_processes_due_at_the_same_moment_send_the_week_once(
        tmp_path: Path, bots: list[Bot]) -> None:
    due = Due.now()
    database, emails, _ = _store(tmp_path, due.week, emails=300, chats=12)
    with SmtpServer() as smtp, FakeBotApi(token=TOKEN) as api:
        settings = {**due.env(), "SMTP_URL": smtp.url, "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_API_URL": api.url, "BOT_EMAIL_RATE": "1000"}
        bots += [_start(tmp_path, name, database, **settings) for name in ("a", "b")]
        _until(lambda: _status(database, due.week) == "sent", bots)
        time.sleep(1)  # long enough for a second sender to show itself, if there were one
        took = [bot.stop() for bot in bots]
        assert [bot.process.returncode for bot in bots] == [0, 0], bots[0].log() + bots[1].log()
        assert max(took) < 10
        assert smtp.count_by_recipient() == Counter({a: 1 for a in emails})
        wanted, got = _expected_parts(database, due.week), _received(api)
        assert sum(len(parts) > 1 for parts in wanted.values()) >= 4  # several parts
        assert {chat: got.get(chat, []) for chat in wanted} == wanted  # each part once
        assert api.violations == []
    [sender] = _sending(bots, due.week)  # one of them sent, the other stood by
    assert f"sending {due.week} on Telegram to 12 chats" in sender.log()
    assert _ledger(database, due.week, Channel.EMAIL) == {"sent": 300}
    with open_store(database) as store:
        assert store.lease_holder(LEASE) is None  # both gave it back


def test_the_sender_killed_mid_send_and_the_other_finishes_the_week_at_once(
        tmp_path: Path, bots: list[Bot]) -> None:
    due = Due.now()
    database, emails, _ = _store(tmp_path, due.week, emails=300, chats=12)
    with SmtpServer() as smtp, FakeBotApi(token=TOKEN) as api:
        # 100 messages a second: the email half of the week takes three seconds
        settings = {**due.env(), "SMTP_URL": smtp.url, "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_API_URL": api.url, "BOT_EMAIL_RATE": "100"}
        bots += [_start(tmp_path, name, database, **settings) for name in ("a", "b")]
        _until(lambda: len(smtp.messages) >= 40, bots)
        with open_store(database) as store:
            held = store.lease_holder(LEASE)
        assert held is not None
        host, _, pid = held[0].rpartition(":")
        assert host == socket.gethostname()
        [victim] = [bot for bot in bots if bot.pid == int(pid)]
        [survivor] = [bot for bot in bots if bot is not victim]
        victim.kill()  # SIGKILL: no clean stop, its lease and claims stay in the store
        killed_at = time.monotonic()
        at_kill = len(smtp.messages)
        assert at_kill < 300  # mid-send
        assert _status(database, due.week) == "sending"
        _until(lambda: _status(database, due.week) == "sent", [survivor])
        # At once: not after the dead holder's 60 s lease (nor its 5 min delivery claims).
        assert time.monotonic() - killed_at < 20
        assert survivor.stop() < 10 and survivor.process.returncode == 0, survivor.log()
        assert api.violations == []
        messages, got = smtp.messages, _received(api)
    assert f"took over sending from {held[0]}, which is gone" in survivor.log()
    assert "the send of" in survivor.log() and "was interrupted; finishing it" in survivor.log()
    per_reader = Counter(r for m in messages for r in m.recipients)
    assert set(per_reader) == set(emails)
    assert sum(n - 1 for n in per_reader.values()) <= 2  # the messages in flight at the kill
    ids: dict[str, set[str | None]] = collections.defaultdict(set)
    for message in messages:
        ids[message.recipients[0]].add(message.message_id)
    assert all(len(found) == 1 for found in ids.values())  # a resend is the same message
    for chat, parts in _expected_parts(database, due.week).items():
        assert _collapse(got.get(chat, [])) == parts, chat
    duplicates = sum(len(t) - len(_collapse(t)) for t in got.values())
    assert duplicates <= 12  # parts in flight at the kill, one per chat at most
    assert _ledger(database, due.week, Channel.EMAIL) == {"sent": 300}
    assert not {"pending", "sending"} & set(_ledger(database, due.week, Channel.TELEGRAM))


# -- one process ------------------------------------------------------------------------------


def test_bot_run_sends_at_the_slot_through_the_outbox_and_telegram_then_stops_on_sigterm(
        tmp_path: Path, bots: list[Bot]) -> None:
    """The clock set with BOT_FAKE_NOW a minute after the default slot (Monday 08:00, here
    in UTC); the sample week of tests/telegram_week.py, previewed (frozen) already; no
    SMTP_URL: the outbox."""
    database, _, chats = telegram_store(tmp_path, 6)
    week = IsoWeek(2025, 14)
    emails = ["ana@example.org", "bakyt@example.org", "dilnoza@example.org"]
    with open_store(database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, a, "fr", frozenset())
                               for a in emails], Status.ACTIVE, "test",
                              dt.datetime(2025, 4, 7, tzinfo=dt.UTC))
    with FakeBotApi(token=TOKEN) as api:
        bots.append(_start(tmp_path, "a", database, BOT_FAKE_NOW="2025-04-07T08:01:00Z",
                           BOT_TIMEZONE="UTC", TELEGRAM_BOT_TOKEN=TOKEN,
                           TELEGRAM_API_URL=api.url))
        _until(lambda: _status(database, week) == "sent", bots)
        took = bots[0].stop()
        assert bots[0].process.returncode == 0, bots[0].log()
        assert took < 10
        got = _received(api)
        assert api.violations == []
    log = bots[0].log()
    assert "bot run: next send Monday 2025-04-14 08:00 UTC (2025-W15)" in log
    assert "2025-W14 is due since Monday 2025-04-07 08:00 UTC" in log
    assert "bot run: stopped" in log and TOKEN not in log
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    assert sorted(_to(path) for path in outbox) == emails
    wanted = _expected_parts(database, week)
    assert set(wanted) == set(chats)
    assert {chat: got.get(chat, []) for chat in wanted} == wanted


def _to(path: Path) -> str:
    from email import message_from_bytes, policy

    return str(message_from_bytes(path.read_bytes(), policy=policy.default)["To"])


def test_sigterm_mid_send_stops_cleanly_and_the_next_run_finishes_without_duplicates(
        tmp_path: Path, bots: list[Bot]) -> None:
    due = Due.now()
    database, emails, _ = _store(tmp_path, due.week, emails=200, chats=0)
    with SmtpServer() as smtp:
        settings = {**due.env(), "SMTP_URL": smtp.url, "BOT_EMAIL_RATE": "50"}
        bots.append(_start(tmp_path, "a", database, **settings))
        _until(lambda: len(smtp.messages) >= 20, bots)
        took = bots[0].stop()
        assert bots[0].process.returncode == 0, bots[0].log()
        assert took < 10
        stopped_at = len(smtp.messages)
        assert stopped_at < 200
        assert _status(database, due.week) == "sending"
        ledger = _ledger(database, due.week, Channel.EMAIL)
        assert "sending" not in ledger  # every claim finished or given back
        assert ledger["sent"] == stopped_at
        with open_store(database) as store:
            assert store.lease_holder(LEASE) is None
        # Later, past BOT_CATCHUP even: the next `bot run` finishes what was begun.
        bots.append(_start(tmp_path, "b", database, **{
            **settings, "BOT_EMAIL_RATE": "1000", "BOT_CATCHUP": "0s"}))
        _until(lambda: _status(database, due.week) == "sent", bots[1:])
        assert bots[1].stop() < 10 and bots[1].process.returncode == 0
        assert smtp.count_by_recipient() == Counter({a: 1 for a in emails})
    assert "was interrupted; finishing it" in bots[1].log()


# -- feeds ------------------------------------------------------------------------------------


def test_bot_run_polls_the_feeds_and_stores_new_entries_once(
        tmp_path: Path, bots: list[Bot]) -> None:
    database = tmp_path / "bot.sqlite3"
    with open_store(database):  # created here: the test never reads a store being created
        pass
    feed = Feed()
    feed.set(*ENTRIES[:2])

    def titles() -> list[str]:
        with open_store(database) as store:
            return sorted(a.title for a in store.list_articles(ArticleQuery()))

    with serving_feed(feed) as base:
        bots.append(_start(tmp_path, "a", database, BOT_FEEDS=f"{base}/feed.xml",
                           BOT_FEED_INTERVAL="1s", BOT_FAKE_NOW="2025-04-10T11:00:00+02:00"))
        _until(lambda: len(titles()) == 2, bots, timeout=30)
        feed.set(*ENTRIES)  # one more entry; the two others still listed
        _until(lambda: len(titles()) == 3, bots, timeout=30)
        polls = feed.requests
        _until(lambda: feed.requests >= polls + 2, bots, timeout=30)  # polled again, twice
        assert titles() == sorted(title for _, title, _ in ENTRIES)
        assert bots[0].stop() < 10 and bots[0].process.returncode == 0
    log = bots[0].log()
    assert f"feed {base}/feed.xml: 2 new articles" in log
    assert f"feed {base}/feed.xml: 1 new articles" in log
    assert f"feed {base}/feed.xml: 0 new articles" in log
