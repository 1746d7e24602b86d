"""One pace for one process: inside `bot run`, the Telegram bot's replies and the weekly
broadcast wait for the same `Pace`, so that 1,000 /latest arriving while the week goes out
meet no 429 from a Bot API double that enforces Telegram's 30 messages a second."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.digest import IsoWeek
from bot.ingest import load
from bot.model import Channel, Status
from bot.store import open_store
from bot.subscribers import NewSubscriber
from tests.fakes.telegram import FakeBotApi
from tests.telegram_week import SETS, TOKEN
from tests.test_run_process import UTC, Bot, Due, _start, _status, _until, bots

__all__ = ["bots"]  # the fixture, used by name
pytestmark = pytest.mark.slow
ASKING = 1000  # chats sending /latest during the broadcast
READERS = 120  # Telegram subscribers of the broadcast


def _small_week(folder: Path, week: IsoWeek) -> tuple[Path, list[str]]:
    """A week whose digest is one message, and READERS Telegram subscribers."""
    lines = [json.dumps({"title": f"Nouvelle {n} d’{city}", "lead": f"À {city}, un fait.",
                         "url": f"https://www.example.fr/{code}", "country": code,
                         "published": (week.monday + dt.timedelta(days=n)).isoformat()},
                        ensure_ascii=False)
             for n, (code, city) in enumerate((("KZ", "Astana"), ("UZ", "Tachkent"),
                                               ("KG", "Bichkek")))]
    source = folder / "week.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    database, now = folder / "bot.sqlite3", dt.datetime.now(dt.UTC)
    chats = [str(300_000 + n) for n in range(READERS)]
    with open_store(database) as store:
        store.insert_articles(list(load(str(source), "jsonl", UTC, now.date()).articles()), now)
        store.add_subscribers([NewSubscriber(Channel.TELEGRAM, c, "fr", SETS[n % len(SETS)])
                               for n, c in enumerate(chats)], Status.ACTIVE, "test", now)
    return database, chats


def test_replies_and_broadcast_share_one_pace(tmp_path: Path, bots: list[Bot]) -> None:
    due = Due.now()
    database, _ = _small_week(tmp_path, due.week)
    asking = [700_000 + n for n in range(ASKING)]
    with FakeBotApi(token=TOKEN) as api:
        for chat in asking[:50]:  # waiting when the bot starts polling, with the send
            api.send_command(chat, "/latest")
        runner = _start(tmp_path, "run", database, **due.env(), TELEGRAM_BOT_TOKEN=TOKEN,
                        TELEGRAM_API_URL=api.url)
        bots.append(runner)
        _until(lambda: len(api.sent) > 0, bots)  # the broadcast has begun
        for chat in asking[50:]:
            api.send_command(chat, "/latest")
        answered = {str(c) for c in asking}

        def done() -> bool:
            got = {str(s.chat_id) for s in api.sent}
            return _status(database, due.week) == "sent" and answered <= got

        _until(done, bots, timeout=150)
        assert runner.stop() < 10, runner.log()
        got = {str(s.chat_id) for s in api.sent}
        broadcast = [s for s in api.sent if str(s.chat_id).startswith("3")]
        replies = [s for s in api.sent if str(s.chat_id).startswith("7")]
        first_reply = min(s.at for s in replies)
        assert any(s.at > first_reply for s in broadcast)  # the two overlapped
        assert api.rate_limited == 0, api.throttled[:5]
        assert answered <= got and len(replies) == ASKING
        assert api.violations == []
