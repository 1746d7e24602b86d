"""/pays: the six sections, their buttons, the articles of one, and who follows what. Pure.

Callback data is short and versioned (`c1:KZ` shows a section, `f1:KZ:1` follows it,
`f1:KZ:0` unfollows it, `p1` goes back to the list): it stays far below Telegram's 64 bytes,
and a button from an older format is recognised as stale instead of misread. A follow
button carries the wanted state, not a toggle, so an old button pressed twice does no harm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from bot.chat.words import _, html, say
from bot.errors import InputError
from bot.folding import fold
from bot.model import Article, Country, parse_country
from bot.render.blocks import safe_url
from bot.render.i18n import LOCALES, country_name, format_day, translate_plural
from bot.render.telegram import utf16_length
from bot.render.typography import french_typography

SECTIONS: tuple[Country, ...] = (Country.KZ, Country.KG, Country.UZ, Country.TJ, Country.TM,
                                 Country.REGION)
LATEST = 5  # articles shown for a section
MAX_TITLE = 200  # UTF-16 units of a title shown in a list; longer ones are cut at a word
MAX_URL = 2048  # a longer link is shown as plain text: no reader types it, Telegram may balk
MAX_ECHO = 40  # characters of an unknown name quoted back
VERSION = "1"


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str


@dataclass(frozen=True, slots=True)
class View:
    """A message: its HTML and its inline keyboard, row by row."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ShowList:
    pass


@dataclass(frozen=True, slots=True)
class ShowSection:
    country: Country


@dataclass(frozen=True, slots=True)
class Follow:
    country: Country
    follow: bool  # the state wanted, not a toggle


Action = ShowList | ShowSection | Follow


def action_data(action: Action) -> str:
    """The callback data of a button (ASCII, at most 10 bytes)."""
    if isinstance(action, ShowSection):
        return f"c{VERSION}:{action.country.value}"
    if isinstance(action, Follow):
        return f"f{VERSION}:{action.country.value}:{int(action.follow)}"
    return f"p{VERSION}"


def parse_action(data: str | None) -> Action | None:
    """The action a button asks for; None for anything else (an old format, a typo)."""
    kind, *fields = (data or "").split(":")
    codes = {c.value: c for c in SECTIONS}
    if kind == f"p{VERSION}" and not fields:
        return ShowList()
    if kind == f"c{VERSION}" and len(fields) == 1 and fields[0] in codes:
        return ShowSection(codes[fields[0]])
    if kind == f"f{VERSION}" and len(fields) == 2 and fields[0] in codes \
            and fields[1] in ("0", "1"):
        return Follow(codes[fields[0]], fields[1] == "1")
    return None


def find_section(name: str) -> Country | None:
    """The section `/pays NAME` asks for: a code, an alias (accents and case folded), or its
    name in any of our languages; None for anything else (`OTHER` included)."""
    try:
        country: Country | None = parse_country(name)
    except InputError:
        country = _LOCAL_NAMES.get(_key(name))
    return country if country in SECTIONS else None


def _key(name: str) -> str:
    return " ".join(fold(name).replace("-", " ").split())


_LOCAL_NAMES = {_key(country_name(c, locale)): c for c in SECTIONS for locale in LOCALES}


def follows(countries: frozenset[Country], country: Country) -> bool:
    """Whether a reader following `countries` (empty: all) gets `country`'s section."""
    return not countries or country in countries


def refollow(countries: frozenset[Country], country: Country, follow: bool
             ) -> frozenset[Country] | None:
    """The sections followed after (un)following `country`; empty means all, so unfollowing
    one of "all" keeps the five others, and following every section is "all" again. None
    when that would leave nothing (the reader should /stop instead)."""
    current = set(countries or SECTIONS)
    if follow:
        current.add(country)
    else:
        current.discard(country)
    if not current:
        return None
    return frozenset() if set(SECTIONS) <= current else frozenset(current)


