"""Rendering speed: a 60-article week as email (MJML → HTML, plain text) and Telegram.

    python benchmarks/bench_render.py              # about 5 s
    python benchmarks/bench_render.py --quick      # a smoke run, about a second: small sizes

Prints one line per figure. Every figure compares things measured in this one run (the
machines are shared and noisy):

- the whole of a week's rendering (assemble the digest, email HTML and text, Telegram parts),
  median of `--runs`, and the share of it spent compiling MJML with mjml-python;
- the same MJML compiled by the reference compiler, the `mjml` npm package, in one Node
  process (its own loop, timed with process.hrtime), as a ratio to mjml-python's time; skipped
  when Node or the package is missing (install it with
  `npm install --prefix /tmp/mjml-bench mjml`, or point MJML_NODE_MODULES at a node_modules);
- a send to 1,000 subscribers following 8 country sets: one render per set, then each
  reader's links filled in, against one render per reader (all 1,000 measured, or 50 and
  scaled when that would take over 10 s).

`--quick` runs the same steps on small sizes (3 timed runs, 40 subscribers, 3 warm-up
compilations), for a smoke run: its figures mean little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mjml import mjml2html

import bot.render.email as email_module
from bot.digest import Digest, IsoWeek, assemble_week
from bot.ingest import content_hash
from bot.model import Article, Country, DateSource
from bot.render.email import GMAIL_CLIP_BYTES, Masthead, render_email, render_mjml
from bot.render.telegram import render_telegram

SAMPLE = Path(__file__).resolve().parent.parent / "bot" / "samples" / "articles-fr.txt"
WEEK = IsoWeek(2025, 34)
LOCALE = "fr"
MASTHEAD = Masthead("Nouvelles d'Asie centrale",
                    "https://lettre.exemple.fr/archives/2025-W34/",
                    "Rédaction Asie centrale, 12 rue des Steppes, 75011 Paris")
# 60 articles: how many in each section (À la une takes 3 of them).
SPREAD = {Country.REGION: 6, Country.KZ: 14, Country.KG: 9, Country.UZ: 12, Country.TJ: 8,
          Country.TM: 5, Country.OTHER: 6}
SUBSCRIBERS = 1_000  # --quick: QUICK["subscribers"]
COUNTRY_SETS: tuple[frozenset[Country], ...] = tuple(frozenset(s) for s in (
    (),  # every section
    (Country.KZ,), (Country.UZ,), (Country.KZ, Country.UZ), (Country.KG, Country.TJ),
    (Country.TM,), (Country.REGION, Country.KZ), (Country.OTHER, Country.TJ)))
PER_READER_SAMPLE = 50  # subscribers rendered one by one, scaled to SUBSCRIBERS
MAX_PER_READER_SECONDS = 10  # beyond this, the first PER_READER_SAMPLE are scaled
# Compilations before timing, in each compiler's loop: Node's JIT settles after about 30.
WARMUPS = 50
SENDS = 5  # the per-set send's median is of this many
# --quick: the same steps, small (a smoke run, not a measure).
QUICK = {"runs": 3, "subscribers": 40, "per_reader_sample": 10, "warmups": 3, "sends": 3}
NODE_MODULES = os.environ.get("MJML_NODE_MODULES", "/tmp/mjml-bench/node_modules")
NODE_SCRIPT = r"""
const path = require('path');
const fs = require('fs');
const [modules, source, warmups, runs] = process.argv.slice(2);
const mjml2html = require(path.join(modules, 'mjml'));
const version = require(path.join(modules, 'mjml', 'package.json')).version;
const mjml = fs.readFileSync(source, 'utf8');
(async () => {
  let start = process.hrtime.bigint();
  let out = await mjml2html(mjml);  // a Promise from mjml 5 on, an object before
  const first = Number(process.hrtime.bigint() - start) / 1e6;
  for (let i = 1; i < Number(warmups); i++) out = await mjml2html(mjml);  // JIT warm-up
  const times = [];
  for (let i = 0; i < Number(runs); i++) {
    start = process.hrtime.bigint();
    out = await mjml2html(mjml);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  console.log(JSON.stringify({median_ms: median, first_ms: first, version,
                              html_bytes: Buffer.byteLength(out.html),
                              errors: out.errors.length}));
})();
"""
FILLERS = [
    "Les observateurs de la région suivent de près ces évolutions, qui pourraient peser sur "
    "les équilibres économiques et diplomatiques des prochains mois.",
    "Selon plusieurs experts interrogés, cette décision s’inscrit dans une stratégie de long "
    "terme engagée depuis le début de la décennie.",
    "Le gouvernement a promis un premier bilan d’ici à la fin de l’année, sans préciser le "
    "calendrier des étapes suivantes.",
    "Sur place, la population accueille la nouvelle avec un mélange d’espoir et de prudence, "
    "tant les annonces passées ont parfois tardé à se concrétiser.",
]
PLACES = ["à Astana", "à Almaty", "à Bichkek", "à Och", "à Tachkent", "à Samarcande",
          "à Douchanbé", "à Khodjent", "à Achgabat", "en Asie centrale"]


def week_articles(seed: int = 34) -> list[Article]:
    """60 articles of WEEK built from the newsroom's sample: titles of 60–120 characters,
    leads of 200–500, two in three with a URL, put in the seven sections as SPREAD says
    (assigned, not tagged: rendering does not read the text), three of them featured."""
    rng = random.Random(seed)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[1:]  # line 1: a lead alone
    pairs = list(zip(lines[0::2], lines[1::2], strict=True))
    countries = [c for c, n in SPREAD.items() for _ in range(n)]
    rng.shuffle(countries)
    featured = {0, 7, 19}
    imported = dt.datetime(2025, 8, 25, 6, 0, tzinfo=dt.UTC)
    articles = []
    for n, country in enumerate(countries):
        base_title, base_lead = pairs[n % len(pairs)]
        title = base_title if n < len(pairs) else f"{base_title} {rng.choice(PLACES)}"
        while len(title) < 60:
            title += f", {rng.choice(PLACES)}"
        title = _shortened(title, 120)
        lead = base_lead
        while len(lead) < 200:
            lead += " " + rng.choice(FILLERS)
        lead = _shortened(lead, 500)
        published = WEEK.monday + dt.timedelta(days=6 - n * 7 // len(countries))  # newest first
        url = (f"https://www.exemple-asie-centrale.fr/{published:%Y/%m/%d}/{_slug(title)}-{n + 1}/"
               if n % 3 else None)
        assert 60 <= len(title) <= 120 and 200 <= len(lead) <= 500, (title, lead)
        articles.append(Article(n + 1, title, lead, "bench", url, published, None,
                                DateSource.TEXT, country, (country,), n in featured, None,
                                content_hash(title, lead), imported))
    return articles


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit - 1)].rstrip(" ,;:") + "…"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(words[:8])


@contextmanager
def counted_compilations() -> Iterator[list[int]]:
    """Counts the MJML compilations `render_email` makes while the block runs."""
    count = [0]
    original: Callable[[str], str] = email_module.mjml2html

    def counting(source: str) -> str:
        count[0] += 1
        return original(source)

    email_module.mjml2html = counting
    try:
        yield count
    finally:
        email_module.mjml2html = original


def render_week(articles: list[Article]) -> tuple[Digest, str, str, int]:
    """What a week's publication renders: the digest, email HTML and text, Telegram parts."""
    digest = assemble_week(articles, WEEK)
    rendered = render_email(digest, MASTHEAD, LOCALE)
    parts = render_telegram(digest, MASTHEAD.newsletter_name, LOCALE,
                            archive_url=MASTHEAD.archive_url)
    return digest, rendered.html, rendered.text, len(parts)


def time_whole(articles: list[Article], runs: int) -> tuple[float, float, float, str, int]:
    """Median seconds of a whole rendering and of mjml-python compiling its MJML alone
    (interleaved, run by run), the first (cold) rendering, the HTML and the Telegram parts."""
    start = time.perf_counter()
    digest, html, _, parts = render_week(articles)
    cold = time.perf_counter() - start
    source = render_mjml(digest, MASTHEAD, LOCALE)
    for _ in range(3):
        mjml2html(source)
    wholes, compiles = [], []
    for _ in range(runs):
        start = time.perf_counter()
        render_week(articles)
        wholes.append(time.perf_counter() - start)
        start = time.perf_counter()
        compiled = mjml2html(source)
        compiles.append(time.perf_counter() - start)
        assert compiled == html
    return statistics.median(wholes), statistics.median(compiles), cold, html, parts


def time_python_compile(source: str, runs: int, warmups: int) -> float:
    """mjml-python's median seconds to compile `source`, back to back after `warmups`, as the
    Node loop does it."""
    for _ in range(warmups):
        mjml2html(source)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        mjml2html(source)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_node(source: str, runs: int, warmups: int) -> dict[str, object] | None:
    """The reference compiler's median compile time of `source` in one Node process, after
    `warmups` compilations (the first one's time is kept too)."""
    node = shutil.which("node")
    if node is None or not (Path(NODE_MODULES) / "mjml" / "package.json").is_file():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script, mjml_file = Path(tmp) / "compile.js", Path(tmp) / "digest.mjml"
        script.write_text(NODE_SCRIPT, encoding="utf-8")
        mjml_file.write_text(source, encoding="utf-8")
        out = subprocess.run([node, str(script), NODE_MODULES, str(mjml_file), str(warmups),
                              str(runs)],
                             capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    result["node"] = subprocess.run([node, "--version"], capture_output=True, text=True,
                                    check=True).stdout.strip()
    return result


def subscribers(count: int, seed: int = 1000) -> list[tuple[frozenset[Country], str, str]]:
    """Each subscriber's country set (every set followed by someone) and own links."""
    assert count >= len(COUNTRY_SETS)
    rng = random.Random(seed)
    out = []
    for n in range(count):
        chosen = COUNTRY_SETS[n] if n < len(COUNTRY_SETS) else rng.choice(COUNTRY_SETS)
        token = f"{rng.getrandbits(128):032x}"
        out.append((chosen,
                    f"https://lettre.exemple.fr/desabonnement?abonne={n}&jeton={token}",
                    f"https://lettre.exemple.fr/preferences?abonne={n}&jeton={token}"))
    return out


def send_by_variant(digest: Digest, readers: list[tuple[frozenset[Country], str, str]]
                    ) -> tuple[float, float, int]:
    """Seconds for the whole send (one render per country set, then every reader's copy),
    seconds of the renders alone, and the MJML compilations made."""
    with counted_compilations() as compilations:
        start = time.perf_counter()
        variants = {}
        for countries in COUNTRY_SETS:
            variants[countries] = render_email(digest.only(countries), MASTHEAD, LOCALE)
        rendered = time.perf_counter()
        size = 0
        for countries, unsubscribe, preferences in readers:
            html, text = variants[countries].personalize(unsubscribe, preferences)
            size += len(html) + len(text)
        end = time.perf_counter()
    # Each variant has placeholders of its own (derived from its text), in its HTML and its
    # text both, so each copy above replaced four; the last copy has none left.
    for variant in variants.values():
        assert all(p in variant.html and p in variant.text for p in variant.placeholders)
    last = variants[readers[-1][0]]
    assert not any(p in html or p in text for p in last.placeholders)
    assert "&amp;jeton=" in html and size > 0
    return end - start, rendered - start, compilations[0]


def send_by_reader(digest: Digest, readers: list[tuple[frozenset[Country], str, str]]
                   ) -> tuple[float, int]:
    """Seconds to render each reader's email from scratch (digest.only, render_email,
    personalize), and the compilations made."""
    with counted_compilations() as compilations:
        start = time.perf_counter()
        for countries, unsubscribe, preferences in readers:
            render_email(digest.only(countries), MASTHEAD, LOCALE).personalize(
                unsubscribe, preferences)
        seconds = time.perf_counter() - start
    return seconds, compilations[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None,
                        help="timed runs per median (30; 3 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="the same steps on small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        runs, count, sample = QUICK["runs"], QUICK["subscribers"], QUICK["per_reader_sample"]
        warmups, sends_count = QUICK["warmups"], QUICK["sends"]
    else:
        runs, count, sample = 30, SUBSCRIBERS, PER_READER_SAMPLE
        warmups, sends_count = WARMUPS, SENDS
    if args.runs is not None:
        runs = args.runs
    articles = week_articles()
    assert len(articles) == 60 and {a.country for a in articles} == set(Country)

    whole, compile_alone, cold, html, parts = time_whole(articles, runs)
    html_bytes = len(html.encode("utf-8"))
    print(f"week of 60 articles, assemble + email HTML + text + Telegram ({parts} parts), "
          f"median of {runs}: {whole * 1000:.1f} ms; MJML compilation (mjml-python) "
          f"{compile_alone * 1000:.1f} ms = {compile_alone / whole:.0%} of it "
          f"(first run, templates loaded: {cold * 1000:.0f} ms)")
    print(f"email HTML: {html_bytes / 1024:.1f} KB (Gmail clips beyond "
          f"{GMAIL_CLIP_BYTES // 1024} KB)")

    digest = assemble_week(articles, WEEK)
    source = render_mjml(digest, MASTHEAD, LOCALE)
    node = time_node(source, runs, warmups)
    if node is None:
        print("node mjml vs mjml-python: skipped: node mjml not found "
              "(npm install --prefix /tmp/mjml-bench mjml)")
    else:
        node_ms = float(str(node["median_ms"]))
        python_ms = time_python_compile(source, runs, warmups) * 1000
        print(f"node mjml {node['version']} ({node['node']}) vs mjml-python "
              f"{importlib.metadata.version('mjml-python')}, same MJML "
              f"({len(source.encode('utf-8')) / 1024:.0f} KB), in-process compile, median of "
              f"{runs} after {warmups}: {node_ms:.2f} ms vs {python_ms:.2f} ms, ratio "
              f"{node_ms / python_ms:.1f} (expected >= 15); node's first compilation "
              f"{float(str(node['first_ms'])):.0f} ms; node HTML "
              f"{int(str(node['html_bytes'])) / 1024:.1f} KB, {node['errors']} validation "
              "errors")

    readers = subscribers(count)
    render_email(digest, MASTHEAD, LOCALE)  # warm
    sends = sorted((send_by_variant(digest, readers) for _ in range(sends_count)),
                   key=lambda s: s[0])
    total, renders, compilations = sends[len(sends) // 2]
    assert all(s[2] == len(COUNTRY_SETS) for s in sends), sends
    beyond = (total - renders) / count
    print(f"{count:,} subscribers, {len(COUNTRY_SETS)} country sets, one render per set"
          f" (median of {sends_count}): {total * 1000:.0f} ms in all; {compilations} MJML "
          f"compilations, the {len(COUNTRY_SETS)} renders {renders * 1000:.0f} ms; "
          f"{beyond * 1e6:.0f} µs per subscriber beyond them")
    seconds, compiled = send_by_reader(digest, readers[:sample])
    if seconds / sample * count <= MAX_PER_READER_SECONDS:
        rest, more = send_by_reader(digest, readers[sample:])
        per_reader, how = seconds + rest, "all measured"
        compiled += more
        assert compiled == count
    else:
        per_reader = seconds / sample * count
        how = f"{sample} measured, scaled"
        assert compiled == sample
    print(f"same send, one render per subscriber ({count:,} MJML compilations, "
          f"{how}): {per_reader:.1f} s = "
          f"{per_reader / total:.0f} x the per-set send; {count:,} x the full week's "
          f"compile alone: {compile_alone * count:.1f} s")


if __name__ == "__main__":
    main()
