"""A digest readers can scan: the table of contents above the sections (email HTML with
anchors, plain text, Telegram), a featured article in À la une and, marked, in its own
section, and a Telegram digest of several parts numbered, its last part linking the week's
web version, within Telegram's limits."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from bot.chat.digests import LATEST_MAX, capped, digest_messages
from bot.digest import Digest, IsoWeek
from bot.links import week_page
from bot.model import Country
from bot.render.blocks import contents_line, digest_blocks
from bot.render.telegram import MAX_ENTITIES, MAX_TEXT, render_telegram, utf16_length
from bot.render.typography import NBSP
from tests.test_render import (
    LEAD_400,
    MASTHEAD,
    MON,
    NAME,
    SUN,
    THU,
    Visible,
    big_week,
    check_limits,
    digest_of,
    email,
    item,
    reading_week,
    squeeze,
)

ARCHIVE = MASTHEAD.archive_url  # https://lettre.example.fr/archive/2025-W34/


def featured_week() -> Digest:
    """Kazakhstan's newest article is featured; Tajikistan's only one is too."""
    return digest_of(
        item(2, Country.KZ, SUN, title="Astana inaugure un pont", url="https://ex.fr/pont"),
        item(3, Country.KZ, THU, title="Almaty : la neige"),
        item(4, Country.UZ, MON, title="Tachkent accueille un forum"),
        item(5, Country.REGION, MON, title="Sommet régional"),
        featured=(item(1, Country.TJ, SUN, title="Le barrage de Rogoun est achevé"),
                  item(2, Country.KZ, SUN, title="Astana inaugure un pont",
                       url="https://ex.fr/pont")))


class Anchors(HTMLParser):
    """The fragment links of a page, in order, and the anchors (id, name) it holds."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.names: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and (found.get("href") or "").startswith("#"):
            self.hrefs.append(str(found["href"])[1:])
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "a" and found.get("name"):
            self.names.append(str(found["name"]))


# -- the table of contents -----------------------------------------------------------------

def test_the_email_opens_with_a_contents_line_of_sections_and_counts() -> None:
    rendered = email(featured_week())
    seen = Visible(rendered.html).text
    line = (f"Dans ce numéro{NBSP}: Asie centrale{NBSP}(1){NBSP}· Kazakhstan{NBSP}(2){NBSP}· "
            f"Ouzbékistan{NBSP}(1){NBSP}· Tadjikistan{NBSP}(1)")
    assert line in seen  # no-break spaces and all
    text, line = squeeze(seen), squeeze(line)
    # Under the masthead, above À la une and the sections.
    assert text.index("Semaine du 18 au 24 août 2025") < text.index(line) < text.index(
        "⭐ À la une")
    # The counts are the articles each section lists, its featured ones included.
    assert "🇰🇿 Kazakhstan · 2" in text and "🇹🇯 Tadjikistan · 1" in text


def test_every_contents_entry_links_an_anchor_at_its_section_heading() -> None:
    html = email(featured_week()).html
    found = Anchors(html)
    assert found.hrefs == ["section-region", "section-kz", "section-uz", "section-tj"]
    assert set(found.hrefs) <= set(found.ids) and set(found.hrefs) <= set(found.names)
    assert len(found.ids) == len(set(found.ids))  # each anchor once
    for anchor, heading in (("section-kz", "🇰🇿 Kazakhstan"), ("section-tj", "🇹🇯 Tadjikistan"),
                            ("section-region", "🌏 Asie centrale")):
        # The anchor sits at the start of its section's heading.
        assert re.search(f'<a id="{anchor}" name="{anchor}"></a>{heading} <span', html)
    # Each entry is one link ("Kazakhstan (2)"), never broken over two lines.
    assert re.search(r'<a href="#section-kz" style="[^"]*white-space:nowrap">'
                     f"Kazakhstan{NBSP}\\(2\\)</a>", html)


def test_the_plain_text_lists_the_sections_under_the_week() -> None:
    lines = email(featured_week()).text.splitlines()
    assert lines[:3] == [NAME, "Semaine du 18 au 24 août 2025", ""]
    block = lines[3:lines.index("", 3)]
    assert " ".join(block) == (f"Dans ce numéro{NBSP}: Asie centrale{NBSP}(1){NBSP}· "
                               f"Kazakhstan{NBSP}(2){NBSP}· Ouzbékistan{NBSP}(1){NBSP}· "
                               f"Tadjikistan{NBSP}(1)")
    assert lines[lines.index("", 3) + 1] == "== ⭐ À la une (2) =="


def test_a_long_contents_line_wraps_between_entries_only() -> None:
    """Seven sections are more than 72 columns: the line wraps after a separator, never
    inside an entry nor before a "·"."""
    digest = digest_of(*big_week(12).items, item(99, Country.OTHER))
    text = email(digest).text
    start = text.index("Dans ce numéro")
    block = text[start:text.index("\n\n", start)].splitlines()
    assert len(block) == 2 and all(len(line) <= 72 for line in block)
    assert not any(line.startswith("·") for line in block)
    for entry in ("Asie centrale", "Kazakhstan", "Kirghizstan", "Ouzbékistan", "Tadjikistan",
                  "Turkménistan"):
        assert sum(f"{entry}{NBSP}(2)" in line for line in block) == 1, entry
    assert block[-1].endswith(f"Autres{NBSP}(1)")


