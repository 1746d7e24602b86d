"""Rendering a digest: dates and week labels, French typography, the email (MJML) and its
plain-text part, Telegram messages, hostile text, and the gettext catalogs.

Long because every format of one digest is checked against the same fixtures: dates,
typography, email, text, Telegram, hostile text and catalogs.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.render.email
from bot.digest import SECTION_ORDER, Digest, IsoWeek, Item, Section, assemble_week, digest_to_json
from bot.model import Country
from bot.render.email import Masthead, RenderedEmail, render_email
from bot.render.i18n import format_day, week_label
from bot.render.telegram import TelegramPart, render_telegram, utf16_length
from bot.render.typography import french_typography
from bot.store import ArticleQuery, Store
from tests.conftest import NOW, ROOT
from tests.test_digest import new_article

NBSP, NNBSP = "\u00a0", "\u202f"
W34 = IsoWeek(2025, 34)
MON, THU, SUN = dt.date(2025, 8, 18), dt.date(2025, 8, 21), dt.date(2025, 8, 24)
NAME = "Nouvelles d'Asie centrale"
MASTHEAD = Masthead(NAME, "https://lettre.example.fr/archive/2025-W34/",
                    "Rédaction, 12 rue de l’Exemple, 75011 Paris")
TOKEN = "r=4217&t=c2lnbmF0dXJlLWZhY3RpY2UtcG91ci1sZXMtdGVzdHMtZHUtYm90"
UNSUBSCRIBE = f"https://lettre.example.fr/desabonnement?{TOKEN}"
PREFERENCES = f"https://lettre.example.fr/preferences?{TOKEN}"
TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}
LEAD_400 = ("Le président Kassym-Jomart Tokaïev a reçu à Astana une délégation européenne "
            "pour parler des corridors de transport, de l’énergie et des minerais critiques, "
            "avant un sommet régional prévu à Samarcande où les cinq pays d’Asie centrale "
            "doivent adopter une déclaration commune sur l’eau, le climat et le commerce ; "
            "les négociateurs restent encore prudents sur le calendrier et les financements "
            "annoncés.")


def item(n: int, country: Country = Country.KZ, day: dt.date = THU, *,
         title: str | None = None, lead: str | None = None, url: str | None = None) -> Item:
    return Item(n, title if title is not None else f"Titre {n}",
                lead if lead is not None else f"Chapeau {n}.", url, day, country)


def digest_of(*items: Item, featured: tuple[Item, ...] = ()) -> Digest:
    """Sections in the fixed order, items in the order given, the featured first in theirs
    (À la une never empties a section)."""
    listed = [*featured, *(i for i in items if i not in featured)]
    sections = tuple(Section(c, tuple(i for i in listed if i.country is c))
                     for c in SECTION_ORDER if any(i.country is c for i in listed))
    return Digest(W34, featured, sections)


def big_week(count: int = 60, lead: str = LEAD_400) -> Digest:
    countries = [Country.KZ, Country.KG, Country.UZ, Country.TJ, Country.TM, Country.REGION]
    return digest_of(*(item(n, countries[n % 6], MON + dt.timedelta(days=n % 7),
                            title=f"Article {n} : un titre de longueur ordinaire sur l’eau",
                            lead=lead, url=f"https://www.example.fr/asie-centrale/2025/08/{n}")
                       for n in range(1, count + 1)))


def reading_week() -> Digest:
    return digest_of(
        item(2, Country.REGION, MON, title="Sommet régional à Samarcande"),
        item(3, Country.KZ, SUN, title="Astana inaugure un pont", url="https://ex.fr/pont"),
        item(4, Country.KZ, THU, title="Piège", url="javascript:alert(1)"),
        item(5, Country.UZ, THU, title="Tachkent : la foire", url="http://ex.fr/foire?a=1&b=2"),
        featured=(item(1, Country.TJ, SUN, title="Le barrage de Rogoun est achevé"),))


class Visible(HTMLParser):
    """The text a reader sees (outside <head>'s style and title), the tags and the links.
    Email blocks (p, div, td…) end a line; Telegram's HTML has none."""

    BLOCKS = frozenset({"p", "div", "td", "br"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.hidden = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.BLOCKS:
            self.chunks.append("\n")
        self.hidden += tag in ("style", "title", "script")
        if tag == "a" and "href" in dict(attrs):  # an <a id> alone is an anchor, not a link
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.chunks.append("\n")
        self.hidden -= tag in ("style", "title", "script")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def squeeze(text: str) -> str:
    return " ".join(text.split())


def email(digest: Digest, locale: str = "fr") -> RenderedEmail:
    return render_email(digest, MASTHEAD, locale)


# -- dates and labels ---------------------------------------------------------------------

@pytest.mark.parametrize(("week", "fr", "en", "ru"), [
    (IsoWeek(2025, 34), "semaine du 18 au 24 août 2025", "week of 18 to 24 August 2025",
     "неделя с 18 по 24 августа 2025"),
    (IsoWeek(2025, 31), "semaine du 28 juillet au 3 août 2025",
     "week of 28 July to 3 August 2025", "неделя с 28 июля по 3 августа 2025"),
    (IsoWeek(2026, 1), "semaine du 29 décembre 2025 au 4 janvier 2026",
     "week of 29 December 2025 to 4 January 2026", "неделя с 29 декабря 2025 по 4 января 2026"),
    (IsoWeek(2025, 40), "semaine du 29 septembre au 5 octobre 2025",
     "week of 29 September to 5 October 2025", "неделя с 29 сентября по 5 октября 2025"),
])
def test_week_label(week: IsoWeek, fr: str, en: str, ru: str) -> None:
    assert [week_label(week, loc) for loc in ("fr", "en", "ru")] == [fr, en, ru]


def test_week_label_other_locales_fall_back_to_french() -> None:
    assert week_label(IsoWeek(2025, 35), "de-DE") == "semaine du 25 au 31 août 2025"
    assert week_label(IsoWeek(2025, 35), "en_GB") == "week of 25 to 31 August 2025"


def test_week_label_of_a_week_starting_on_the_first() -> None:
    """French writes the first of the month "1er", in a week label as in a date."""
    assert week_label(IsoWeek(2025, 36), "fr") == "semaine du 1er au 7 septembre 2025"
    assert week_label(IsoWeek(2025, 49), "fr") == "semaine du 1er au 7 décembre 2025"


@pytest.mark.parametrize(("day", "fr", "en", "ru"), [
    (dt.date(2025, 8, 21), "jeudi 21 août 2025", "Thursday 21 August 2025",
     "четверг 21 августа 2025"),
    (dt.date(2025, 8, 1), "vendredi 1er août 2025", "Friday 1 August 2025",
     "пятница 1 августа 2025"),
    (dt.date(2025, 1, 11), "samedi 11 janvier 2025", "Saturday 11 January 2025",
     "суббота 11 января 2025"),
])
def test_format_day(day: dt.date, fr: str, en: str, ru: str) -> None:
    assert [format_day(day, loc) for loc in ("fr", "en", "ru")] == [fr, en, ru]


# -- French typography --------------------------------------------------------------------

@pytest.mark.parametrize(("written", "shown"), [
    ("Sommet : « Oui » ?", f"Sommet{NBSP}: «{NBSP}Oui{NBSP}»{NNBSP}?"),
    ("«Non»", f"«{NBSP}Non{NBSP}»"),
    ("Vraiment? Oui ! Non ; peut-être", f"Vraiment{NNBSP}? Oui{NNBSP}! Non{NNBSP}; peut-être"),
    ("Quoi ?!", f"Quoi{NNBSP}?!"),
    ("Rendez-vous à 10:30 sur https://ex.fr/a?b=1;c=2 ou http://ex.fr:8080/x",
     "Rendez-vous à 10:30 sur https://ex.fr/a?b=1;c=2 ou http://ex.fr:8080/x"),
    ("(?) et « ? »", f"(?) et «{NBSP}?{NBSP}»"),
    ("Rien à changer.", "Rien à changer."),
])
def test_french_typography(written: str, shown: str) -> None:
    assert french_typography(written) == shown
    assert french_typography(shown) == shown


def test_typography_is_applied_when_rendering_not_stored(store: Store) -> None:
    written = "Sommet : « Oui » ?"
    [stored] = store.insert_articles([new_article(1)], NOW).inserted
    store.edit_article(stored, NOW, title=written)
    digest = assemble_week(store.list_articles(ArticleQuery()), W34)
    assert [i.title for i in digest.items] == [written]
    assert f'"title": "{written}"' in digest_to_json(digest)
    shown = french_typography(written)
    assert shown in Visible(email(digest).html).text
    assert shown in email(digest).text.splitlines()
    assert f"\n{shown}\n" in render_telegram(digest, NAME)[0].text
    assert written not in email(digest).text


# -- email --------------------------------------------------------------------------------

def test_email_language_subject_and_preheader() -> None:
    rendered = email(reading_week())
    assert rendered.html.startswith('<!doctype html><html lang="fr"')
    assert rendered.subject == "Nouvelles d'Asie centrale — semaine du 18 au 24 août 2025"
    assert rendered.preheader == ("Le barrage de Rogoun est achevé · Sommet régional à "
                                  "Samarcande · Astana inaugure un pont · Piège · Tachkent"
                                  f"{NBSP}: la foire")
    assert Visible(rendered.html).text.lstrip().startswith(rendered.preheader)
    assert email(big_week()).preheader == (f"Article 5{NBSP}: un titre de longueur ordinaire "
                                           f"sur l’eau · Article 11{NBSP}: un titre de "
                                           "longueur ordinaire sur l’eau")


def test_email_sections_headings_dates_and_links() -> None:
    rendered = email(reading_week())
    text = squeeze(Visible(rendered.html).text)
    headings = ["⭐ À la une · 1", "🌏 Asie centrale · 1", "🇰🇿 Kazakhstan · 2",
                "🇺🇿 Ouzbékistan · 1", "🇹🇯 Tadjikistan · 1"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    assert "Semaine du 18 au 24 août 2025" in text
    for shown in ("Astana inaugure un pont dimanche 24 août 2025",
                  "Sommet régional à Samarcande lundi 18 août 2025",
                  f"Tachkent{NBSP}: la foire jeudi 21 août 2025"):
        assert squeeze(shown) in text
    assert Visible(rendered.html).links == [
        "#section-region", "#section-kz", "#section-uz", "#section-tj",  # the contents
        "https://ex.fr/pont", "http://ex.fr/foire?a=1&b=2",
        "https://lettre.example.fr/archive/2025-W34/", rendered.placeholders[1],
        rendered.placeholders[0]]
    assert "javascript:" not in rendered.html
    assert "Piège" in text


def test_personalize_fills_the_reader_links_escaped() -> None:
    rendered = email(reading_week())
    html, text = rendered.personalize(UNSUBSCRIBE, PREFERENCES)
    assert "%%" not in html and "%%" not in text
    escaped = TOKEN.replace("&", "&amp;")
    assert f'href="https://lettre.example.fr/desabonnement?{escaped}"' in html
    assert f'href="https://lettre.example.fr/preferences?{escaped}"' in html
    assert Visible(html).links[-3:] == [MASTHEAD.archive_url, PREFERENCES, UNSUBSCRIBE]
    lines = text.splitlines()
    assert lines[lines.index("Se désabonner") + 1] == UNSUBSCRIBE
    assert lines[lines.index("Gérer mes préférences") + 1] == PREFERENCES
    assert "Vous recevez cette lettre parce que vous y êtes abonné." in Visible(html).text
    assert MASTHEAD.postal_address in Visible(html).text


def test_email_dark_mode() -> None:
    html = email(reading_week()).html
    assert '<meta name="color-scheme" content="light dark"' in html
    assert '<meta name="supported-color-schemes" content="light dark"' in html
    assert "@media (prefers-color-scheme: dark)" in html


def test_sixty_articles_stay_under_gmail_clipping() -> None:
    digest = big_week(60)
    assert len(digest.items) == 60 and len(digest.items[0].lead) == 400
    assert len(email(digest).html.encode()) < 102 * 1024


def test_mjml_compiles_once_per_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = bot.render.email.mjml2html

    def counting(source: str) -> str:
        calls.append(len(source))
        return real(source)

    monkeypatch.setattr(bot.render.email, "mjml2html", counting)
    week = reading_week()
    variants = [week, week.only([Country.KZ]), week.only([Country.UZ, Country.TJ])]
    rendered = [email(v) for v in variants]
    copies = [rendered[n % 3].personalize(f"{UNSUBSCRIBE}-{n}", PREFERENCES)
              for n in range(300)]
    assert len(calls) == 3
    assert len({html for html, _ in copies}) == 300
    assert f"{UNSUBSCRIBE}-299".replace("&", "&amp;") in copies[299][0]


# -- plain text ---------------------------------------------------------------------------

def test_text_follows_the_email_order_with_urls_whole() -> None:
    digest = reading_week()
    rendered = email(digest)
    _, text = rendered.personalize(UNSUBSCRIBE, PREFERENCES)
    lines = text.splitlines()
    titles = [french_typography(i.title) for i in digest.items]
    html_text = Visible(rendered.html).text
    body = html_text[html_text.index("Semaine du"):]
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    assert [body.index(t) for t in titles] == sorted(body.index(t) for t in titles)
    assert lines[:2] == [NAME, "Semaine du 18 au 24 août 2025"]
    assert "== 🇰🇿 Kazakhstan (2) ==" in lines
    assert lines[lines.index("Astana inaugure un pont") + 1:][:2] == [
        "dimanche 24 août 2025", "https://ex.fr/pont"]
    assert "http://ex.fr/foire?a=1&b=2" in lines and "javascript:alert(1)" not in text
    assert lines[lines.index("Se désabonner") + 1] == UNSUBSCRIBE
    assert "%%" not in text


def test_text_lines_fit_72_columns_except_lone_urls() -> None:
    """URLs in full on their own line; every other line within 72 columns, the reader's own
    links (long, signed) included."""
    _, text = email(big_week(60)).personalize(UNSUBSCRIBE, PREFERENCES)
    too_long = [line for line in text.splitlines()
                if len(line) > 72 and not re.fullmatch(r"https?://\S+", line)]
    assert too_long == []
    assert "https://www.example.fr/asie-centrale/2025/08/60" in text.splitlines()


# -- Telegram -----------------------------------------------------------------------------

class Shown:
    """A Telegram part as the reader sees it."""

    def __init__(self, part: TelegramPart) -> None:
        parsed = Visible(part.html)
        self.part, self.text, self.tags = part, parsed.text, parsed.tags

    @property
    def body(self) -> str:
        """The text after the repeated "(suite)" title, if any, and before the part's number
        and link, if any."""
        assert self.text.startswith(self.part.continuation)
        end = f"\n\n{self.part.trailer}" if self.part.trailer else ""
        assert self.text.endswith(end)
        return self.text[len(self.part.continuation):len(self.text) - len(end)]


def check_limits(parts: list[TelegramPart]) -> list[Shown]:
    shown = [Shown(p) for p in parts]
    for s in shown:
        assert s.text == s.part.text
        assert utf16_length(s.text) <= 4096
        assert len(s.tags) <= 100 and len(s.tags) == s.part.entities
        assert set(s.tags) <= TELEGRAM_TAGS
    return shown


def whole_text(digest: Digest) -> str:
    [whole] = render_telegram(digest, NAME, max_text=10**9, max_entities=10**9)
    return Visible(whole.html).text


def test_telegram_sample_message() -> None:
    [part] = render_telegram(reading_week(), NAME)
    assert part.html.startswith(
        "<b>Nouvelles d'Asie centrale — semaine du 18 au 24 août 2025</b>\n\n"
        f"Dans ce numéro{NBSP}: Asie centrale{NBSP}(1){NBSP}· Kazakhstan{NBSP}(2){NBSP}· "
        f"Ouzbékistan{NBSP}(1){NBSP}· Tadjikistan{NBSP}(1)\n\n"
        "<b>⭐ À la une</b> (1)\n\n<b>Le barrage de Rogoun est achevé</b>\n"
        "<i>dimanche 24 août 2025</i>\nChapeau 1.\n\n<b>🌏 Asie centrale</b> (1)")
    assert part.html.endswith("<b>🇹🇯 Tadjikistan</b> (1)\n\n<b>⭐ Le barrage de Rogoun est "
                              "achevé</b>\n<i>dimanche 24 août 2025</i>\nChapeau 1.")
    assert part.trailer == ""  # one message: no number, no link
    assert ('<b><a href="http://ex.fr/foire?a=1&amp;b=2">Tachkent\xa0: la foire</a></b>'
            in part.html)
    assert "<b>Piège</b>" in part.html and "javascript" not in part.html
    check_limits([part])


def test_telegram_splits_at_100_entities_between_articles() -> None:
    digest = digest_of(*(item(n, url=f"https://ex.fr/{n}") for n in range(1, 41)))
    parts = check_limits(render_telegram(digest, NAME))
    assert [s.text.count("Chapeau") for s in parts] == [32, 8]
    assert parts[0].text.startswith(
        "Nouvelles d'Asie centrale — semaine du 18 au 24 août 2025\n\n🇰🇿 Kazakhstan (40)\n\n"
        "Titre 1\njeudi 21 août 2025\nChapeau 1.")
    assert parts[1].part.continuation == "🇰🇿 Kazakhstan (suite)"
    assert parts[1].text.startswith("🇰🇿 Kazakhstan (suite)\n\nTitre 33\n")
    assert parts[1].part.html.startswith("<b>🇰🇿 Kazakhstan</b> (suite)\n\n<b><a href=")


def test_telegram_splits_at_4096_characters_between_articles() -> None:
    digest = big_week(60, lead=LEAD_400 * 2)
    parts = check_limits(render_telegram(digest, NAME))
    assert len(parts) > 1
    for n in range(1, 61):
        block = [s for s in parts if f"Article {n}{NBSP}:" in s.text]
        assert len(block) == 1 and french_typography(LEAD_400 * 2) in block[0].text
    assert all(utf16_length(s.text) > 3000 for s in parts[:-1])  # no half-empty message
    for s in parts:
        if s.part.continuation:
            assert re.fullmatch(r"\S+ [^()]+ \(suite\)", s.part.continuation)
    assert squeeze(" ".join(s.body for s in parts)) == squeeze(whole_text(digest))


def test_a_long_article_starts_under_its_section_title() -> None:
    """A lead too long for one message is cut between words; its section title is not left
    alone in a message of its own, and the first message is not just the header."""
    lead = " ".join(f"mot{n}" for n in range(1, 1200))
    digest = digest_of(item(1, title="Un très long article", lead=lead))
    parts = check_limits(render_telegram(digest, NAME))
    assert squeeze(" ".join(s.body for s in parts)) == squeeze(whole_text(digest))
    assert "🇰🇿 Kazakhstan (1)\n\nUn très long article\njeudi 21 août 2025\nmot1 " in (
        parts[0].text)
    assert [s.text for s in parts if "mot" not in s.text] == []


# Any text that can reach a digest: every character but control characters, which the
# importers refuse (listing, JSON lines) or drop (feeds), and lone surrogates.
chars = st.characters(blacklist_categories=("Cc", "Cs"))
texts = st.text(chars, max_size=120) | st.sampled_from(["<b>", "&", "&amp;", "🇰🇿 👍🏽",
                                                        "a < b > c"])
leads = st.text(chars, max_size=300) | st.text(chars, min_size=3000, max_size=6000) | st.builds(
    lambda word, n: " ".join([word] * n), st.text(chars, min_size=1, max_size=12),
    st.integers(0, 900))
urls = st.none() | st.sampled_from(["https://ex.fr/a?b=1&c=<2>", "javascript:alert(1)",
                                    'https://ex.fr/"x"']) | st.text(max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.integers(0, 45).flatmap(lambda size: st.lists(
    st.tuples(texts, leads, urls, st.sampled_from(list(Country))), min_size=size, max_size=size)))
def test_telegram_parts_within_limits_lose_nothing(
        raw: list[tuple[str, str, str | None, Country]]) -> None:
    items = [item(n, country, title=title, lead=lead, url=url)
             for n, (title, lead, url, country) in enumerate(raw, 1)]
    digest = digest_of(*items, featured=tuple(items[:5:2]))  # listed twice: À la une too
    parts = check_limits(render_telegram(digest, NAME, archive_url=MASTHEAD.archive_url))
    assert parts[0].text.startswith(f"{NAME} — semaine du 18 au 24 août 2025")
    total = len(parts)
    assert [s.part.trailer for s in parts] == ([""] if total == 1 else [
        *(f"{n}/{total}" for n in range(1, total)), f"{total}/{total} · Tout le résumé en ligne"])
    whole = whole_text(digest)
    if all(utf16_length(word) < 1000 for i in digest.items
           for word in french_typography(i.lead).split(" ")):
        assert squeeze(" ".join(s.body for s in parts)) == squeeze(whole)
    else:  # a word longer than a message is cut between characters
        assert "".join("".join(s.body for s in parts).split()) == "".join(whole.split())


# -- hostile text -------------------------------------------------------------------------

HOSTILE = ["<script>alert(1)</script>", "</mj-text>", "{{ 7*7 }}", "{% raw %}", "<b>gras</b>",
           "&amp;", "Tom & Jerry", "\u200fمرحبا\u200f", "👨\u200d👩\u200d👧 famille"]
LONG_LEAD = " ".join(f"{HOSTILE[n % len(HOSTILE)]} mot{chr(97 + n % 26)}"
                     for n in range(400))[:5000]


def hostile_week() -> Digest:
    return digest_of(*(item(n, title=text, lead=f"Avant {text} après",
                            url=f"https://ex.fr/{n}") for n, text in enumerate(HOSTILE, 1)),
                     item(99, Country.UZ, title="Long", lead=LONG_LEAD))


def test_hostile_text_in_the_email_html() -> None:
    html = email(hostile_week()).html
    page = Visible(html)
    assert "script" not in page.tags and "<mj-" not in html and "</mj-" not in html
    for text in HOSTILE:
        assert french_typography(text) in page.text
        assert french_typography(f"Avant {text} après") in page.text
    assert french_typography(LONG_LEAD) in page.text
    assert "49" not in page.text
    assert set(page.tags) <= {"html", "head", "title", "meta", "style", "body", "div", "table",
                              "tbody", "tr", "td", "p", "a", "span", "br"}


def test_hostile_text_in_the_plain_text() -> None:
    text = email(hostile_week()).text
    for hostile in HOSTILE:
        assert french_typography(hostile) in text.splitlines()
        assert french_typography(f"Avant {hostile} après") in text.splitlines()
    assert squeeze(french_typography(LONG_LEAD)) in squeeze(text)
    assert "49" not in text


def test_hostile_text_in_telegram() -> None:
    parts = check_limits(render_telegram(hostile_week(), NAME))
    joined = "\n".join(s.body for s in parts)
    for text in HOSTILE:
        assert f"{french_typography(text)}\njeudi 21 août 2025\n" in joined
        assert french_typography(f"Avant {text} après") in joined
    head = "Long\njeudi 21 août 2025\n"
    assert squeeze(french_typography(LONG_LEAD)) == squeeze(joined[joined.index(head) + len(head):])
    assert "49" not in joined


# -- catalogs -----------------------------------------------------------------------------

LOCALES = ROOT / "locales"


def catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def placeholders(text: str | tuple[str, ...]) -> set[str]:
    texts = (text,) if isinstance(text, str) else text
    return {name for t in texts for name in re.findall(r"%\((\w+)\)s", t)}


@pytest.mark.parametrize("locale", ["fr", "en", "ru"])
def test_catalog_translates_every_message(locale: str) -> None:
    template = catalog(LOCALES / "messages.pot")
    translated = catalog(LOCALES / locale / "LC_MESSAGES" / "messages.po", locale)
    for message in template:
        if not message.id:
            continue
        found = translated.get(message.id)
        assert found is not None, message.id
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        assert all(strings) and not found.fuzzy, message.id
        assert all(placeholders(s) == placeholders(message.id) for s in strings), message.id
    assert {"semaine du %(start)s au %(end)s", "suite", "Se désabonner"} <= {
        m.id for m in template}


def test_the_template_is_up_to_date(tmp_path: Path) -> None:
    extracted = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(LOCALES / "babel.cfg"), "-k", "translate:2",
        "-k", "translate_plural:2,3", "--no-location", "--sort-output", "-o", str(extracted),
        str(ROOT)])
    assert ({m.id for m in catalog(extracted) if m.id}
            == {m.id for m in catalog(LOCALES / "messages.pot") if m.id})


def test_english_and_russian_emails() -> None:
    for locale, lang, words in (("en", "en", "Unsubscribe"), ("ru", "ru", "Отписаться")):
        rendered = email(reading_week(), locale)
        assert rendered.html.startswith(f'<!doctype html><html lang="{lang}"')
        assert words in Visible(rendered.html).text and words in rendered.text


def test_a_long_word_moves_to_the_next_message_rather_than_being_broken() -> None:
    """Whatever room the previous article leaves, a lead too long for one message whose
    first word is long (but far shorter than a message) is never broken inside that word
    (found by Hypothesis)."""
    long_word = "Ouzbékistan-Kazakhstan-Kirghizstan-Tadjikistan-Turkménistan" * 3
    for words in range(0, 1000, 7):  # the first article leaves every amount of room
        digest = digest_of(item(1, Country.KZ, lead=" ".join(["mot"] * words)),
                           item(2, Country.KZ, lead=" ".join([long_word] + ["fin"] * 1100)))
        parts = check_limits(render_telegram(digest, NAME))
        assert squeeze(" ".join(s.body for s in parts)) == squeeze(whole_text(digest)), words
