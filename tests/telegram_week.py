"""A store with a week long enough for a digest of several Telegram messages, and Telegram
readers: shared by the broadcast tests and the Telegram benchmark."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.archive import digest_for_week
from bot.digest import Digest, IsoWeek
from bot.ingest import load
from bot.model import Channel, Country, Status
from bot.store import open_store
from bot.subscribers import NewSubscriber

PARIS = ZoneInfo("Europe/Paris")
WEEK = IsoWeek(2025, 14)  # 31 March to 6 April 2025
NOW = dt.datetime(2025, 4, 9, 8, 0, tzinfo=dt.UTC)
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the form @BotFather gives
HOSTILE = ("<b>gras</b> & </a> <script>alert(1)</script> 🇰🇿🇺🇿 &amp; &#x3c; \"«»\" "
           "<a href='x'>lien</a> ")
SETS: tuple[frozenset[Country], ...] = tuple(frozenset(Country(c) for c in s) for s in (
    (), ("KZ",), ("UZ",), ("KZ", "UZ"), ("KG", "TJ"), ("TM",), ("REGION", "KZ"), ("OTHER",)))
PLACES = {Country.KZ: "Astana", Country.UZ: "Tachkent", Country.KG: "Bichkek",
          Country.TJ: "Douchanbé", Country.TM: "Achgabat"}


def week_jsonl(path: Path, per_country: int = 6, hostile: bool = False,
               seed: int = 1) -> Path:
    """Articles across the five countries in WEEK, leads long enough to need several
    messages; `hostile` adds markup, emoji and a 5,000-character lead."""
    rng = random.Random(seed)
    lines = []
    for country, city in PLACES.items():
        for n in range(per_country):
            day = dt.date(2025, 3, 31) + dt.timedelta(days=rng.randrange(7))
            title = f"{city} : nouvelle {n + 1} de la semaine"
            lead = (f"À {city}, le {day.day} avril, " if day.month == 4 else f"À {city}, ") + \
                " ".join(rng.choice(["projet", "accord", "réforme", "marché", "route", "eau",
                                     "énergie", "culture", "frontière"]) for _ in range(90))
            if hostile and n == 0:
                title = HOSTILE + title
                lead = HOSTILE + lead + " " + "x" * 5000
            lines.append(json.dumps({"title": title, "lead": lead,
                                     "url": f"https://www.example.fr/{country.value}/{n}?a=1&b=2",
                                     "published": day.isoformat(), "country": country.value},
                                    ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def telegram_store(folder: Path, readers: int, *, hostile: bool = False,
                   per_country: int = 6) -> tuple[Path, Digest, list[str]]:
    """A store with the week frozen and `readers` active Telegram chats going round SETS;
    returns the database, the digest and the chat ids."""
    database = folder / "bot.sqlite3"
    source = week_jsonl(folder / "week.jsonl", per_country=per_country, hostile=hostile)
    with open_store(database) as store:
        store.insert_articles(list(load(str(source), "jsonl", PARIS, NOW.date()).articles()),
                              NOW)
        digest = digest_for_week(store, WEEK, NOW, PARIS).digest
        chats = [str(100_000 + n) for n in range(readers)]
        store.add_subscribers([NewSubscriber(Channel.TELEGRAM, chat, ("fr", "en", "ru")[n % 3],
                                             SETS[n % len(SETS)])
                               for n, chat in enumerate(chats)], Status.ACTIVE, "test", NOW)
    return database, digest, chats
