"""Telegram: the broadcast's pace against a Bot API that enforces 30 messages a second, and
how long `/latest` and `/pays` take to handle on a 1,000,000-article store.

Long because its two halves (the broadcast's pace, the commands' latency on a
1,000,000-article store) share the store, the Bot API double and the report.

    python benchmarks/bench_telegram.py                   # both halves, about 2 min
    python benchmarks/bench_telegram.py --quick           # both halves, small; about 3 s
    python benchmarks/bench_telegram.py --readers 300     # a 300-reader broadcast; about 45 s
    python benchmarks/bench_telegram.py --skip-broadcast  # the latency half, about 30 s
    python benchmarks/bench_telegram.py --skip-broadcast --articles 100000 --calls 200

The broadcast: the loopback Bot API double of the tests (tests/fakes/telegram.py, in this
process, enforcing Telegram's 30 messages/s over any one-second window and 20 a minute per
channel, answering 429 past them) and `bot send --week 2025-W14 --channel telegram` as a
process of its own, on a store of N Telegram readers going round 8 country sets (a week of
several messages for those following every section). Reported: the messages, the rate they
arrived at (from the first to the last arrival) as a ratio of 30/s, the 429 answers, and the
command's wall time.

The latency: a store of 1,000,000 articles over the ten years up to the pinned clock
(Wednesday 9 April 2025, 10:00 in Paris; about 1,900 a week, countries unevenly spread,
the sample's titles and leads), weeks 2025-W07 to W14 frozen and W07 to W13 marked sent (so
/latest shows W13), and Telegram readers in fr/en/ru following various sections, some
unsubscribed. Updates go through the real PTB `Application` of
`bot.chat.build_application`, `await app.process_update(update)`, its bot talking to a stub
`BaseRequest` that answers at once with canned results (no socket). Three kinds: `/latest`,
`/pays`, and a press of a /pays section button, from readers subscribed or not, in French,
English or Russian. Each kind: its first call apart (cold caches), then N calls: median,
99th percentile (nearest rank), maximum, and the process's CPU time over the same calls
(wall time beyond it is waiting: for the disk, or for a core on a busy machine); full
garbage collections falling inside a call are counted. /latest is split between the calls
that render a (language, sections) pair for the first time and those served from the
bot's cache.

`--quick` runs both halves on small sizes, for a smoke run (its figures mean little): a
broadcast to 40 readers (about 60 messages, still paced by the double's 30/s), then a
20,000-article store and 30 updates of each kind; `--readers`, `--articles` and `--calls`
given with it win.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.archive import digest_for_week  # noqa: E402
from bot.chat import build_application  # noqa: E402
from bot.chat.app import ChatApplication  # noqa: E402
from bot.chat.sections import SECTIONS  # noqa: E402
from bot.chat.words import reader_locale  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.digest import IsoWeek  # noqa: E402
from bot.model import Channel, Country, Status  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.subscribers import NewSubscriber  # noqa: E402
from tests.fakes.telegram import FakeBotApi  # noqa: E402
from tests.telegram_week import SETS, TOKEN, WEEK, telegram_store  # noqa: E402

LIMIT = 30.0  # Telegram's messages a second for a bot, all chats together
FULL = {"readers": 1500, "articles": 1_000_000, "calls": 1000}
QUICK = {"readers": 40, "articles": 20_000, "calls": 30}  # --quick: a smoke run


def broadcast(readers: int) -> None:
    with tempfile.TemporaryDirectory() as folder, FakeBotApi(token=TOKEN,
                                                             global_rate=LIMIT) as api:
        database, _, _ = telegram_store(Path(folder), readers, per_country=4)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM"))},
               "BOT_DATABASE": str(database), "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_API_URL": api.url, "BOT_SECRET_KEY": "k" * 32,
               "BOT_DIGESTS_DIR": str(Path(folder) / "digests")}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot.cli", "send", "--week", str(WEEK),
                               "--channel", "telegram"], env=env, cwd=folder,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"bot send failed: {done.stderr.strip()}")
        sent = api.sent
        span = sent[-1].at - sent[0].at
        rate = (len(sent) - 1) / span
        print(f"broadcast: {readers:,} readers, {len(sent):,} messages in {span:.1f} s from "
              f"the first to the last arrival: {rate:.2f} msg/s, ratio to {LIMIT:.0f}/s "
              f"{rate / LIMIT:.3f} (target >= 0.95)")
        print(f"429 answers: {api.rate_limited} (target 0); refused messages: "
              f"{len(api.violations)}")
        print(f"bot send wall time: {wall:.1f} s ({done.stdout.strip().splitlines()[-1]})")


# -- the latency of /latest and /pays ------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2025, 4, 9, 10, 0, tzinfo=PARIS)  # Wednesday of 2025-W15
YEARS_OF_DAYS = 3653  # the articles' span, ending on NOW's day
FROZEN = [IsoWeek(2025, 14).shifted(-k) for k in range(8)]  # W14 back to W07
SENT = FROZEN[1:]  # all but W14: /latest shows W13
# Countries as unevenly spread as the newsroom's: Kazakhstan first, Turkmenistan last.
WEIGHTS = {Country.KZ: 30, Country.UZ: 20, Country.KG: 13, Country.TJ: 9, Country.TM: 4,
           Country.REGION: 12, Country.OTHER: 12}
SAMPLE = ROOT / "bot" / "samples" / "articles-fr.txt"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Nouvelles", "username": "bench_bot"}
LANGUAGES = {"fr": ("fr", "fr-FR"), "en": ("en", "en-GB", "en-US"), "ru": ("ru", "ru-RU")}
ARTICLE_COLUMNS = ("title, lead, url, source, published, date_source, country, countries, "
                   "featured, content_hash, imported_at")


@dataclass(frozen=True, slots=True)
class Reader:
    chat: int
    language: str  # Telegram's language_code
    state: str  # "active", "unsubscribed" or "unknown" (never wrote /start)
    countries: frozenset[Country]  # followed (empty: all; also for anyone not active)


def build_big_store(database: Path, total: int, seed: int = 3) -> list[Reader]:
    """`total` articles over the ten years up to NOW (even days, about 1,900 a week for a
    million), FROZEN weeks frozen, SENT marked sent, and Telegram readers: returns them with
    some chats that never subscribed."""
    rng = random.Random(seed)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[1:]
    pairs = list(zip(lines[0::2], lines[1::2], strict=True))
    first = NOW.date() - dt.timedelta(days=YEARS_OF_DAYS - 1)
    codes = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    imported = NOW.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    sql = (f"INSERT INTO articles ({ARTICLE_COLUMNS}) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    with open_store(database) as store:
        conn = store.conn
        conn.execute("BEGIN")
        rows: list[tuple[object, ...]] = []
        for n in range(total):
            day = first + dt.timedelta(days=n * YEARS_OF_DAYS // total)
            title, lead = pairs[n % len(pairs)]
            country = rng.choices(codes, weights)[0]
            url = f"https://www.example.fr/{country.value.lower()}/{n:07d}" \
                if n % 3 else None
            rows.append((f"{title} (n° {n})", lead, url, "bench", day.isoformat(), "text",
                         country.value, country.value, int(n % 641 == 0), f"bench-{n:07d}",
                         imported))
            if len(rows) == 50_000:
                conn.executemany(sql, rows)
                rows = []
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        for week in FROZEN:
            digest_for_week(store, week, NOW, PARIS)
        for week in SENT:
            store.mark_digest(str(week), "sent", NOW)
        readers: list[Reader] = []
        added: list[NewSubscriber] = []
        for n in range(1000):
            locale = ("fr", "en", "ru")[n % 3]
            countries = SETS[n % len(SETS)]
            state = "unsubscribed" if n % 10 == 9 else "active"
            readers.append(Reader(300_000 + n, rng.choice(LANGUAGES[locale]), state,
                                  countries if state == "active" else frozenset()))
            added.append(NewSubscriber(Channel.TELEGRAM, str(300_000 + n), locale, countries))
        store.add_subscribers([a for a, r in zip(added, readers, strict=True)
                               if r.state == "active"], Status.ACTIVE, "bench", NOW)
        store.add_subscribers([a for a, r in zip(added, readers, strict=True)
                               if r.state != "active"], Status.UNSUBSCRIBED, "bench", NOW)
        for n in range(250):  # chats that never subscribed
            locale = ("fr", "en", "ru")[n % 3]
            readers.append(Reader(900_000 + n, rng.choice(LANGUAGES[locale]), "unknown",
                                  frozenset()))
        assert store.count_articles() == total
    return readers


_MESSAGE = {"date": int(NOW.timestamp()), "from": BOT_USER,
            "chat": {"id": 1, "type": "private"}, "text": "…"}
ANSWERS = {name: json.dumps({"ok": True, "result": result}).encode() for name, result in {
    "getMe": BOT_USER,
    "sendMessage": {"message_id": 2, **_MESSAGE},
    "editMessageText": {"message_id": 1, **_MESSAGE},
    "answerCallbackQuery": True,
}.items()}
UNKNOWN = json.dumps({"ok": False, "error_code": 400,
                      "description": "Bad Request: not in the benchmark's stub"}).encode()


class StubRequest(BaseRequest):
    """The Bot API without the network: every call answered at once with a canned result
    (a small Message for sendMessage and editMessageText, true for answerCallbackQuery, the
    bot for getMe), counted by method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = DEFAULT_NONE,
                         write_timeout: ODVInput[float] = DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = DEFAULT_NONE) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        self.calls[name] += 1
        answer = ANSWERS.get(name)
        if answer is None:
            return HTTPStatus.BAD_REQUEST, UNKNOWN
        return HTTPStatus.OK, answer


