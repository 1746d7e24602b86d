"""`bot import` on RSS 2.0 and Atom feeds, from files and from a real local HTTP server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from bot.store import Store
from tests.conftest import Bot
from tests.http_server import serving

ENTRY_UZ = """<item><title>Tachkent accueille un forum &amp; un salon</title>
<link>https://ex.fr/uz-forum</link><guid isPermaLink="false">ex-uz-1</guid>
<pubDate>Thu, 21 Aug 2025 23:30:00 GMT</pubDate>
<description><![CDATA[<p>Le forum <b>d&eacute;bute</b> lundi &amp; dure deux jours.</p>
<script>alert("piège")</script><p>Entrée libre.</p>]]></description></item>"""
ENTRY_KZ = """<item><title>Astana inaugure un nouveau pont</title>
<link>https://ex.fr/kz-pont</link><guid isPermaLink="false">ex-kz-1</guid>
<pubDate>Wed, 20 Aug 2025 08:00:00 GMT</pubDate>
<description>Le pont relie les deux rives de l'Ichim.</description></item>"""
ENTRY_NO_TITLE = """<item><link>https://ex.fr/sans-titre</link>
<pubDate>Tue, 19 Aug 2025 08:00:00 GMT</pubDate>
<description>Douchanbé prépare sa fête.</description></item>"""


def rss(*items: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Nouvelles</title><link>https://ex.fr/</link><description>d</description>\n"
            + "\n".join(items) + "\n</channel></rss>\n")


