"""`bot run`'s schedule in process (bot/runner.py) with a pinned clock: catch-up inside and
outside BOT_CATCHUP, an interrupted send resumed, an empty week, the sender's lease, a clean
stop, and feed polling against a real local HTTP server.

Long because the schedule is one table of cases, each needing the same pinned clock, store,
SMTP server and Bot API double set up here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from bot.archive import digest_for_week
from bot.config import Settings
from bot.delivery.email import EmailSend
from bot.delivery.mail_transport import Smtp
from bot.delivery.weeks import email_job
from bot.digest import IsoWeek
from bot.ingest import load
from bot.links import week_page
from bot.mail import Wire
from bot.model import Channel, Status
from bot.render.telegram import render_telegram
from bot.runner import LEASE, LEASE_TTL, Runner
from bot.store import ArticleQuery, open_store
from bot.subscribers import NewSubscriber
from bot.timing import Action, plan
from tests.conftest import SAMPLE, Bot
from tests.fakes.smtp import SmtpServer
from tests.fakes.telegram import FakeBotApi
from tests.http_server import serving
from tests.telegram_week import TOKEN, telegram_store
from tests.web_server import Clock

PARIS = __import__("zoneinfo").ZoneInfo("Europe/Paris")
W14 = IsoWeek(2025, 14)  # the sample's week before the slot of Monday 2025-04-07
SLOT = dt.datetime(2025, 4, 7, 6, 0, tzinfo=dt.UTC)  # 08:00 in Paris
IMPORTED = dt.datetime(2025, 4, 6, 12, 0, tzinfo=dt.UTC)
READERS = [f"lecteur{n}@example.org" for n in range(6)]


class Running:
    """A clock that starts at a given instant and runs at the real pace (email's rate
    limiter waits on it)."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        self.origin = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.origin)


class Admins:
    """A `notify` that records what the admins were told."""

    def __init__(self) -> None:
        self.told: list[str] = []

    async def __call__(self, text: str) -> None:
        self.told.append(text)