def user(reader: Reader) -> dict[str, Any]:
    return {"id": reader.chat, "is_bot": False, "first_name": "Lecteur",
            "language_code": reader.language}


def command(update_id: int, reader: Reader, text: str) -> dict[str, Any]:
    name = text.split()[0]
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(NOW.timestamp()), "text": text,
        "chat": {"id": reader.chat, "type": "private", "first_name": "Lecteur"},
        "from": user(reader),
        "entities": [{"type": "bot_command", "offset": 0, "length": len(name)}]}}


def press(update_id: int, reader: Reader, country: Country) -> dict[str, Any]:
    """A press of a section button on the /pays keyboard the bot sent earlier."""
    keyboard = [[{"text": c.value, "callback_data": f"c1:{c.value}"}] for c in SECTIONS]
    return {"update_id": update_id, "callback_query": {
        "id": str(update_id), "from": user(reader), "chat_instance": str(reader.chat),
        "data": f"c1:{country.value}",
        "message": {"message_id": 1, "date": int(NOW.timestamp()) - 60, "from": BOT_USER,
                    "chat": {"id": reader.chat, "type": "private", "first_name": "Lecteur"},
                    "text": "Choisissez un pays…",
                    "reply_markup": {"inline_keyboard": keyboard}}}}


@dataclass
class Kind:
    """One kind of update: its updates as JSON (made into `Update`s one at a time, as the
    updater does, so that thousands of them do not sit in the heap for the garbage collector
    to walk), the first timed apart, and what each one cost."""

    name: str
    expected: tuple[str, ...]  # the Bot API methods each of its updates calls
    payloads: list[str]
    readers: list[Reader]
    fresh: list[bool] = field(default_factory=list)  # /latest: renders its pair afresh
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the process's CPU time, same calls
    full_gc: list[float] = field(default_factory=list)  # seconds of gen-2 collections inside
    calls: list[tuple[tuple[str, int], ...]] = field(default_factory=list)


