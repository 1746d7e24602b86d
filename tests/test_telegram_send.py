"""The Telegram broadcast through the ledger, against the loopback Bot API double
(tests/fakes/telegram.py) reached by python-telegram-bot over HTTP: every part to every
reader in order, once; blocked chats; 429s, 400s and network errors; a crash and a resume;
hostile text; the CLI."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.delivery.bot_api import Pace
from bot.delivery.ledger import Retries
from bot.delivery.telegram import TelegramJob, TelegramSend
from bot.digest import Digest
from bot.model import Channel, Status
from bot.render.telegram import TelegramPart, render_telegram
from bot.store import open_store
from tests.fakes.telegram import FakeBotApi
from tests.telegram_week import NOW, SETS, TOKEN, WEEK, telegram_store

NAME = "Nouvelles d'Asie centrale"
SITE = "https://lettre.example.fr"
PAGE = f"{SITE}/archive/{WEEK}/"  # the week's web version, linked by a last part


def job(api: FakeBotApi, **changes: object) -> TelegramJob:
    base = TelegramJob(TOKEN, api.url, NAME, public_url=SITE,
                       retries=Retries(first=dt.timedelta(milliseconds=200)))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def broadcast(database: Path, digest: Digest, telegram: TelegramJob) -> TelegramSend:
    send = TelegramSend(database, str(WEEK), digest, telegram, lambda: dt.datetime.now(dt.UTC))
    asyncio.run(send.run())
    return send


def expected_parts(database: Path, digest: Digest) -> dict[str, list[TelegramPart]]:
    with open_store(database) as store:
        readers = list(store.list_subscribers(Channel.TELEGRAM))
    wanted = {}
    for reader in readers:
        variant = digest.only(reader.countries)
        wanted[reader.address] = [] if variant.is_empty else render_telegram(
            variant, NAME, reader.locale, archive_url=PAGE)
    return wanted


def received(api: FakeBotApi) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = collections.defaultdict(list)
    for sent in api.sent:
        texts[str(sent.chat_id)].append(sent.html)
    return texts


def ledger(database: Path) -> dict[str, int]:
    with open_store(database) as store:
        return store.delivery_counts(store.digest_id(str(WEEK)), Channel.TELEGRAM)


def statuses(database: Path) -> collections.Counter[str]:
    with open_store(database) as store:
        return collections.Counter(s.status.value for s in
                                   store.list_subscribers(Channel.TELEGRAM))


def test_a_broadcast_reaches_everyone_in_order_past_blocks_and_429s(tmp_path: Path) -> None:
    database, digest, chats = telegram_store(tmp_path, 300, per_country=4)
    with open_store(database) as store:  # the channel is a subscriber like any other
        from bot.delivery.weeks import enroll_channel
        enroll_channel(store, "@asiecentrale", NOW)
    blocked = set(random.Random(5).sample(chats, 15))
    # The double at 120 messages/s (and our pace with it) keeps the test short; the
    # benchmark runs at Telegram's 30/s. Groups keep Telegram's 20 a minute.
    with FakeBotApi(token=TOKEN, global_rate=120) as api:
        for chat in blocked:
            api.block(int(chat))
        api.burst_429(5, retry_after=1)
        send = broadcast(database, digest, job(api, rate=120.0, channel="@asiecentrale"))
        assert not send.interrupted
        assert api.violations == [] and api.rate_limited == 0  # never over a limit
        assert api.injected_429 == 5
        wanted = expected_parts(database, digest)
        got = received(api)
        for chat, parts in wanted.items():
            if chat in blocked:
                continue
            key = chat.lower() if chat.startswith("@") else chat
            assert got.get(key, []) == [p.html for p in parts], chat  # in order, once each
        assert all(api.messages_to(int(chat)) == [] for chat in blocked)
        channel = api.messages_to("@asiecentrale")
        assert len(channel) == len(render_telegram(digest, NAME)) == 4
        # Numbered 1/4 to 4/4; the last links the week's page, the others do not.
        assert [f"<i>{n}/4</i>" in sent.html for n, sent in enumerate(channel, 1)] == [True] * 4
        assert [PAGE in sent.html for sent in channel] == [False, False, False, True]
        gaps = [b.at - a.at for a, b in itertools.pairwise(channel)]
        assert min(gaps) >= 2.9  # 20 a minute for a channel
        first = next(n for n, sent in enumerate(api.sent) if sent.chat_id == "@asiecentrale")
        assert first < 32  # the public post is claimed first (32 chats are written at once)
        assert all(sent.link_preview_disabled for sent in api.sent)
    empty = {chat for n, chat in enumerate(chats) if SETS[n % len(SETS)] == SETS[-1]}
    gone = blocked - empty  # a reader with nothing this week is skipped, not written to
    assert ledger(database) == {"sent": 301 - len(gone | empty), "failed": len(gone),
                                "skipped": len(empty)}
    assert statuses(database)["blocked"] == len(gone) > 10


def test_a_refused_part_fails_that_delivery_once_and_network_errors_are_retried(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database, digest, _ = telegram_store(tmp_path, 3)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # `bot` CLI runs set it to WARNING
    with FakeBotApi(token=TOKEN) as api:
        api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: oops")
        api.drop_next("sendMessage", 2)
        api.fail_next("sendMessage", 502, "Bad Gateway")  # after the 400: a retry
        broadcast(database, digest, job(api, concurrency=1))
        refused = [c for c in api.calls if c[1] == "sendMessage"]
        assert len(refused) >= len(api.sent) + 4
    counts = ledger(database)
    assert counts == {"failed": 1, "sent": 2}  # the 400 is not retried; the others got through
    with open_store(database) as store:
        error = store.conn.execute("SELECT last_error FROM deliveries WHERE status = 'failed'"
                                   ).fetchone()[0]
    assert error.startswith("part 1:")
    assert any("refused part 1 of" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert any(r.name == "httpx" and "/bot[secret]/sendMessage" in r.getMessage()
               for r in caplog.records)  # httpx did log the URLs, the token masked


def test_deactivated_and_unknown_chats_are_blocked(tmp_path: Path) -> None:
    database, digest, chats = telegram_store(tmp_path, 4)
    with FakeBotApi(token=TOKEN) as api:
        api.deactivate(int(chats[0]))
        api.unknown_chat(int(chats[1]))
        broadcast(database, digest, job(api))
    assert statuses(database) == {"blocked": 2, "active": 2}


def test_hostile_article_text_never_makes_a_message_telegram_refuses(tmp_path: Path) -> None:
    database, digest, _ = telegram_store(tmp_path, 16, hostile=True)
    with FakeBotApi(token=TOKEN) as api:
        broadcast(database, digest, job(api))
        assert api.violations == []
        assert any("<script>" in s.text for s in api.sent)  # shown as text, not markup
    assert "failed" not in ledger(database)


def test_the_pace_never_lets_a_server_see_more_than_the_rate_in_a_second() -> None:
    async def burst() -> list[float]:
        pace = Pace(30.0)
        starts: list[float] = []

        async def one(delay: float) -> None:
            await pace.acquire()
            starts.append(time.monotonic())
            await asyncio.sleep(delay)  # the network
            pace.release()

        rng = random.Random(2)
        await asyncio.gather(*(one(rng.uniform(0, 0.05)) for _ in range(70)))
        return starts

    starts = asyncio.run(burst())
    windows = [sum(1 for t in starts if s <= t < s + 1.0) for s in starts]
    assert max(windows) <= 30
    assert starts[-1] - starts[0] < 70 / 30 + 0.5  # and not much slower than the rate


def _bot_env(api: FakeBotApi, database: Path, tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    return {**keep, "BOT_DATABASE": str(database), "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.url, "BOT_SECRET_KEY": "k" * 32,
            "BOT_DIGESTS_DIR": str(tmp_path / "digests"), "BOT_OUTBOX": str(tmp_path / "out"),
            "BOT_PUBLIC_URL": SITE}


def _send(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "send", "--week", str(WEEK),
                             *args], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _collapse(texts: list[str]) -> list[str]:
    """A part sent twice in a row (in flight at a kill) counts once."""
    return [t for n, t in enumerate(texts) if n == 0 or texts[n - 1] != t]


def test_a_killed_broadcast_resumes_at_the_next_part(tmp_path: Path) -> None:
    database, digest, _ = telegram_store(tmp_path, 40)
    rng = random.Random(4)
    with FakeBotApi(token=TOKEN) as api:
        env = _bot_env(api, database, tmp_path)
        kills = 0
        while kills < 3:
            process = _send(env, "--channel", "telegram")
            target = len(api.sent) + rng.randint(10, 30)
            if not api.wait_for(lambda: len(api.sent) >= target or  # noqa: B023
                                process.poll() is not None,  # noqa: B023
                                timeout=60) or process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        final = _send(env, "--channel", "telegram")
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        assert kills == 3
        assert "on Telegram:" in out and TOKEN not in out + err
        got = received(api)
        duplicates = sum(len(t) - len(_collapse(t)) for t in got.values())
        assert api.violations == []
    for chat, parts in expected_parts(database, digest).items():
        assert _collapse(got.get(chat, [])) == [p.html for p in parts], chat
    assert duplicates <= 32 * kills  # only parts in flight at a kill, one per worker at most
    assert "pending" not in ledger(database) and "sending" not in ledger(database)


def test_bot_send_all_and_a_test_copy_to_a_chat(tmp_path: Path) -> None:
    database, digest, _ = telegram_store(tmp_path, 2)
    with open_store(database) as store:
        from bot.subscribers import NewSubscriber
        store.add_subscribers([NewSubscriber(Channel.EMAIL, "lectrice@example.org", "fr",
                                             frozenset())], Status.ACTIVE, "test", NOW)
    with FakeBotApi(token=TOKEN) as api:
        env = _bot_env(api, database, tmp_path)
        copy = _send(env, "--to", "777")
        out, err = copy.communicate(timeout=60)
        assert copy.returncode == 0, err
        assert "test copy" in out and len(api.messages_to(777)) == len(render_telegram(digest,
                                                                                       NAME))
        assert ledger(database) == {}  # a test copy touches no ledger
        dry = _send(env, "--channel", "all", "--dry-run")
        out, err = dry.communicate(timeout=60)
        assert dry.returncode == 0, err
        assert "would go to 1 email subscriber" in out and "would go to 2 Telegram chats" in out
        assert api.messages_to(100000) == [] and ledger(database) == {}
        both = _send(env, "--channel", "all")
        out, err = both.communicate(timeout=60)
        assert both.returncode == 0, err
    assert "by email: 1 sent" in out and "on Telegram: 2 sent" in out
    assert len(list((tmp_path / "out").iterdir())) == 1
    with open_store(database) as store:
        stored = store.get_digest(str(WEEK))
    assert stored is not None and stored.status == "sent"


def test_without_a_token_telegram_is_off_and_says_so(tmp_path: Path) -> None:
    database, _, _ = telegram_store(tmp_path, 1)
    with FakeBotApi(token=TOKEN) as api:
        env = _bot_env(api, database, tmp_path)
        del env["TELEGRAM_BOT_TOKEN"]
        process = _send(env, "--channel", "telegram")
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        assert api.sent == []
    assert "telegram: off (TELEGRAM_BOT_TOKEN is not set)" in out


def test_a_refused_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    database, _, _ = telegram_store(tmp_path, 1)
    with FakeBotApi(token="999:" + "Z" * 35) as api:
        process = _send(_bot_env(api, database, tmp_path), "--channel", "telegram")
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refused TELEGRAM_BOT_TOKEN" in err and TOKEN not in err
    assert len(err.strip().splitlines()) == 1

