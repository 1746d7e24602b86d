"""Import and listing speed.

    python benchmarks/bench_import.py            # 100,000-article import, 1,000,000-row listing
    python benchmarks/bench_import.py --quick    # a smoke run, a few seconds: small sizes

Prints one line per figure. Every figure compares things measured in this one run (the
machines are shared and noisy): articles per second of a whole import (read, parse, tag,
store), the share of that time spent tagging, and the time of `bot articles list --week W
--json` on a big store divided by the same on a small one.

`--quick` runs the same steps on small sizes, for a smoke run (its figures mean little): a
5,000-article import, its reading shared among worker processes as a full run's is, stores of
10,000 and 50,000 articles, medians of 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import ingest
from bot.ingest import content_hash, load
from bot.model import Country, DateSource, NewArticle
from bot.store import ArticleQuery, open_store

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "samples" / "articles-fr.txt"
TZ = ZoneInfo("Europe/Paris")
TODAY = dt.date(2026, 11, 27)
WEEK = "2025-W34"  # the week listed; both stores hold the same 60 articles in it
LIST_RUNS = 9  # the listing's medians are of this many
# --quick: the same steps on small sizes, the import's worker processes included.
QUICK = {"articles": 5_000, "big": 50_000, "list_runs": 3}
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]
PLACES = ["Astana", "Almaty", "Bichkek", "Och", "Tachkent", "Samarcande", "Douchanbé",
          "Khodjent", "Achgabat", "Turkménistan", "Kazakhstan", "Ouzbékistan", "Kirghizstan",
          "Tadjikistan", "l'Asie centrale", "Moscou", "Pékin", "Bruxelles", "Paris"]


def generate_listing(count: int, seed: int = 7) -> str:
    """A listing shaped like the newsroom's: the sample's titles and leads (their own dates
    taken out) with new places and numbers, newest first, about 25 a day, half of the leads
    ending with their day's date in French."""
    rng = random.Random(seed)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[1:]
    pairs = [(t, _undated(lead)) for t, lead in zip(lines[0::2], lines[1::2], strict=True)]
    out = []
    for n in range(count):
        title, lead = pairs[n % len(pairs)]
        place = rng.choice(PLACES)
        title = f"{title} ({place}, n° {n})"
        if rng.random() < 0.5:
            day = TODAY - dt.timedelta(days=n // 25)
            lead = f"{lead} Le {day.day} {MONTHS[day.month - 1]} {day.year}, à {place}."
        out += [title, lead]
    return "\n".join(out) + "\n"


def _undated(lead: str) -> str:
    from bot.tagging.dates import find_dates

    return lead if not find_dates(lead) else lead.replace("20", "19")


def time_import(path: Path, db: Path) -> tuple[float, int]:
    """Seconds for a whole import as `bot import` runs it, and the articles stored."""
    start = time.perf_counter()
    batch = load(str(path), "listing", TZ, TODAY)
    with open_store(db) as store:  # tagging streams into the store, as in `bot import`
        result = store.insert_articles(batch.articles(), dt.datetime.now(dt.UTC))
    return time.perf_counter() - start, len(result.inserted)


def time_serial_phases(path: Path, db: Path) -> dict[str, float]:
    """The same import in one process, phase by phase: where the time goes."""
    saved = ingest.PARALLEL_FROM
    ingest.PARALLEL_FROM = sys.maxsize
    try:
        start = time.perf_counter()
        batch = load(str(path), "listing", TZ, TODAY)
        parsed = time.perf_counter()
        articles = list(batch.articles())
        tagged = time.perf_counter()
        with open_store(db) as store:
            store.insert_articles(articles, dt.datetime.now(dt.UTC))
        stored = time.perf_counter()
    finally:
        ingest.PARALLEL_FROM = saved
    return {"read and parse": parsed - start, "tag": tagged - parsed, "store": stored - tagged}


def build_store(db: Path, total: int) -> None:
    """`total` articles over ten years, 60 of them in WEEK, the rest elsewhere."""
    rng = random.Random(total)
    monday = dt.date.fromisocalendar(2025, 34, 1)
    start = dt.date(2016, 1, 4)
    span = (dt.date(2026, 1, 1) - start).days
    codes = [c for c in Country]
    with open_store(db) as store:
        batch: list[NewArticle] = []
        for n in range(total):
            if n < 60:
                day = monday + dt.timedelta(days=n % 7)
            else:
                day = start + dt.timedelta(days=rng.randrange(span))
                if monday <= day < monday + dt.timedelta(days=7):
                    day -= dt.timedelta(days=7)
            title = f"Article {n} : une nouvelle de la semaine"
            lead = f"Le résumé de l'article {n}, en une phrase de longueur ordinaire."
            country = codes[n % len(codes)]
            batch.append(NewArticle(title, lead, "bench", None, None, day, None,
                                    DateSource.TEXT, country, (country,), None,
                                    content_hash(title, lead)))
            if len(batch) == 50_000:
                store.insert_articles(batch, dt.datetime.now(dt.UTC))
                batch = []
        store.insert_articles(batch, dt.datetime.now(dt.UTC))


def time_list_command(db: Path, runs: int) -> tuple[float, float]:
    """Median seconds of `bot articles list --week WEEK --json` as a process, and of the
    store query alone."""
    env = {**os.environ, "BOT_DATABASE": str(db)}
    command = [sys.executable, "-m", "bot.cli", "articles", "list", "--week", WEEK, "--json"]
    walls, queries = [], []
    monday = dt.date.fromisocalendar(2025, 34, 1)
    query = ArticleQuery(since=monday, until=monday + dt.timedelta(days=7))
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, env=env, cwd=db.parent, capture_output=True, check=True,
                             text=True)
        walls.append(time.perf_counter() - start)
        assert out.stdout.count("\n") == 60, out.stdout[:200]
        with open_store(db) as store:
            start = time.perf_counter()
            found = store.list_articles(query)
            queries.append(time.perf_counter() - start)
            assert len(found) == 60
    return statistics.median(walls), statistics.median(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        articles, big, list_runs = QUICK["articles"], QUICK["big"], QUICK["list_runs"]
        # Under PARALLEL_FROM drafts `bot import` reads in this process; the full run's
        # import is over it, so the quick one is made to take the same way (worker processes).
        ingest.PARALLEL_FROM = min(ingest.PARALLEL_FROM, articles)
    else:
        articles, big, list_runs = 100_000, 1_000_000, LIST_RUNS
    small = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listing = folder / "listing.txt"
        listing.write_text(generate_listing(articles), encoding="utf-8")
        runs = [time_import(listing, folder / f"import-{n}.sqlite3") for n in range(3)]
        assert all(stored == articles for _, stored in runs), runs
        seconds = statistics.median(s for s, _ in runs)
        print(f"import (bot import, median of 3): {articles:,} articles in {seconds:.2f} s = "
              f"{articles / seconds:,.0f} articles/s (target >= 20,000)")
        phases = time_serial_phases(listing, folder / "serial.sqlite3")
        total = sum(phases.values())
        shares = ", ".join(f"{name} {value / total:.0%}" for name, value in phases.items())
        print(f"import in one process: {articles / total:,.0f} articles/s; {shares}")
        build_store(folder / "small.sqlite3", small)
        build_store(folder / "big.sqlite3", big)
        small_wall, small_query = time_list_command(folder / "small.sqlite3", list_runs)
        big_wall, big_query = time_list_command(folder / "big.sqlite3", list_runs)
        print(f"list --week --json, whole command: {big:,} articles {big_wall * 1000:.0f} ms, "
              f"{small:,} articles {small_wall * 1000:.0f} ms, ratio {big_wall / small_wall:.2f}"
              " (target < 100 ms, ratio < 2)")
        print(f"list --week, store query alone: {big:,} articles {big_query * 1000:.2f} ms, "
              f"{small:,} articles {small_query * 1000:.2f} ms, "
              f"ratio {big_query / small_query:.2f}")


if __name__ == "__main__":
    main()