@pytest.mark.parametrize(("locale", "label", "entry"), [
    ("fr", f"Dans ce numéro{NBSP}:", f"Kazakhstan{NBSP}(2)"),
    ("en", "In this issue:", f"Kazakhstan{NBSP}(2)"),
    ("ru", "В этом выпуске:", f"Казахстан{NBSP}(2)"),
])
def test_the_contents_in_the_readers_language(locale: str, label: str, entry: str) -> None:
    line = contents_line(digest_blocks(featured_week(), locale), locale)
    assert line.startswith(f"{label} ") and entry in line
    assert line.count(f"{NBSP}· ") == 3
    rendered = email(featured_week(), locale)
    assert line in Visible(rendered.html).text
    assert squeeze(line) in squeeze(rendered.text)  # wrapped at 72 columns


def test_one_section_needs_no_contents() -> None:
    digest = digest_of(item(1, Country.KZ), item(2, Country.KZ))
    rendered = email(digest)
    assert "Dans ce numéro" not in rendered.html and "Dans ce numéro" not in rendered.text
    assert Anchors(rendered.html).hrefs == []
    [part] = render_telegram(digest, NAME)
    assert "Dans ce numéro" not in part.text


def test_a_readers_variant_lists_only_their_sections() -> None:
    variant = featured_week().only([Country.KZ, Country.TJ])
    line = contents_line(digest_blocks(variant, "fr"), "fr")
    assert line == f"Dans ce numéro{NBSP}: Kazakhstan{NBSP}(2){NBSP}· Tadjikistan{NBSP}(1)"
    assert Anchors(email(variant).html).hrefs == ["section-kz", "section-tj"]


# -- À la une never empties a section ------------------------------------------------------

def test_a_featured_article_is_in_a_la_une_and_marked_in_its_section() -> None:
    digest = featured_week()
    rendered = email(digest)
    text = squeeze(Visible(rendered.html).text)
    top, sections = text.split("🌏 Asie centrale · 1", 1)
    assert "Le barrage de Rogoun est achevé" in top.split("⭐ À la une · 2", 1)[1]
    assert "Astana inaugure un pont" in top
    # In its section too, after the section's heading, with the mark.
    assert "🇹🇯 Tadjikistan · 1 ⭐ Le barrage de Rogoun est achevé" in sections
    assert "🇰🇿 Kazakhstan · 2 ⭐ Astana inaugure un pont" in sections
    assert "⭐ Almaty" not in sections and "⭐ Sommet" not in sections
    assert rendered.html.count('aria-label="À la une"') == 2
    assert Visible(rendered.html).links.count("https://ex.fr/pont") == 2
    lines = rendered.text.splitlines()
    assert lines.count("Le barrage de Rogoun est achevé") == 1  # in À la une
    assert lines.count("⭐ Le barrage de Rogoun est achevé") == 1  # in Tadjikistan
    assert lines.index("== 🇹🇯 Tadjikistan (1) ==") < lines.index(
        "⭐ Le barrage de Rogoun est achevé")


def test_a_featured_article_in_telegram_too() -> None:
    [part] = check_limits(render_telegram(featured_week(), NAME))
    assert part.text.count("Le barrage de Rogoun est achevé") == 2
    assert "🇹🇯 Tadjikistan (1)\n\n⭐ Le barrage de Rogoun est achevé\n" in part.text
    assert '<b>⭐ <a href="https://ex.fr/pont">Astana inaugure un pont</a></b>' in part.part.html


def test_the_mark_is_in_english_and_russian_labels() -> None:
    for locale, label in (("en", "Top stories"), ("ru", "Главное")):
        rendered = email(featured_week(), locale)
        assert rendered.html.count(f'aria-label="{label}"') == 2, locale


# -- Telegram: numbered parts, the last linking the week's page ------------------------------

def test_one_message_is_not_numbered_and_has_no_link() -> None:
    [part] = render_telegram(reading_week(), NAME, archive_url=ARCHIVE)
    assert part.trailer == "" and ARCHIVE not in part.html
    assert not re.search(r"\b1/1\b", part.text)


def test_several_parts_are_numbered_and_the_last_links_the_week() -> None:
    parts = check_limits(render_telegram(big_week(60, LEAD_400 * 2), NAME, archive_url=ARCHIVE))
    total = len(parts)
    assert total > 2
    for n, shown in enumerate(parts, 1):
        assert shown.part.trailer.startswith(f"{n}/{total}")
        assert shown.part.html.count(f"<i>{n}/{total}</i>") == 1
        assert (ARCHIVE in shown.part.html) is (n == total)
        assert Visible(shown.part.html).links.count(ARCHIVE) == (n == total)
    assert parts[-1].part.html.endswith(
        f'\n\n<i>{total}/{total}</i> · <a href="{ARCHIVE}">Tout le résumé en ligne</a>')
    assert parts[-1].text.endswith(f"\n\n{total}/{total} · Tout le résumé en ligne")
    assert parts[0].text.startswith(f"{NAME} — semaine du 18 au 24 août 2025\n\nDans ce numéro")


