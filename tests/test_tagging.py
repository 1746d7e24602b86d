"""Country and date tagging: the sample's table, the editors' rules, and the eval sets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.folding import words
from bot.ingest import load
from bot.model import Country, DateSource
from bot.tagging.countries import classify
from bot.tagging.dates import DatedText, assign_dates, find_dates
from tests.conftest import SAMPLE, TODAY

PARIS = __import__("zoneinfo").ZoneInfo("Europe/Paris")
DATA = Path(__file__).parent / "data"
KZ, KG, UZ, TJ, TM, REGION, OTHER = (Country.KZ, Country.KG, Country.UZ, Country.TJ,
                                     Country.TM, Country.REGION, Country.OTHER)
T, N = DateSource.TEXT, DateSource.NEIGHBOUR

# The sample, in listing order: the labels an editor accepts (the list), and the
# date and where it comes from.
SAMPLE_TABLE = [
    ("Le 29 août n’est pas une simple journée", {KZ}, "2025-08-29", T),
    ("Sommet de Bichkek", {KZ, KG}, "2025-08-22", T),
    ("Exercices militaires en altitude", {TJ}, "2025-07-08", N),
    ("Almaty donne le coup d’envoi", {KZ}, "2025-07-08", N),
    ("Tennis : le Kazakhstan accueille l’ATP 250", {KZ}, "2025-07-08", N),
    ("Tachkent mise tout sur les Jeux de 2028", {UZ}, "2025-07-08", T),
    ("Glaciers en péril", {TJ}, "2025-05-30", N),
    ("Le Kazakhstan au cœur du dialogue mondial", {KZ}, "2025-05-30", T),
    ("L’Ouzbékistan accueillera en novembre 2025", {REGION, UZ}, "2025-05-01", N),
    ("Une nation, 130 ethnies", {KZ}, "2025-05-01", T),
    ("Bruxelles à Samarcande", {REGION, UZ}, "2025-04-04", T),
    ("Entre minerais et géopolitique", {KZ}, "2025-04-01", N),
    ("L’Asie centrale, nouvelle frontière stratégique", {REGION, UZ}, "2025-04-01", T),
    ("UE-Asie centrale : Kaja Kallas", {REGION, TM}, "2025-03-27", T),
    ("Un Kurultaï national", {KZ}, "2025-03-14", T),
    ("Ouzbékistan : à Paris", {UZ}, "2025-03-11", N),
    ("UNESCO : Samarcande", {UZ}, "2025-03-11", N),
    ("À l’ONU, le Tadjikistan", {TJ}, "2025-03-11", T),
    ("One Water Summit", {KZ}, "2024-12-03", T),
    ("Kazakhstan, Azerbaïdjan et Ouzbékistan", {KZ, REGION}, "2024-12-03", N),
    ("COP29 : l’agriculture durable", {KZ}, "2024-12-03", N),
]


@pytest.mark.parametrize("import_day", [TODAY, dt.date(2025, 9, 1)])
def test_the_sample_gets_the_editors_labels_and_dates(import_day: dt.date) -> None:
    tagged = list(load(str(SAMPLE), None, PARIS, import_day).articles())
    assert len(tagged) == len(SAMPLE_TABLE) == 21
    for article, (title, labels, day, source) in zip(tagged, SAMPLE_TABLE, strict=True):
        assert article.title.startswith(title)
        assert article.country in labels, (title, article.country)
        assert (article.published.isoformat(), article.date_source) == (day, source), title


def test_the_sample_countries_mentioned() -> None:
    tagged = load(str(SAMPLE), None, PARIS, TODAY).articles()
    mentioned = {a.title[:20]: a.countries for a in tagged}
    assert mentioned["Sommet de Bichkek : "] == (KG, KZ)
    assert set(mentioned["Bruxelles à Samarcan"]) == {KZ, KG, UZ, TJ, TM}
    assert mentioned["Tennis : le Kazakhst"] == (KZ,)


EVAL_SETS = sorted(DATA.glob("country-eval*.jsonl"))


def _misses(path: Path) -> tuple[int, list[tuple[str, str, list[str]]]]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    got = [(i, classify(i["title"], i["lead"]).country.value) for i in items]
    return len(items), [(i["title"], c, i["accept"]) for i, c in got if c not in i["accept"]]


def test_agrees_with_editors_on_98_percent_of_all_eval_items() -> None:
    """Sets written by people who had not seen the tagger (see tests/data/README.md)."""
    results = [_misses(path) for path in EVAL_SETS]
    total = sum(n for n, _ in results)
    wrong = [miss for _, misses in results for miss in misses]
    assert len(EVAL_SETS) >= 6 and total >= 600
    assert 1 - len(wrong) / total >= 0.98, wrong


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda p: p.name)
def test_no_eval_set_falls_below_95_percent(path: Path) -> None:
    total, wrong = _misses(path)
    assert 1 - len(wrong) / total >= 0.95, wrong


@pytest.mark.parametrize(("title", "lead", "expected"), [
    # accents, case and transliterations
    ("OUZBEKISTAN : LA RÉFORME", "", UZ),
    ("Le président Tokayev reçoit ses homologues", "", KZ),
    ("Visite de Mirzioïev à Berlin", "", UZ),
    ("Nour-Soultan redevient Astana", "", KZ),
    ("Nouvelle ligne aérienne vers Douchanbe", "", TJ),
    ("Gurbanguly Berdimuhamedow inaugure une ville", "", TM),
    ("Le lac Issyk-Koul attire les touristes", "", KG),
    # word boundaries: no "Och" inside Bochum, no "Naryn" inside another word
    ("Un festival à Bochum", "Des artistes européens se produisent.", OTHER),
    ("Och accueille un festival", "", KG),
    # demonyms in every gender and number
    ("La cuisine kirghize à l'honneur", "", KG),
    ("Des chercheurs tadjiks primés", "", TJ),
    ("Les tapis turkmènes exposés", "", TM),
    # diaspora abroad is not the homeland
    ("Les Kazakhs de Mongolie perpétuent la chasse à l'aigle", "La communauté kazakhe.", OTHER),
    # a minority in another of the five belongs to where it lives
    ("Les Ouzbeks d'Och se souviennent", "", KG),
    # region-wide subject in the title beats the host city
    ("Sommet des chefs d'État d'Asie centrale à Douchanbé", "Au Tadjikistan.", REGION),
    ("Karakol veut devenir la capitale du ski d'Asie centrale", "Les Kirghizes.", KG),
    # ties: the one named first in the title
    ("Kazakhstan et Ouzbékistan signent un accord", "", KZ),
    ("Ouzbékistan et Kazakhstan signent un accord", "", UZ),
    # three of the five named in the title is the region
    ("Kirghizstan, Ouzbékistan et Tadjikistan fixent leurs frontières", "À Khodjent.", REGION),
    # shared places count for each; alone, they are the region
    ("La mer d'Aral renaît", "", REGION),
    ("La mer d'Aral renaît", "Au Kazakhstan, le Nord revit.", KZ),
    ("L'Amou-Daria s'assèche", "Le Turkménistan rationne l'eau.", TM),
    # a story abroad that mentions us in passing
    ("Afghanistan : les talibans ouvrent un marché", "Pour les négociants ouzbeks.", OTHER),
    ("Tennis : Rybakina gagne à Riyad", "La joueuse kazakhe s'impose.", KZ),
    # nothing of ours
    ("Le prix du pétrole baisse", "Les marchés mondiaux réagissent.", OTHER),
    ("", "Les pays d'Asie centrale se concertent.", REGION),
])
def test_editors_rules(title: str, lead: str, expected: Country) -> None:
    assert classify(title, lead).country is expected


@given(st.text(), st.text())
def test_classify_takes_any_text(title: str, lead: str) -> None:
    tag = classify(title, lead)
    assert tag.country in Country
    assert len(set(tag.countries)) == len(tag.countries)
    assert set(tag.countries) <= {KZ, KG, UZ, TJ, TM}


def test_words_fold_accents_and_split_on_typography() -> None:
    assert words("L’Ouzbékistan, Kazakhstan-Kirghizstan «\xa0Asie\u202fcentrale\xa0» œuvre") == [
        "l", "ouzbekistan", "kazakhstan", "kirghizstan", "asie", "centrale", "oeuvre"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Le 4 avril 2025, les dirigeants", [(4, 4, 2025)]),
    ("le 1er avril 2025", [(1, 4, 2025)]),
    ("le 1ᵉʳ avril 2025", [(1, 4, 2025)]),
    ("les 21–22 août 2025 à Bichkek", [(22, 8, 2025)]),
    ("les 29 et 30 mai 2025", [(30, 5, 2025)]),
    ("du 28 juillet au 3 août 2025", [(28, 7, None), (3, 8, 2025)]),
    ("le 04/04/2025", [(4, 4, 2025)]),
    ("Chaque 1er mai, la fête", [(1, 5, None)]),
    ("en novembre 2025, en 2028, 130 ethnies", []),
    ("le 31 février 2025", []),
    ("Le 12 DÉCEMBRE 1995", [(12, 12, 1995)]),
])
def test_find_dates(text: str, expected: list[tuple[int, int, int | None]]) -> None:
    assert [(d.day, d.month, d.year) for d in find_dates(text)] == expected


def _dates(leads: list[str], today: dt.date = TODAY) -> list[tuple[str, str]]:
    items = [DatedText.read(None, lead) for lead in leads]
    return [(d.isoformat(), s.value) for d, s in assign_dates(items, today)]


def test_last_full_date_wins_and_future_dates_are_ignored() -> None:
    lead = "Le 3 mars 2025, annonce ; le 5 mars 2025, vote ; réunion le 1er juin 2027."
    assert _dates([lead]) == [("2025-03-05", "text")]


def test_undated_items_take_the_nearest_older_then_newer_neighbour() -> None:
    leads = ["Sans date.", "Le 2 mai 2025, x.", "Sans date.", "Sans date.", "Le 1er mai 2025."]
    assert _dates(leads) == [("2025-05-02", "neighbour"), ("2025-05-02", "text"),
                             ("2025-05-01", "neighbour"), ("2025-05-01", "neighbour"),
                             ("2025-05-01", "text")]


def test_a_day_without_year_takes_the_year_between_its_neighbours() -> None:
    leads = ["Le 3 janvier 2026, x.", "Le 29 décembre, y.", "Le 20 décembre 2025, z."]
    assert _dates(leads)[1] == ("2025-12-29", "text")


def test_nothing_dated_falls_back_to_the_import_day() -> None:
    assert _dates(["Rien.", "Toujours rien."]) == [(TODAY.isoformat(), "import")] * 2


def test_an_explicit_date_is_kept_but_never_after_the_import_day() -> None:
    items = [DatedText(dt.date(2025, 1, 2), []), DatedText(dt.date(2030, 1, 1), [])]
    assert [d for d, _ in assign_dates(items, TODAY)] == [dt.date(2025, 1, 2), TODAY]


def test_long_undated_runs_stay_linear() -> None:
    leads = ["Le 2 mai 2025."] + ["Rien."] * 50_000
    assert _dates(leads)[-1] == ("2025-05-02", "neighbour")


def _reference_dates(items: list[DatedText], today: dt.date) -> list[tuple[dt.date, DateSource]]:
    """The dating rules restated the slow, obvious way, as an oracle for the streaming code."""
    from bot.tagging.dates import _fit_year, _last_full

    own: list[tuple[dt.date, DateSource] | None] = []
    for item in items:
        if item.explicit is not None:
            own.append((min(item.explicit, today), DateSource.EXPLICIT))
        else:
            full = _last_full(item.mentions, today)
            own.append((full, DateSource.TEXT) if full else None)
    dated = list(own)
    for i, item in enumerate(items):
        yearless = [d for d in item.mentions if d.year is None]
        if own[i] is None and yearless:
            newer = next((own[j][0] for j in range(i - 1, -1, -1) if own[j]), None)
            older = next((own[j][0] for j in range(i + 1, len(items)) if own[j]), None)
            day = _fit_year(yearless[-1], older, newer, today)
            if day is not None:
                dated[i] = (day, DateSource.TEXT)
    out = []
    for i, found in enumerate(dated):
        if found is not None:
            out.append(found)
            continue
        older = next((dated[j][0] for j in range(i + 1, len(items)) if dated[j]), None)
        newer = next((dated[j][0] for j in range(i - 1, -1, -1) if dated[j]), None)
        near = older or newer
        out.append((near, DateSource.NEIGHBOUR) if near else (today, DateSource.IMPORT))
    return out


_MENTION = st.builds(lambda d, m, y: __import__("bot.tagging.dates", fromlist=["x"])
                     .DateMention(0, d, m, y),
                     st.integers(1, 28), st.integers(1, 12),
                     st.one_of(st.none(), st.integers(2020, 2027)))
_ITEM = st.builds(DatedText, st.one_of(st.none(), st.dates(dt.date(2020, 1, 1),
                                                           dt.date(2027, 12, 31))),
                  st.lists(_MENTION, max_size=3))


@given(st.lists(_ITEM, max_size=30))
def test_streamed_dates_match_the_rules_stated_plainly(items: list[DatedText]) -> None:
    assert assign_dates(items, TODAY) == _reference_dates(items, TODAY)
    assert all(day <= TODAY for day, _ in assign_dates(items, TODAY))