def sections_view(counts: Mapping[Country, int], locale: str) -> View:
    """The /pays keyboard: each section with its flag, its name and this week's count."""
    buttons = [Button(f"{c.flag} {country_name(c, locale)} ({counts.get(c, 0)})",
                      action_data(ShowSection(c))) for c in SECTIONS]
    rows = tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))
    return View(html(locale, _("Choisissez un pays pour lire ses derniers articles et choisir "
                               "s’il figure dans votre résumé. Entre parenthèses : les "
                               "articles de la semaine.")), rows)


def section_view(country: Country, articles: Sequence[Article], week_count: int,
                 followed: frozenset[Country] | None, locale: str) -> View:
    """One section: its latest articles, whether the reader's digest has it, and a button to
    change that (`followed` None: not subscribed, no button)."""
    count = translate_plural(locale, "%(num)s article cette semaine",
                             "%(num)s articles cette semaine", week_count)
    lines = [f"{country.flag} <b>{escape(country_name(country, locale), quote=False)}</b> · "
             f"{escape(count, quote=False)}", ""]
    lines += ["\n\n".join(article_html(a, locale) for a in articles)
              or html(locale, _("Pas encore d’article dans cette rubrique."))]
    back = Button("↩ " + say(locale, _("Tous les pays")), action_data(ShowList()))
    if followed is None:
        lines += ["", html(locale, _("Abonnez-vous avec /start pour recevoir chaque semaine les "
                                     "pays de votre choix."))]
        return View("\n".join(lines), ((back,),))
    on = follows(followed, country)
    lines += ["", html(locale, _("Vous suivez cette rubrique : elle figure dans votre résumé."))
              if on else html(locale, _("Vous ne suivez pas cette rubrique : elle ne figure pas "
                                        "dans votre résumé."))]
    toggle = Button(say(locale, _("Ne plus suivre")) if on else "✓ " + say(locale, _("Suivre")),
                    action_data(Follow(country, not on)))
    return View("\n".join(lines), ((toggle, back),))


def article_html(article: Article, locale: str) -> str:
    """`<b><a href="…">Title</a></b>` and the day in italics; everything escaped, the title
    cut to `MAX_TITLE`, a link only to an http(s) address."""
    title = cut(french_typography(" ".join(article.title.split())), MAX_TITLE) \
        or say(locale, _("(sans titre)"))
    shown = escape(title, quote=False)
    url = safe_url(article.url)
    if url and len(url) <= MAX_URL:
        shown = f'<a href="{escape(url, quote=True)}">{shown}</a>'
    return f"<b>{shown}</b>\n<i>{escape(format_day(article.published, locale), quote=False)}</i>"


def cut(text: str, limit: int) -> str:
    """`text` within `limit` UTF-16 units, cut between words with "…" when too long."""
    if utf16_length(text) <= limit:
        return text
    used = end = 0
    for end, char in enumerate(text):  # noqa: B007 - `end` is where the room runs out
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit - 1:
            break
    kept = _whole_flags(text[:end])
    space = kept.rfind(" ")
    if space > limit // 2:
        kept = kept[:space]
    return kept.rstrip(" ,;:") + "…"


def _whole_flags(text: str) -> str:
    """`text` without a half flag at its end (a flag is two regional indicator letters)."""
    letters = len(text) - len(text.rstrip(_REGIONAL_LETTERS))
    return text[:-1] if letters % 2 else text


_REGIONAL_LETTERS = "".join(chr(c) for c in range(0x1F1E6, 0x1F200))


def unknown_section(name: str, locale: str) -> str:
    """The reply to `/pays NAME` when NAME is no section: the valid names."""
    valid = ", ".join(f"{c.value} ({country_name(c, locale)})" for c in SECTIONS)
    echo = cut(" ".join(name.split()), MAX_ECHO)
    return html(locale, _("Pays inconnu : « %(name)s ». Essayez l’un de ceux-ci : %(valid)s."),
                name=echo, valid=valid)
