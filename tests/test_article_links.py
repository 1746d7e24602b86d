"""Links for the listing's articles (issue 11, point 5): a feed entry of the same title fills
in a listing article's URL at import, BOT_ARTICLE_LINK links the rest in every format and in
the frozen snapshot, and `bot preview` and `bot stats` count what is still without a link."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.digest import fill_link
from bot.store import MIGRATIONS, Store, open_store
from bot.store.articles import UNLINKED_BY_TITLE
from tests.conftest import Bot

LINK = "https://www.example.org/?s={title}"
CAFE = "Café & thé : l’été à Tachkent"
CAFE_LINK = ("https://www.example.org/?s=Caf%C3%A9%20%26%20th%C3%A9%20%3A%20l%E2%80%99%C3%A9t"
             "%C3%A9%20%C3%A0%20Tachkent")
# Newest first, every lead dated: all four in 2025-W14 (31 March to 6 April 2025).
LISTING = f"""\
{CAFE}
Le 3 avril 2025, les maisons de thé de Tachkent ont rouvert leurs terrasses pour une saison que les habitants attendaient depuis l’hiver.
Le Kazakhstan inaugure un pont sur l’Irtych à Pavlodar
Le 2 avril 2025, le président Tokaïev a inauguré à Pavlodar un pont de deux kilomètres qui relie enfin les deux rives de l’Irtych.
Douchanbé accueille la conférence sur les glaciers…
Le 1er avril 2025, une conférence internationale s’est ouverte à Douchanbé pour tenter de conjurer la fonte des glaciers d’Asie centrale… [...]
Bichkek : un nouveau musée d’art contemporain
Le 31 mars 2025, la capitale kirghize a ouvert un musée consacré aux artistes contemporains de la région, dans une ancienne usine soviétique.
"""  # noqa: E501 - a listing's lines are as long as they are


def entry(title: str, link: str, day: int = 2, guid: str | None = None,
          summary: str = "Un texte différent de celui de la liste.") -> str:
    guid_tag = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return (f"<item><title>{title}</title><link>{link}</link>{guid_tag}"
            f"<pubDate>{day:02d} Apr 2025 09:00:00 GMT</pubDate>"
            f"<description>{summary}</description></item>")


def rss(*items: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Site</title><link>https://ex.fr/</link><description>d</description>\n"
            + "\n".join(items) + "\n</channel></rss>\n")


# The listing's first three titles as the site's feed spells them: case, accents,
# punctuation, apostrophes and the teaser's "…" differ; the fourth is another article.
FEED = rss(
    entry("CAFÉ &amp; THÉ – L'ÉTÉ À TACHKENT", "https://ex.fr/cafe", 3, guid="site-1"),
    entry("Le Kazakhstan inaugure un pont sur l'Irtych a Pavlodar", "https://ex.fr/pont", 2,
          guid="site-2"),
    entry("Douchanbe accueille la conference sur les glaciers", "https://ex.fr/glaciers", 1),
    entry("Bichkek : un nouveau musée d’art moderne", "https://ex.fr/musee", 1),
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(bot: Bot, *args: str, **env: str) -> str:
    result = bot(*args, **env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def articles(bot: Bot) -> dict[str, dict[str, object]]:
    return {str(a["title"]): a for a in map(json.loads, run(bot, "articles", "list",
                                                              "--json").splitlines())}


@pytest.fixture
def listing(bot: Bot, tmp_path: Path) -> str:
    path = write(tmp_path, "articles.txt", LISTING)
    assert run(bot, "import", path) == f"{path}: 4 new articles, 0 already in the store " \
                                       "(listing)\n"
    return path


# -- a feed entry links the listing's article -----------------------------------------------

def test_feed_entries_fill_in_the_urls_of_the_listing_articles_of_their_titles(
        bot: Bot, tmp_path: Path, listing: str, store: Store) -> None:
    before = articles(bot)
    feed = write(tmp_path, "feed.xml", FEED)
    assert run(bot, "import", feed) == (f"{feed}: 1 new article, 3 matched (linked), 0 already "
                                        "in the store (feed)\n")
    after = articles(bot)
    assert len(after) == 5
    assert {title: a["url"] for title, a in after.items()} == {
        CAFE: "https://ex.fr/cafe",
        "Le Kazakhstan inaugure un pont sur l’Irtych à Pavlodar": "https://ex.fr/pont",
        "Douchanbé accueille la conférence sur les glaciers…": "https://ex.fr/glaciers",
        "Bichkek : un nouveau musée d’art contemporain": None,
        "Bichkek : un nouveau musée d’art moderne": "https://ex.fr/musee",
    }
    for title, was in before.items():  # the listing's text, date and country stay
        assert {**after[title], "url": None} == was
    cafe = store.get_article(int(str(after[CAFE]["id"])))
    assert cafe.guid == "site-1"
    assert cafe.lead.startswith("Le 3 avril 2025, les maisons de thé")


def test_dry_run_says_what_would_be_matched_and_writes_nothing(
        bot: Bot, tmp_path: Path, listing: str) -> None:
    ids = {title: a["id"] for title, a in articles(bot).items()}
    feed = write(tmp_path, "feed.xml", FEED)
    out = run(bot, "import", feed, "--dry-run", COLUMNS="250")
    assert out.endswith("dry run: 1 new, 3 matched, 0 already in the store, 0 rejected; "
                        "nothing was written\n")
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    assert f"matched #{ids[CAFE]} " in rows[f"{feed}: entry 1"]
    assert " new " in rows[f"{feed}: entry 4"]
    assert all(a["url"] is None for a in articles(bot).values())


def test_reimporting_the_feed_changes_nothing(bot: Bot, tmp_path: Path, listing: str) -> None:
    feed = write(tmp_path, "feed.xml", FEED)
    run(bot, "import", feed)
    linked = articles(bot)
    assert run(bot, "import", feed) == f"{feed}: 0 new articles, 4 already in the store (feed)\n"
    assert run(bot, "import", feed, "--dry-run").endswith(
        "dry run: 0 new, 4 already in the store, 0 rejected; nothing was written\n")
    assert run(bot, "import", listing) == (f"{listing}: 0 new articles, 4 already in the store "
                                           "(listing)\n")
    assert articles(bot) == linked


def test_an_editors_corrections_are_kept(bot: Bot, tmp_path: Path, listing: str) -> None:
    article_id = str(articles(bot)["Le Kazakhstan inaugure un pont sur l’Irtych à Pavlodar"]["id"])
    run(bot, "articles", "edit", article_id, "--title", "Pavlodar a enfin son pont",
        "--country", "REGION", "--date", "2025-04-04", "--feature")
    corrected = articles(bot)["Pavlodar a enfin son pont"]
    feed = write(tmp_path, "feed.xml", FEED)
    assert "3 matched (linked)" in run(bot, "import", feed)  # by the title as imported
    after = articles(bot)["Pavlodar a enfin son pont"]
    assert after == {**corrected, "url": "https://ex.fr/pont"}
    assert (after["country"], after["published"], after["date_source"], after["featured"]) == (
        "REGION", "2025-04-04", "editor", True)


def test_an_entry_with_the_same_text_links_it_too(bot: Bot, tmp_path: Path,
                                                  listing: str) -> None:
    lead = ("Le 31 mars 2025, la capitale kirghize a ouvert un musée consacré aux artistes "
            "contemporains de la région, dans une ancienne usine soviétique.")
    feed = write(tmp_path, "feed.xml", rss(entry("Bichkek : un nouveau musée d’art "
                                                 "contemporain", "https://ex.fr/musee", 31,
                                                 summary=lead).replace("31 Apr", "31 Mar")))
    assert run(bot, "import", feed) == (f"{feed}: 0 new articles, 1 matched (linked), 0 already "
                                        "in the store (feed)\n")
    assert articles(bot)["Bichkek : un nouveau musée d’art contemporain"]["url"] == (
        "https://ex.fr/musee")


def test_of_two_articles_of_one_title_the_one_dated_nearest_the_entry_is_linked(
        bot: Bot, tmp_path: Path) -> None:
    listing = write(tmp_path, "weekly.txt", "\n".join([
        "Revue de presse de la semaine",
        "Le 28 mars 2025, ce que les journaux d’Asie centrale ont retenu des sept derniers "
        "jours, du Kazakhstan au Turkménistan.",
        "Revue de presse de la semaine",
        "Le 21 mars 2025, ce que les journaux d’Asie centrale ont retenu de la semaine, de "
        "Bichkek à Douchanbé et jusqu’à Achgabat.",
        "Revue de presse de la semaine",
        "Le 14 mars 2025, ce que les journaux d’Asie centrale ont retenu, de Tachkent à Astana "
        "en passant par Och.",
    ]) + "\n")
    run(bot, "import", listing)
    feed = write(tmp_path, "feed.xml", rss(
        entry("Revue de presse de la semaine", "https://ex.fr/revue-12", 1).replace(
            "01 Apr", "22 Mar")))
    assert "1 matched (linked)" in run(bot, "import", feed)
    feed = write(tmp_path, "feed2.xml", rss(
        entry("REVUE DE PRESSE DE LA SEMAINE", "https://ex.fr/revue-13", 1)))  # 1 April
    assert "1 matched (linked)" in run(bot, "import", feed)
    dated = {a["published"]: a["url"] for a in map(json.loads, run(
        bot, "articles", "list", "--json").splitlines())}
    assert dated == {"2025-03-28": "https://ex.fr/revue-13",
                     "2025-03-21": "https://ex.fr/revue-12", "2025-03-14": None}


def test_a_title_given_by_an_editor_to_an_untitled_lead_is_matched(bot: Bot,
                                                                   tmp_path: Path) -> None:
    listing = write(tmp_path, "untitled.txt", (
        "Le 2 avril 2025, la compagnie nationale a annoncé à Achgabat la mise en service d’un "
        "nouveau gazoduc vers la Chine, qui doublera les exportations du Turkménistan.\n"))
    run(bot, "import", listing)
    [untitled] = articles(bot).values()
    assert untitled["needs_review"] == "no title"
    feed = write(tmp_path, "feed.xml", rss(entry("Le Turkménistan double ses exportations de "
                                                 "gaz", "https://ex.fr/gaz")))
    assert "matched" not in run(bot, "import", feed, "--dry-run")
    run(bot, "articles", "edit", str(untitled["id"]), "--title",
        "Le Turkménistan double ses exportations de gaz")
    assert run(bot, "import", feed) == (f"{feed}: 0 new articles, 1 matched (linked), 0 already "
                                        "in the store (feed)\n")


def test_the_lookup_goes_through_the_index_of_articles_without_a_url(store: Store) -> None:
    plan = " ".join(str(row[3]) for row in store.conn.execute(
        "EXPLAIN QUERY PLAN " + UNLINKED_BY_TITLE, (1, "cafe")))
    assert "articles_unlinked_by_title" in plan, plan


def test_a_version_5_store_is_migrated_and_its_articles_matched(bot: Bot,
                                                                tmp_path: Path) -> None:
    with closing(sqlite3.connect(bot.database, isolation_level=None)) as raw:
        raw.executescript("".join(MIGRATIONS[:5]) + "\nPRAGMA user_version = 5;")
        raw.execute(
            "INSERT INTO articles (title, lead, source, published, date_source, country, "
            "content_hash, imported_at) VALUES (?, 'Texte', 'listing', '2025-04-03', 'text', "
            "'UZ', 'h1', '2025-04-05T08:00:00+00:00')", (CAFE,))
    feed = write(tmp_path, "feed.xml", FEED)
    assert "1 matched (linked)" in run(bot, "import", feed)
    with open_store(bot.database) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.get_article(1).url == "https://ex.fr/cafe"


# -- BOT_ARTICLE_LINK -----------------------------------------------------------------------

def test_the_title_is_url_encoded_into_the_link() -> None:
    assert fill_link(LINK, CAFE) == CAFE_LINK
    assert fill_link("https://ex.org/recherche/{title}/", "a/b c") == (
        "https://ex.org/recherche/a%2Fb%20c/")


def written(out: str, name: str) -> str:
    [path] = [line.removeprefix("wrote ") for line in out.splitlines()
              if line.startswith("wrote ") and line.endswith("/" + name)]
    return Path(path).read_text(encoding="utf-8")


def test_preview_links_every_article_in_email_text_and_telegram(
        bot: Bot, tmp_path: Path, listing: str) -> None:
    run(bot, "import", write(tmp_path, "feed.xml", rss(entry(
        "Le Kazakhstan inaugure un pont sur l'Irtych a Pavlodar", "https://ex.fr/pont"))))
    out = run(bot, "preview", "--week", "2025-W14", BOT_ARTICLE_LINK=LINK)
    assert "0 articles without a link" in out.splitlines()
    assert "has no URL" not in out
    html, text = written(out, "email.html"), written(out, "email.txt")
    telegram = written(out, "telegram-01.html")
    for rendered in (html, telegram):
        assert f'href="{CAFE_LINK}"' in rendered
        assert 'href="https://ex.fr/pont"' in rendered  # a real URL stays
        assert "example.org/?s=Le%20Kazakhstan" not in rendered
    assert CAFE_LINK in text
    snapshot = json.loads(written(out, "digest.json"))
    urls = {i["title"]: i["url"] for s in snapshot["sections"] for i in s["items"]}
    assert urls[CAFE] == CAFE_LINK


def test_a_sent_week_carries_the_link_in_its_frozen_snapshot_and_its_email(
        bot: Bot, tmp_path: Path, listing: str) -> None:
    run(bot, "subscribers", "add", "lectrice@ex.org")
    run(bot, "send", "--week", "2025-W14", "--channel", "email", BOT_ARTICLE_LINK=LINK)
    with open_store(bot.database) as store:
        stored = store.get_digest("2025-W14")
    assert stored is not None
    urls = {i["title"]: i["url"] for s in json.loads(stored.snapshot)["sections"]
            for i in s["items"]}
    assert urls[CAFE] == CAFE_LINK
    [eml] = (tmp_path / "var" / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("html",))
    assert body is not None and CAFE_LINK in body.get_content()
    # What was sent stays as it was sent: the setting gone, the snapshot keeps its links.
    assert "digest 2025-W14: 0 articles without a link" in run(bot, "stats").splitlines()


@pytest.mark.parametrize("value", [
    "ftp://www.example.org/?s={title}",  # not http(s)
    "https://www.example.org/?s=",  # no {title}
    "https://{title}.example.org/",  # {title} in the host
    "www.example.org/?s={title}",  # no scheme
    "https://www.example.org/?s={title} x",  # a space
    "https://[www.example.org/?s={title}",  # not a URL at all
])
def test_a_bad_link_is_one_line_naming_the_variable(bot: Bot, value: str) -> None:
    result = bot("config", "check", BOT_ARTICLE_LINK=value)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        'error: BOT_ARTICLE_LINK must be an http(s) URL containing {title}, like '
        f'"https://www.example.org/?s={{title}}", got {value!r}\n')


def test_config_check_shows_the_link(bot: Bot) -> None:
    assert re.search(r"^BOT_ARTICLE_LINK +\(not set\)$", run(bot, "config", "check"),
                     re.MULTILINE)
    assert re.search(r"^BOT_ARTICLE_LINK +https://www\.example\.org/\?s=\{title\}$",
                     run(bot, "config", "check", BOT_ARTICLE_LINK=LINK), re.MULTILINE)


# -- counts -------------------------------------------------------------------------------

def test_preview_counts_the_articles_without_a_link(bot: Bot, tmp_path: Path,
                                                    listing: str) -> None:
    assert "4 articles without a link" in run(bot, "preview", "--week", "2025-W14").splitlines()
    run(bot, "import", write(tmp_path, "feed.xml", FEED))
    lines = run(bot, "preview", "--week", "2025-W14").splitlines()
    assert "1 article without a link" in lines
    assert "warning: article 4 has no URL: Bichkek : un nouveau musée d’art contemporain" in lines


def test_stats_counts_the_articles_without_a_link(bot: Bot, tmp_path: Path,
                                                  listing: str) -> None:
    assert "digest 2025-W14: 4 articles without a link" in run(
        bot, "stats", "--week", "2025-W14").splitlines()  # not sent: as the store has it
    run(bot, "import", write(tmp_path, "feed.xml", FEED))
    run(bot, "subscribers", "add", "lectrice@ex.org")
    run(bot, "send", "--week", "2025-W14", "--channel", "email")
    run(bot, "import", write(tmp_path, "late.xml", rss(entry(
        "Bichkek : un nouveau musée d’art contemporain", "https://ex.fr/musee-2", 1))))
    # The sent digest is counted as it went out, before the late link.
    stats = run(bot, "stats").splitlines()
    assert "digest 2025-W14: 1 article without a link" in stats
    assert stats[-1].startswith("digest 2025-W14 (sent): email 1 sent")