def _settings(folder: Path, **env: str) -> Settings:
    return Settings.from_environ({
        "BOT_DATABASE": str(folder / "bot.sqlite3"), "BOT_DIGESTS_DIR": str(folder / "digests"),
        "BOT_OUTBOX": str(folder / "outbox"), "BOT_SECRET_KEY": "k" * 32,
        "BOT_TIMEZONE": "Europe/Paris", "BOT_SEND_AT": "lundi 08:00", "BOT_CATCHUP": "24h",
        "BOT_EMAIL_RATE": "1000", **env})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A store with the bundled sample and a few active email readers."""
    with open_store(tmp_path / "bot.sqlite3") as store:
        store.insert_articles(list(load(str(SAMPLE), None, PARIS, IMPORTED.date()).articles()),
                              IMPORTED)
        store.add_subscribers([NewSubscriber(Channel.EMAIL, r, "fr", frozenset())
                               for r in READERS], Status.ACTIVE, "test", IMPORTED)
    return tmp_path


def _outbox(folder: Path) -> list[str]:
    """The To of each message in the outbox."""
    found = sorted((folder / "outbox").glob("*.eml")) if (folder / "outbox").exists() else []
    return sorted(str(message_from_bytes(p.read_bytes(), policy=policy.default)["To"])
                  for p in found)


def _digest_status(folder: Path, week: IsoWeek) -> str | None:
    with open_store(folder / "bot.sqlite3") as store:
        stored = store.get_digest(str(week))
    return stored.status if stored else None


def _ledger(folder: Path, week: IsoWeek) -> dict[str, int]:
    with open_store(folder / "bot.sqlite3") as store:
        return store.delivery_counts(store.digest_id(str(week)))


async def _check(runner: Runner) -> bool:
    """One check; waits for the send it starts. True if it started one."""
    before = runner.running.get("send")
    await runner.check()
    send = runner.running.get("send")
    if send is None or send is before:
        return False
    await send
    return True


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "bot.runner" and r.levelno == logging.WARNING and text in r.getMessage()]


# -- catch-up ---------------------------------------------------------------------------------


def test_a_slot_missed_by_less_than_catchup_is_sent_at_the_first_check(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    settings, clock, admins = _settings(folder), Clock(SLOT + dt.timedelta(hours=23)), Admins()
    runner = Runner(settings, clock, admins)

    async def scenario() -> None:
        assert await _check(runner)
        clock.advance(seconds=5)
        assert not await _check(runner)  # sent: nothing more until the next slot
        assert not await _check(Runner(settings, clock, admins))  # nor after a restart

    asyncio.run(scenario())
    assert _outbox(folder) == sorted(READERS)
    assert _digest_status(folder, W14) == "sent"
    assert _ledger(folder, W14) == {"sent": len(READERS)}
    assert admins.told == []
    assert any("2025-W14 is due since Monday 2025-04-07 08:00 Europe/Paris (23 h ago, within "
               "BOT_CATCHUP)" in r.getMessage() for r in caplog.records)
    with open_store(folder / "bot.sqlite3") as store:
        assert store.lease_holder(LEASE) == (runner.holder, clock() + LEASE_TTL)


def test_a_slot_missed_by_more_than_catchup_is_not_sent_and_admins_are_told_once(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(folder)
    clock, admins = Clock(SLOT + dt.timedelta(hours=24, minutes=1)), Admins()
    runner = Runner(settings, clock, admins)

    async def scenario() -> None:
        assert not await _check(runner)
        clock.advance(seconds=5)
        assert not await _check(runner)
        clock.advance(hours=2)
        assert not await _check(Runner(settings, clock, admins))  # a restart: still quiet

    asyncio.run(scenario())
    # Two processes deciding at once would both act: the store lets one tell the admins.
    decided = plan(clock(), settings.send_at, settings.timezone, settings.catchup, {}, [])
    assert decided.action is Action.STALE
    asyncio.run(Runner(settings, clock, admins).act(decided))
    assert _outbox(folder) == []
    assert _digest_status(folder, W14) is None  # not even frozen
    [told] = admins.told
    assert "2025-W14" in told and "BOT_CATCHUP" in told
    assert "bot send --week 2025-W14" in told
    [warned] = _warnings(caplog, "BOT_CATCHUP")
    assert warned.startswith("2025-W14 was due Monday 2025-04-07 08:00 Europe/Paris, 1 d 1 min "
                             "ago: more than BOT_CATCHUP (1 d)")
    with open_store(folder / "bot.sqlite3") as store:
        assert store.week_states(["2025-W14"]) == {"2025-W14": "stale"}


def test_the_next_slot_is_sent_after_a_stale_one(folder: Path) -> None:
    """A stale week does not block the following ones (2025-W15 is empty, W16 is not)."""
    with open_store(folder / "bot.sqlite3") as store:
        day = dt.date(2025, 4, 16)
        store.insert_articles(list(load(str(_jsonl(folder, day)), "jsonl", PARIS, day)
                                   .articles()), IMPORTED)
    settings, admins = _settings(folder), Admins()
    clock = Clock(SLOT + dt.timedelta(days=2))

    async def scenario() -> None:
        assert not await _check(Runner(settings, clock, admins))  # W14: stale
        clock.now = SLOT + dt.timedelta(days=14, minutes=3)  # W16's slot (W15's was missed)
        assert await _check(Runner(settings, clock, admins))

    asyncio.run(scenario())
    assert len(admins.told) == 1 and "2025-W14" in admins.told[0]
    assert _digest_status(folder, IsoWeek(2025, 16)) == "sent"
    assert _outbox(folder) == sorted(READERS)


def test_a_stale_week_without_articles_raises_no_alarm(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    """W15 has no articles: past its slot and BOT_CATCHUP, nothing would have gone out, so
    the admins are not told that a digest was missed (a new store, a quiet week)."""
    settings, admins = _settings(folder), Admins()
    clock = Clock(SLOT + dt.timedelta(days=9))  # W15's slot (Monday 14 April) + 2 days
    assert not asyncio.run(_check(Runner(settings, clock, admins)))
    assert admins.told == [] and _warnings(caplog, "BOT_CATCHUP") == []
    with open_store(folder / "bot.sqlite3") as store:
        assert store.week_states(["2025-W15"]) == {"2025-W15": "empty"}


def _jsonl(folder: Path, day: dt.date) -> Path:
    path = folder / f"extra-{day}.jsonl"
    path.write_text('{"title": "Astana inaugure un pont", "lead": "Le pont relie les rives.", '
                    f'"published": "{day}", "country": "KZ"}}\n', encoding="utf-8")
    return path


def test_both_channels_go_out_and_each_message_once(tmp_path: Path) -> None:
    """Email (the outbox, done in no time) and Telegram (paced) in one process: the channel
    done first must not give back the other's messages in flight."""
    database, _, chats = telegram_store(tmp_path, 12)
    with open_store(database) as store:
        store.add_subscribers([NewSubscriber(Channel.EMAIL, r, "fr", frozenset())
                               for r in READERS], Status.ACTIVE, "test", IMPORTED)
        digest = digest_for_week(store, W14, SLOT, PARIS).digest
    with FakeBotApi(token=TOKEN) as api:
        api.latency = 0.05  # Telegram still sending when the email is done (in about 0.5 s)
        settings = _settings(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url,
                             BOT_EMAIL_RATE="10")
        clock = Running(SLOT + dt.timedelta(minutes=1))
        assert asyncio.run(_check(Runner(settings, clock)))
        got: dict[str, list[str]] = {}
        for sent in api.sent:
            got.setdefault(str(sent.chat_id), []).append(sent.html)
        assert api.violations == []
    with open_store(database) as store:
        readers = list(store.list_subscribers(Channel.TELEGRAM))
    for reader in readers:
        variant = digest.only(reader.countries)
        wanted = [] if variant.is_empty else [
            p.html for p in render_telegram(variant, settings.newsletter_name, reader.locale,
                                            archive_url=week_page(settings.public_url, W14))]
        assert got.get(reader.address, []) == wanted, reader.address
    assert sum(len(parts) for parts in got.values()) > len(chats)  # several parts, some chats
    assert _outbox(tmp_path) == sorted(READERS)
    assert _digest_status(tmp_path, W14) == "sent"