class FullCollections:
    """Seconds spent in the garbage collector's full (generation 2) collections so far."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self.started
            self.count += 1


class Errors(logging.Handler):
    """The bot's errors (the application's error handler logs them): none is allowed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_values[max(math.ceil(q * len(sorted_values)) - 1, 0)]


async def run_kinds(app: ChatApplication, stub: StubRequest, kinds: list[Kind]) -> None:
    full = FullCollections()
    gc.callbacks.append(full)
    try:
        async with app:  # initialize: getMe through the stub
            for kind in kinds:
                for payload in kind.payloads:
                    update = Update.de_json(json.loads(payload), app.bot)
                    before, collecting = stub.calls.copy(), full.seconds
                    cpu = time.process_time()
                    started = time.perf_counter()
                    await app.process_update(update)
                    kind.seconds.append(time.perf_counter() - started)
                    kind.cpu.append(time.process_time() - cpu)
                    kind.full_gc.append(full.seconds - collecting)
                    kind.calls.append(tuple(sorted((stub.calls - before).items())))
    finally:
        gc.callbacks.remove(full)


def latency(articles: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bot.sqlite3"
        started = time.perf_counter()
        readers = build_big_store(database, articles)
        built = time.perf_counter() - started
        size = database.stat().st_size + Path(f"{database}-wal").stat().st_size \
            if Path(f"{database}-wal").exists() else database.stat().st_size
        with open_store(database) as store:
            weekly = store.count_articles_by_country(FROZEN[1].monday, FROZEN[1].next_monday)
        print(f"store: {articles:,} articles ({sum(weekly.values()):,} in {FROZEN[1]}, the "
              f"week /latest shows), {len(FROZEN)} weeks frozen of which {len(SENT)} sent, "
              f"{sum(r.state != 'unknown' for r in readers):,} Telegram readers; built in "
              f"{built:.1f} s ({size / 2**20:,.0f} MiB)")
        settings = Settings.from_environ({"BOT_DATABASE": str(database),
                                          "TELEGRAM_BOT_TOKEN": TOKEN})
        stub = StubRequest()
        app = build_application(settings, lambda: NOW, request=stub)
        rng = random.Random(5)
        update_ids = iter(range(1, 10 * calls + 100))
        picked = {name: [rng.choice(readers) for _ in range(calls + 1)]
                  for name in ("latest", "pays", "button")}
        kinds = [
            Kind("/latest", ("sendMessage",),
                 [json.dumps(command(next(update_ids), r, "/latest"))
                  for r in picked["latest"]], picked["latest"]),
            Kind("/pays", ("sendMessage",),
                 [json.dumps(command(next(update_ids), r, "/pays")) for r in picked["pays"]],
                 picked["pays"]),
            Kind("section button", ("editMessageText", "answerCallbackQuery"),
                 [json.dumps(press(next(update_ids), r, rng.choice(SECTIONS)))
                  for r in picked["button"]], picked["button"]),
        ]
        seen: set[tuple[str, frozenset[Country]]] = set()
        for reader in kinds[0].readers:  # /latest's messages are cached by language, sections
            pair = (reader_locale(reader.language), reader.countries)
            kinds[0].fresh.append(pair not in seen)
            seen.add(pair)
        errors = Errors()
        logging.getLogger("bot").addHandler(errors)
        logging.getLogger("telegram").addHandler(errors)
        asyncio.run(run_kinds(app, stub, kinds))
        if errors.records:
            raise SystemExit("the bot logged: " + "; ".join(r.getMessage()
                                                             for r in errors.records[:5]))
        mix = Counter(r.state for k in kinds for r in k.readers)
        print(f"updates through the PTB Application, Bot API stubbed (no network): {calls:,} "
              f"of each kind after the first; readers {dict(mix)}; languages "
              f"{dict(Counter(r.language for k in kinds for r in k.readers))}")
        for kind in kinds:
            report(kind)


def report(kind: Kind) -> None:
    for n, made in enumerate(kind.calls):
        if {m for m, _ in made} != set(kind.expected):
            raise SystemExit(f"{kind.name}, update {n}: the bot called {dict(made)}, "
                             f"expected {kind.expected}")
    first, rest = kind.seconds[0] * 1000, sorted(s * 1000 for s in kind.seconds[1:])
    cpu = sorted(s * 1000 for s in kind.cpu[1:])
    messages = sorted(sum(n for _, n in c) for c in kind.calls[1:])
    collections = [s * 1000 for s in kind.full_gc[1:] if s]
    inside = f" (a full collection of {kind.full_gc[0] * 1000:.1f} ms inside)" \
        if kind.full_gc[0] else ""
    print(f"{kind.name}: first {first:.1f} ms{inside}; then {len(rest):,} calls: median "
          f"{statistics.median(rest):.2f} ms, p99 {quantile(rest, 0.99):.2f} ms, max "
          f"{rest[-1]:.1f} ms (target p99 < 50 ms); Bot API calls per update "
          f"{messages[0]}–{messages[-1]} (median {statistics.median(messages):g})")
    print(f"  CPU time over the same calls: first {kind.cpu[0] * 1000:.1f} ms, median "
          f"{statistics.median(cpu):.2f} ms, p99 {quantile(cpu, 0.99):.2f} ms, max "
          f"{cpu[-1]:.1f} ms; full garbage collections inside them: {len(collections)}"
          + (f", {max(collections):.1f} ms the longest" if collections else ""))
    if kind.fresh:
        fresh = sorted(s * 1000 for s, f in zip(kind.seconds[1:], kind.fresh[1:], strict=True)
                       if f)
        hits = [(sum(n for _, n in c), s * 1000) for s, c, f in
                zip(kind.seconds[1:], kind.calls[1:], kind.fresh[1:], strict=True) if not f]
        times = sorted(s for _, s in hits)
        if len({m for m, _ in hits}) > 1:
            slope, intercept = statistics.linear_regression([m for m, _ in hits],
                                                            [s for _, s in hits])
            fit = (f", about {intercept:.2f} ms + {slope * 1000:.0f} µs per message sent "
                   "(least squares)")
        else:  # a small store (--quick): every /latest sent as many messages
            fit = ""
        fresh_times = (f"median {statistics.median(fresh):.1f} ms, max {fresh[-1]:.1f} ms"
                       if fresh else "none")
        cached = (f"median {statistics.median(times):.2f} ms, p99 "
                  f"{quantile(times, 0.99):.2f} ms, max {times[-1]:.1f} ms{fit}"
                  if times else "none")
        print(f"  of which {len(fresh)} rendered their (language, sections) for the first time:"
              f" {fresh_times}; the {len(hits):,} others, from the cache: {cached}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="both halves on small sizes, for a smoke run: 40 readers, "
                        "20,000 articles, 30 calls")
    parser.add_argument("--skip-broadcast", action="store_true",
                        help="only the latency of /latest and /pays")
    parser.add_argument("--readers", type=int, default=None,
                        help="Telegram readers of the broadcast (default 1,500)")
    parser.add_argument("--articles", type=int, default=None,
                        help="articles in the latency store (default 1,000,000)")
    parser.add_argument("--calls", type=int, default=None,
                        help="timed updates of each kind after the first (default 1,000)")
    args = parser.parse_args()
    sizes = {name: given if (given := getattr(args, name)) is not None
             else (QUICK if args.quick else FULL)[name] for name in FULL}
    if not args.skip_broadcast:
        broadcast(sizes["readers"])
    latency(sizes["articles"], sizes["calls"])


if __name__ == "__main__":
    main()