def test_the_link_is_in_the_readers_language_and_splitting_does_not_depend_on_it() -> None:
    digest = big_week(60, LEAD_400 * 2)
    for locale, words in (("fr", "Tout le résumé en ligne"), ("en", "The whole digest online"),
                          ("ru", "Весь дайджест на сайте")):
        linked = render_telegram(digest, NAME, locale, archive_url=ARCHIVE)
        plain = render_telegram(digest, NAME, locale)
        assert len(linked) == len(plain)
        assert linked[-1].text.endswith(f" · {words}")
        assert plain[-1].trailer == f"{len(plain)}/{len(plain)}"
        assert [p.text for p in linked[:-1]] == [p.text for p in plain[:-1]]


def test_a_link_that_is_not_http_is_left_out() -> None:
    parts = render_telegram(big_week(60, LEAD_400 * 2), NAME, archive_url="javascript:alert(1)")
    assert "javascript" not in parts[-1].html and "<a href" not in parts[-1].html.rsplit(
        "\n\n", 1)[1]


def test_a_long_week_in_two_digit_parts_keeps_to_both_limits() -> None:
    digest = big_week(240, LEAD_400 * 2)
    parts = check_limits(render_telegram(digest, NAME, archive_url=ARCHIVE))
    total = len(parts)
    assert total >= 10
    assert [s.part.trailer.split(" ")[0] for s in parts] == [
        f"{n}/{total}" for n in range(1, total + 1)]
    assert all(utf16_length(s.text) <= MAX_TEXT and s.part.entities <= MAX_ENTITIES
               for s in parts)


@pytest.mark.parametrize("size", range(1, 400, 23))
def test_the_number_and_link_never_push_a_part_over_a_limit(size: int) -> None:
    """Parts filled to the brim by text (long leads) or by entities (short linked ones): the
    number and the link fit in the room kept for them."""
    by_text = big_week(45, LEAD_400[:size] * 9)
    by_entities = digest_of(*(item(n, url=f"https://ex.fr/{n}", lead="x" * (size % 40))
                              for n in range(1, 30 + size)))
    for digest in (by_text, by_entities):
        parts = check_limits(render_telegram(digest, NAME, archive_url=ARCHIVE))
        if len(parts) > 1:
            assert parts[-1].part.trailer.endswith("Tout le résumé en ligne")


def test_forty_linked_articles_still_split_at_32() -> None:
    """The number's entity is kept out of the 100: 32 articles of 3 entities fit, not 33."""
    digest = digest_of(*(item(n, url=f"https://ex.fr/{n}") for n in range(1, 41)))
    parts = check_limits(render_telegram(digest, NAME, archive_url=ARCHIVE))
    assert [s.text.count("Chapeau") for s in parts] == [32, 8]
    # Title, section, 32 × (bold, link, italic date), the number: 99; then the "(suite)"
    # title, 8 articles, the number and the link: 27.
    assert [s.part.entities for s in parts] == [99, 27]


# -- /latest: one link to the week's page, never two ------------------------------------------

def test_latest_links_the_week_once_whether_cut_or_not() -> None:
    public = "https://lettre.example.fr"
    week = IsoWeek(2025, 34)
    for digest, cut in ((big_week(30, LEAD_400 * 2), False), (big_week(60, LEAD_400 * 2), True)):
        messages = digest_messages(digest, NAME, "fr", archive_url=week_page(public, week))
        sent = capped(messages, str(week), "fr", public)
        assert (len(messages) > LATEST_MAX) is cut
        assert sum(m.count(f"{public}/archive/2025-W34/") for m in sent) == 1
        assert ("La suite de ce résumé est en ligne" in sent[-1]) is cut


def test_week_page_is_the_archive_url_of_the_settings() -> None:
    """`bot.links.week_page` (delivery, chat, test copies) and `bot.preview.archive_url` (the
    email's "view in the browser") build the same address."""
    from bot.preview import archive_url

    for public in ("https://lettre.example.fr", "https://lettre.example.fr/",
                   "http://127.0.0.1:8080"):
        settings = SimpleNamespace(public_url=public)
        assert week_page(public, IsoWeek(2025, 14)) == archive_url(
            settings, IsoWeek(2025, 14)) == f"{public.rstrip('/')}/archive/2025-W14/"  # type: ignore[arg-type]


def test_every_article_of_a_numbered_week_is_in_one_part_once() -> None:
    parts = render_telegram(big_week(60, LEAD_400 * 2), NAME, archive_url=ARCHIVE)
    for n in range(1, 61):
        assert sum(p.text.count(f"Article {n}{NBSP}:") for p in parts) == 1, n