# -- resume and empty weeks -------------------------------------------------------------------


class StopAfter:
    """A transport that stops its send after `count` messages (a crash, politely)."""

    def __init__(self, inner: Smtp, count: int) -> None:
        self.inner = inner
        self.count = count
        self.send_run: EmailSend | None = None

    def send(self, message: Wire) -> None:
        self.inner.send(message)
        self.count -= 1
        if self.count == 0 and self.send_run is not None:
            self.send_run.stop.set()

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> str:
        return self.inner.describe()


def test_an_interrupted_send_is_finished_at_the_first_check_whatever_the_time(
        folder: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    settings = _settings(folder, SMTP_URL=smtp_server.url)
    with open_store(settings.database) as store:  # a send that started, then stopped
        digest = digest_for_week(store, W14, SLOT, PARIS).digest
        store.mark_digest(str(W14), "sending", SLOT)
    transport = StopAfter(Smtp(smtp_server.url, timeout=5), 2)
    first = EmailSend(settings.database, str(W14), digest,
                      dataclasses.replace(email_job(settings, W14), concurrency=1), transport,
                      lambda: SLOT)
    transport.send_run = first
    first.run()
    assert _ledger(folder, W14) == {"sent": 2, "pending": len(READERS) - 2}
    assert _digest_status(folder, W14) == "sending"
    # Two days later (past BOT_CATCHUP, mid-week): the send is finished, not declared stale.
    clock, admins = Clock(SLOT + dt.timedelta(days=2, hours=3)), Admins()

    async def scenario() -> None:
        assert await _check(Runner(settings, clock, admins))
        clock.advance(seconds=5)
        assert not await _check(Runner(settings, clock, admins))

    asyncio.run(scenario())
    assert smtp_server.count_by_recipient() == Counter({r: 1 for r in READERS})
    assert _ledger(folder, W14) == {"sent": len(READERS)}
    assert _digest_status(folder, W14) == "sent"
    assert admins.told == []
    assert any("the send of 2025-W14 was interrupted; finishing it" in r.getMessage()
               for r in caplog.records)


def test_an_empty_week_sends_nothing_and_admins_are_told_once(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings, admins = _settings(folder), Admins()
    clock = Clock(SLOT + dt.timedelta(days=7, minutes=1))  # the slot of 2025-W15: no articles

    async def scenario() -> None:
        await _check(Runner(settings, clock, admins))
        clock.advance(seconds=5)
        assert not await _check(Runner(settings, clock, admins))
        clock.advance(hours=1)
        assert not await _check(Runner(settings, clock, admins))

    asyncio.run(scenario())
    assert admins.told == ["ℹ️ 2025-W15 : aucun article, rien n’a été envoyé."]
    assert _warnings(caplog, "2025-W15") == ["2025-W15 has no articles: nothing is sent"]
    assert _outbox(folder) == []
    assert _digest_status(folder, IsoWeek(2025, 15)) is None


# -- one sender at a time ---------------------------------------------------------------------


def _hold(folder: Path, holder: str, now: dt.datetime) -> None:
    with open_store(folder / "bot.sqlite3") as store:
        assert store.take_lease(LEASE, holder, now, LEASE_TTL)


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(("who", "wait", "sends"), [
    ("elsewhere", dt.timedelta(0), False),  # alive, for all we know: wait for its lease
    ("alive here", dt.timedelta(seconds=59), False),
    ("elsewhere", LEASE_TTL + dt.timedelta(seconds=1), True),  # its lease ran out
    ("dead here", dt.timedelta(0), True),  # its process is gone: at once
])
def test_only_the_lease_holder_sends(folder: Path, who: str, wait: dt.timedelta,
                                     sends: bool, caplog: pytest.LogCaptureFixture) -> None:
    holder = {"elsewhere": "elsewhere:4242",
              "alive here": f"{socket.gethostname()}:{os.getppid()}",
              "dead here": f"{socket.gethostname()}:{_dead_pid()}"}[who]
    _hold(folder, holder, SLOT)
    clock = Clock(SLOT + wait)
    runner = Runner(_settings(folder), clock, Admins())
    assert asyncio.run(_check(runner)) is sends
    assert _outbox(folder) == (sorted(READERS) if sends else [])
    with open_store(folder / "bot.sqlite3") as store:
        held = store.lease_holder(LEASE)
    assert held is not None and held[0] == (runner.holder if sends else holder)
    took_over = [r.getMessage() for r in caplog.records if "took over sending" in r.getMessage()]
    assert took_over == ([f"took over sending from {holder}, which is gone"]
                         if sends and wait == dt.timedelta(0) else [])


def test_run_checks_at_once_and_gives_the_lease_back_when_stopped(folder: Path) -> None:
    settings = _settings(folder)
    clock = Clock(SLOT - dt.timedelta(hours=1))  # nothing due: W13 was declared stale
    with open_store(settings.database) as store:
        store.add_notice("2025-W13", "stale", clock())
    runner = Runner(settings, clock, Admins())
    assert runner.next_send() == "Monday 2025-04-07 08:00 Europe/Paris (2025-W14)"

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        for _ in range(500):
            with open_store(settings.database) as store:
                if store.lease_holder(LEASE) is not None:
                    break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    with open_store(settings.database) as store:
        assert store.lease_holder(LEASE) is None
    asyncio.run(scenario())
    with open_store(settings.database) as store:
        assert store.lease_holder(LEASE) is None  # given back: another process takes it now
    assert _outbox(folder) == []


# -- feeds ------------------------------------------------------------------------------------


def _atom(*entries: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<entry><title>{title}</title><id>urn:test:{key}</id>"
        f'<link href="https://ex.fr/{key}"/><updated>{day}T08:00:00Z</updated>'
        f"<summary>{title}, selon nos informations.</summary></entry>"
        for key, title, day in entries)
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Fil</title><id>urn:test</id><updated>2025-04-10T00:00:00Z</updated>"
            f"{body}</feed>").encode()


ENTRIES = [("kz", "Astana accueille un forum", "2025-04-08"),
           ("uz", "Tachkent ouvre une ligne de métro", "2025-04-09"),
           ("tj", "Douchanbé inaugure un barrage", "2025-04-10")]


class Feed:
    """A feed served over HTTP on 127.0.0.1 that the test can grow; counts requests."""

    def __init__(self) -> None:
        self.body = _atom()
        self.requests = 0
        self.lock = threading.Lock()

    def set(self, *entries: tuple[str, str, str]) -> None:
        with self.lock:
            self.body = _atom(*entries)

    def serve(self, path: str) -> bytes | None:
        if path != "/feed.xml":
            return None
        with self.lock:
            self.requests += 1
            return self.body


@contextmanager
def serving_feed(feed: Feed) -> Iterator[str]:
    """Yields the base URL; /feed.xml is the feed, anything else a 404."""
    with serving(feed.serve, "application/atom+xml; charset=utf-8") as base:
        yield base


def test_feeds_are_polled_and_new_entries_stored_once(
        tmp_path: Path, no_proxy: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    feed = Feed()
    feed.set(*ENTRIES[:2])
    with serving_feed(feed) as base:
        settings = _settings(tmp_path, BOT_FEEDS=f"{base}/missing.xml {base}/feed.xml",
                             BOT_FEED_INTERVAL="10m")
        assert settings.feed_interval == dt.timedelta(minutes=10)
        clock = Clock(dt.datetime(2025, 4, 10, 9, 0, tzinfo=dt.UTC))
        runner = Runner(settings, clock)
        runner.read_feeds()
        feed.set(*ENTRIES)  # the feed grows: one new entry, the two others again
        clock.advance(minutes=10)
        runner.read_feeds()
        runner.read_feeds()
        assert feed.requests == 3
    with open_store(settings.database) as store:
        articles = store.list_articles(ArticleQuery())
    assert sorted(a.title for a in articles) == sorted(title for _, title, _ in ENTRIES)
    assert {a.url for a in articles} == {f"https://ex.fr/{key}" for key, _, _ in ENTRIES}
    assert {a.published for a in articles} == {dt.date.fromisoformat(d) for _, _, d in ENTRIES}
    news = [r.getMessage() for r in caplog.records if r.getMessage().startswith(
        f"feed {base}/feed.xml:")]
    assert news == [f"feed {base}/feed.xml: {n} new articles" for n in (2, 1, 0)]
    missing = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
               and f"{base}/missing.xml" in r.getMessage()]
    assert len(missing) == 3 and "404" in missing[0]  # a broken feed does not stop the others


# -- bot stats --------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [
    ({"BOT_FAKE_NOW": "2025-04-07T07:59:00+02:00"},
     "Monday 2025-04-07 08:00 Europe/Paris (2025-W14; BOT_SEND_AT=monday 08:00)"),
    # a minute after the slot, in summer time and in winter time: whatever the real date,
    # one of them is pinned across a daylight-saving change from it
    ({"BOT_FAKE_NOW": "2025-04-07T08:01:00+02:00"},
     "Monday 2025-04-14 08:00 Europe/Paris (2025-W15; BOT_SEND_AT=monday 08:00)"),
    ({"BOT_FAKE_NOW": "2025-01-06T08:01:00+01:00"},
     "Monday 2025-01-13 08:00 Europe/Paris (2025-W02; BOT_SEND_AT=monday 08:00)"),
    ({"BOT_FAKE_NOW": "2025-03-29T12:00:00+01:00", "BOT_SEND_AT": "dimanche 02h30"},
     "Sunday 2025-03-30 03:30 Europe/Paris (2025-W12; BOT_SEND_AT=sunday 02:30)"),
    ({"BOT_FAKE_NOW": "2025-04-07T12:00:00Z", "BOT_SEND_AT": "mercredi 18h30",
      "BOT_TIMEZONE": "Asia/Almaty"},
     "Wednesday 2025-04-09 18:30 Asia/Almaty (2025-W14; BOT_SEND_AT=wednesday 18:30)"),
])
def test_bot_stats_shows_the_next_send(bot: Bot, env: dict[str, str], expected: str) -> None:
    result = bot("stats", **env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"next send: {expected}"