def item(title: str, link: str, description: str, guid: str | None = None) -> str:
    guid_tag = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return (f"<item><title>{title}</title><link>{link}</link>{guid_tag}"
            f"<pubDate>Mon, 18 Aug 2025 09:00:00 GMT</pubDate>"
            f"<description>{description}</description></item>")


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:feed</id>
<updated>2025-08-21T00:00:00Z</updated>
<entry><title type="html">Achgabat &amp;amp; le gaz</title><id>urn:entry:1</id>
<link href="https://ex.fr/tm-gaz"/><updated>2025-08-19T23:30:00Z</updated>
<summary type="html">&lt;p&gt;Le &lt;i&gt;Turkm&amp;eacute;nistan&lt;/i&gt;
exporte.&lt;/p&gt;</summary>
</entry></feed>
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def listed(bot: Bot) -> list[dict[str, object]]:
    result = bot("articles", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def by_title(bot: Bot) -> dict[object, dict[str, object]]:
    return {a["title"]: a for a in listed(bot)}


def imported(bot: Bot, location: str, *options: str) -> str:
    result = bot("import", location, *options)
    assert result.exit_code == 0, result.stderr
    return result.stdout


# -- what an entry becomes ----------------------------------------------------------------


def test_rss_entry_is_stored_as_plain_text_with_its_local_date(bot: Bot, tmp_path: Path):
    imported(bot, write(tmp_path, "feed.xml", rss(ENTRY_UZ, ENTRY_KZ)))
    assert listed(bot) == [
        {"id": 1, "title": "Tachkent accueille un forum & un salon",
         "lead": "Le forum débute lundi & dure deux jours. Entrée libre.",
         "url": "https://ex.fr/uz-forum", "published": "2025-08-22",
         "date_source": "explicit", "country": "UZ", "countries": ["UZ"],
         "needs_review": None, "featured": False},
        {"id": 2, "title": "Astana inaugure un nouveau pont",
         "lead": "Le pont relie les deux rives de l'Ichim.",
         "url": "https://ex.fr/kz-pont", "published": "2025-08-20",
         "date_source": "explicit", "country": "KZ", "countries": ["KZ"],
         "needs_review": None, "featured": False},
    ]


def test_atom_entry_is_stored_as_plain_text_with_its_local_date(bot: Bot, tmp_path: Path):
    imported(bot, write(tmp_path, "feed.atom", ATOM))
    [article] = listed(bot)
    assert (article["title"], article["lead"], article["url"]) == (
        "Achgabat & le gaz", "Le Turkménistan exporte.", "https://ex.fr/tm-gaz")
    assert (article["published"], article["date_source"], article["country"]) == (
        "2025-08-20", "explicit", "TM")


def test_xml_without_format_is_read_as_a_feed(bot: Bot, tmp_path: Path):
    path = write(tmp_path, "feed.txt", rss(ENTRY_KZ))
    assert imported(bot, path) == f"{path}: 1 new article, 0 already in the store (feed)\n"


# -- identity -----------------------------------------------------------------------------


def test_importing_the_same_feed_twice_adds_nothing(bot: Bot, tmp_path: Path):
    path = write(tmp_path, "feed.xml", rss(ENTRY_UZ, ENTRY_KZ))
    imported(bot, path)
    before = listed(bot)
    assert imported(bot, path) == f"{path}: 0 new articles, 2 already in the store (feed)\n"
    assert listed(bot) == before


def test_same_guid_with_new_text_is_not_imported_again(bot: Bot, tmp_path: Path):
    first = item("Bichkek vote", "https://ex.fr/v1", "Le scrutin est ouvert.", guid="g-1")
    imported(bot, write(tmp_path, "v1.xml", rss(first)))
    changed = item("Bichkek vote (mis à jour)", "https://ex.fr/v1?maj", "Le scrutin est clos.",
                   guid="g-1")
    path = write(tmp_path, "v2.xml", rss(changed))
    assert imported(bot, path) == f"{path}: 0 new articles, 1 already in the store (feed)\n"
    assert [a["title"] for a in listed(bot)] == ["Bichkek vote"]


def test_entry_without_guid_is_identified_by_its_link(bot: Bot, tmp_path: Path):
    first = item("Douchanbé rénove", "https://ex.fr/tj-1", "Les travaux commencent.")
    imported(bot, write(tmp_path, "v1.xml", rss(first)))
    changed = item("Douchanbé rénove son centre", "https://ex.fr/tj-1", "Les travaux durent.")
    other = item("Douchanbé rénove son centre", "https://ex.fr/tj-2", "Autre article.")
    path = write(tmp_path, "v2.xml", rss(changed, other))
    assert imported(bot, path) == f"{path}: 1 new article, 1 already in the store (feed)\n"
    assert sorted(str(a["url"]) for a in listed(bot)) == ["https://ex.fr/tj-1",
                                                         "https://ex.fr/tj-2"]
    assert by_title(bot)["Douchanbé rénove"]["lead"] == "Les travaux commencent."


def test_entry_listed_twice_in_one_feed_is_stored_and_counted_once(bot: Bot, tmp_path: Path):
    path = write(tmp_path, "feed.xml", rss(ENTRY_KZ, ENTRY_KZ))
    assert imported(bot, path) == f"{path}: 1 new article, 1 already in the store (feed)\n"
    assert len(listed(bot)) == 1


# -- from a URL ---------------------------------------------------------------------------


def test_feed_is_imported_from_a_url(bot: Bot, no_proxy: None):
    with serving({"/feed.xml": rss(ENTRY_UZ, ENTRY_KZ).encode()}.get) as base:
        url = f"{base}/feed.xml"
        assert imported(bot, url) == f"{url}: 2 new articles, 0 already in the store (feed)\n"
    assert [a["url"] for a in listed(bot)] == ["https://ex.fr/uz-forum", "https://ex.fr/kz-pont"]


def test_http_404_is_one_line_naming_the_url(bot: Bot, no_proxy: None):
    with serving({}.get) as base:
        url = f"{base}/missing.xml"
        result = bot("import", url)
    assert result.exit_code == 2
    assert result.stderr == f"error: {url}: the server answered HTTP 404 Not Found\n"
    assert listed(bot) == []


def test_unreachable_url_is_one_line_naming_the_url(bot: Bot, no_proxy: None):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"
    result = bot("import", url)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {url}: unreachable (")
    assert listed(bot) == []


# -- bad input ----------------------------------------------------------------------------


def rejected(bot: Bot, tmp_path: Path, content: str | bytes, *options: str) -> tuple[str, str]:
    """Import a good feed, then the bad input: exit 2 and the store as it was.
    Returns the bad file's path and the one line on stderr."""
    imported(bot, write(tmp_path, "good.xml", rss(ENTRY_KZ)))
    before = listed(bot)
    path = write(tmp_path, "bad.xml", content)
    result = bot("import", path, *options)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert listed(bot) == before
    [line] = result.stderr.splitlines()
    return path, line


def test_text_that_is_not_xml_is_rejected(bot: Bot, tmp_path: Path):
    path, line = rejected(bot, tmp_path, "<<<not xml\n")
    assert line.startswith(f"error: {path}: not an RSS or Atom feed (")


def test_empty_file_is_rejected(bot: Bot, tmp_path: Path):
    path, line = rejected(bot, tmp_path, "")
    assert line.startswith(f"error: {path}")
    assert line.endswith(": empty file, nothing to import")


def test_binary_file_given_as_feed_is_rejected(bot: Bot, tmp_path: Path):
    path, line = rejected(bot, tmp_path, b"<rss>\n\x00\x01\x02\xff</rss>", "--format", "feed")
    assert line == f"error: {path}:2: binary data (a NUL byte), expected text"


def test_entry_without_title_rejects_the_whole_feed(bot: Bot, tmp_path: Path):
    path, line = rejected(bot, tmp_path, rss(ENTRY_UZ, ENTRY_NO_TITLE))
    assert line == f"error: {path}: entry 2: entry has no title"


def test_skip_invalid_stores_good_entries_and_writes_rejects(bot: Bot, tmp_path: Path):
    path = write(tmp_path, "feed.xml", rss(ENTRY_UZ, ENTRY_NO_TITLE, ENTRY_KZ))
    result = bot("import", path, "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == f"{path}: 2 new articles, 0 already in the store (feed)\n"
    assert result.stderr == (f"1 bad record skipped, written to {path}.rejects\n")
    assert [a["url"] for a in listed(bot)] == ["https://ex.fr/uz-forum", "https://ex.fr/kz-pont"]
    rejects = Path(f"{path}.rejects").read_text(encoding="utf-8").splitlines()
    assert rejects[2:4] == [f"# {path}: entry 2: entry has no title",
                            "https://ex.fr/sans-titre"]


# -- dry run ------------------------------------------------------------------------------


def test_dry_run_prints_the_titles_and_writes_nothing(bot: Bot, tmp_path: Path, store: Store):
    path = write(tmp_path, "feed.xml", rss(ENTRY_UZ, ENTRY_KZ))
    result = bot("import", path, "--dry-run", COLUMNS="250")  # room for whole titles
    assert result.exit_code == 0
    assert "Tachkent accueille un forum & un salon" in result.stdout
    assert "Astana inaugure un nouveau pont" in result.stdout
    assert result.stdout.endswith(
        "dry run: 2 new, 0 already in the store, 0 rejected; nothing was written\n")
    assert store.count_articles() == 0
    assert listed(bot) == []

