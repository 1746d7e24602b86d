"""The weekly digest: week windows, assembly by country, the JSON snapshot, freezing, and
`bot preview` end to end (`bot demo` is in test_demo.py).

Long because the assembly's rules (order, sections, À la une that never empties a section)
each have an example and a Hypothesis invariant, beside the snapshots and previews they feed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.archive import WeekDigest, digest_for_week
from bot.digest import (
    SECTION_ORDER,
    Digest,
    IsoWeek,
    assemble_week,
    digest_from_json,
    digest_to_json,
    parse_week,
    resolve_week,
)
from bot.errors import InputError
from bot.ingest import content_hash
from bot.model import Article, Country, DateSource, NewArticle
from bot.store import Store, open_store
from tests.conftest import NOW, SAMPLE, Bot

PARIS = ZoneInfo("Europe/Paris")
W34 = IsoWeek(2025, 34)  # Monday 18 to Sunday 24 August 2025
MON, TUE, WED, THU, FRI, SAT, SUN = (dt.date(2025, 8, d) for d in range(18, 25))
AFTER_W34 = dt.datetime(2025, 8, 25, 8, 0, tzinfo=PARIS)


def article(n: int, day: dt.date = THU, country: Country = Country.KZ, *,
            featured: bool = False) -> Article:
    return Article(id=n, title=f"Titre {n}", lead=f"Chapeau {n}.", source="test", url=None,
                   published=day, published_at=None, date_source=DateSource.TEXT,
                   country=country, countries=(country,), featured=featured,
                   needs_review=None, content_hash=f"hash-{n}", imported_at=NOW)


def ids(digest: Digest) -> list[int]:
    return [i.id for i in digest.items]


def sections(digest: Digest) -> list[tuple[Country, list[int]]]:
    return [(s.country, [i.id for i in s.items]) for s in digest.sections]


# -- weeks --------------------------------------------------------------------------------

def hours(week: IsoWeek, tz: ZoneInfo) -> float:
    start, end = week.window(tz)
    return (end.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds() / 3600


@pytest.mark.parametrize(("week", "expected"), [
    (IsoWeek(2025, 13), 167),  # summer time starts Sunday 30 March
    (IsoWeek(2025, 43), 169),  # summer time ends Sunday 26 October
    (IsoWeek(2025, 44), 168),
    (IsoWeek(2025, 34), 168),
])
def test_paris_week_lasts_from_local_midnight_to_local_midnight(week: IsoWeek,
                                                                expected: int) -> None:
    start, end = week.window(PARIS)
    assert (start.date(), start.time(), end.date(), end.time()) == (
        week.monday, dt.time(), week.next_monday, dt.time())
    assert hours(week, PARIS) == expected


def test_paris_window_instants_across_both_changes() -> None:
    start, end = IsoWeek(2025, 13).window(PARIS)
    assert start.astimezone(dt.UTC) == dt.datetime(2025, 3, 23, 23, tzinfo=dt.UTC)
    assert end.astimezone(dt.UTC) == dt.datetime(2025, 3, 30, 22, tzinfo=dt.UTC)
    start, end = IsoWeek(2025, 43).window(PARIS)
    assert start.astimezone(dt.UTC) == dt.datetime(2025, 10, 19, 22, tzinfo=dt.UTC)
    assert end.astimezone(dt.UTC) == dt.datetime(2025, 10, 26, 23, tzinfo=dt.UTC)


def test_almaty_week_starts_at_almaty_midnight() -> None:
    start, end = W34.window(ZoneInfo("Asia/Almaty"))
    assert start.astimezone(dt.UTC) == dt.datetime(2025, 8, 17, 19, tzinfo=dt.UTC)
    assert end.astimezone(dt.UTC) == dt.datetime(2025, 8, 24, 19, tzinfo=dt.UTC)
    assert hours(W34, ZoneInfo("Asia/Almaty")) == 168


@pytest.mark.parametrize(("text", "week"), [
    ("2025-W34", IsoWeek(2025, 34)), ("2025W34", IsoWeek(2025, 34)),
    (" 2025-w03 ", IsoWeek(2025, 3)), ("2026-W53", IsoWeek(2026, 53)),
])
def test_parse_week(text: str, week: IsoWeek) -> None:
    assert parse_week(text) == week
    assert str(week) == f"{week.year}-W{week.week:02d}"


@pytest.mark.parametrize(("text", "message"), [
    ("nonsense", '--week must look like "2025-W34", "latest" or "last", got \'nonsense\''),
    ("2025-34", '--week must look like "2025-W34", "latest" or "last", got \'2025-34\''),
    ("2025-W53", "--week: '2025-W53' does not exist; 2025 has 52 weeks"),
    ("2025-W00", "--week: '2025-W00' does not exist; 2025 has 52 weeks"),
])
def test_parse_week_errors(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_week(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("now", "week"), [
    (dt.datetime(2025, 8, 24, 22, 30, tzinfo=dt.UTC), IsoWeek(2025, 34)),  # Mon 00:30 Paris
    (dt.datetime(2025, 8, 24, 23, 59, tzinfo=PARIS), IsoWeek(2025, 33)),  # still Sunday
])
def test_last_is_the_last_complete_week_in_paris(now: dt.datetime, week: IsoWeek) -> None:
    assert resolve_week("last", now, PARIS, None) == week


def test_latest_is_the_newest_article_week() -> None:
    assert resolve_week("latest", AFTER_W34, PARIS, dt.date(2025, 8, 29)) == IsoWeek(2025, 35)
    assert resolve_week("LATEST", AFTER_W34, PARIS, SUN) == W34
    assert resolve_week("2025-W14", AFTER_W34, PARIS, SUN) == IsoWeek(2025, 14)
    with pytest.raises(InputError, match="the store has no articles yet"):
        resolve_week("latest", AFTER_W34, PARIS, None)


# -- assembly -----------------------------------------------------------------------------

def test_sections_in_fixed_order_and_empty_ones_left_out() -> None:
    found = [article(1, country=Country.OTHER), article(2, country=Country.TM),
             article(3, country=Country.UZ), article(4, country=Country.KZ),
             article(5, country=Country.REGION), article(6, country=Country.TJ),
             article(7, country=Country.KG)]
    digest = assemble_week(found, W34)
    assert [s.country for s in digest.sections] == list(SECTION_ORDER)
    digest = assemble_week([a for a in found if a.country not in (Country.KG, Country.TJ)], W34)
    assert [s.country for s in digest.sections] == [
        Country.REGION, Country.KZ, Country.UZ, Country.TM, Country.OTHER]
    assert digest.featured == ()


def test_newest_first_ties_by_id() -> None:
    found = [article(4, MON), article(9, THU), article(2, THU), article(7, SUN),
             article(5, THU, Country.UZ), article(3, SAT, Country.UZ)]
    assert sections(assemble_week(found, W34)) == [
        (Country.KZ, [7, 2, 9, 4]), (Country.UZ, [3, 5])]


def test_featured_at_most_three_newest_first_and_still_in_their_sections() -> None:
    """À la une never empties a section: a featured article stays listed in its own."""
    found = [article(1, MON, featured=True), article(2, TUE, Country.UZ, featured=True),
             article(3, WED, featured=True), article(4, FRI, Country.REGION, featured=True),
             article(5, SUN), article(6, THU, Country.UZ)]
    digest = assemble_week(found, W34)
    assert [i.id for i in digest.featured] == [4, 3, 2]
    assert sections(digest) == [(Country.REGION, [4]), (Country.KZ, [5, 3, 1]),
                                (Country.UZ, [6, 2])]
    assert ids(digest) == [4, 3, 2, 5, 1, 6]  # every article once, the featured first


def test_articles_outside_the_week_are_left_out() -> None:
    found = [article(1, dt.date(2025, 8, 17), featured=True), article(2, MON),
             article(3, SUN), article(4, dt.date(2025, 8, 25), featured=True)]
    digest = assemble_week(found, W34)
    assert ids(digest) == [3, 2]
    assert assemble_week([article(1, dt.date(2025, 8, 17))], W34).is_empty


weeks_of_articles = st.lists(
    st.tuples(st.integers(-10, 16), st.sampled_from(list(Country)), st.booleans()), max_size=60)


@settings(max_examples=300, deadline=None)
@given(weeks_of_articles, st.sets(st.sampled_from(list(Country))))
def test_each_article_is_in_its_section_once_and_in_a_la_une_once_more_if_featured(
        raw: list[tuple[int, Country, bool]], followed: set[Country]) -> None:
    found = [article(n, MON + dt.timedelta(days=offset), country, featured=featured)
             for n, (offset, country, featured) in enumerate(raw, 1)]
    inside = [a for a in found if MON <= a.published <= SUN]
    whole = assemble_week(found, W34)
    newest = sorted((a for a in inside if a.featured),
                    key=lambda a: (-a.published.toordinal(), a.id))
    assert [i.id for i in whole.featured] == [a.id for a in newest[:3]]
    variant = whole.only(followed)  # a reader's: À la une keeps the featured they follow
    assert variant.featured == tuple(i for i in whole.featured
                                     if not followed or i.country in followed)
    for digest in (whole, variant):
        shown = [a.id for a in inside if not followed or digest is whole
                 or a.country in followed]
        listed = [i for s in digest.sections for i in s.items]
        # In its own country's section, exactly once; no section empty.
        assert Counter(i.id for i in listed) == Counter(shown)
        assert all(i.country is s.country for s in digest.sections for i in s.items)
        assert all(s.items for s in digest.sections)
        # In À la une once more when featured; `items` counts each article once.
        featured = Counter(i.id for i in digest.featured)
        assert max(featured.values(), default=1) == 1
        assert Counter(i.id for i in (*digest.featured, *listed)) == Counter(shown) + featured
        assert Counter(ids(digest)) == Counter(shown)


# -- snapshot -----------------------------------------------------------------------------

def sample_digest() -> Digest:
    found = [article(1, MON, Country.REGION, featured=True), article(2, THU),
             article(3, SUN, Country.UZ), article(4, WED, Country.OTHER)]
    digest = assemble_week(found, W34)
    kz = 1  # the sections: REGION (the featured article), KZ, UZ, OTHER
    first = digest.sections[kz].items[0]
    richer = type(first)(first.id, "Sommet : « oui » ?", "Un chapeau\navec & et <b>.",
                         "https://example.org/a?b=1&c=2", first.published, first.country,
                         "no title")
    sections = (*digest.sections[:kz], type(digest.sections[kz])(Country.KZ, (richer,)),
                *digest.sections[kz + 1:])
    return Digest(W34, digest.featured, sections, dt.datetime(2025, 8, 25, 6, tzinfo=dt.UTC))


def test_json_round_trip() -> None:
    digest = sample_digest()
    text = digest_to_json(digest)
    assert json.loads(text)["schema_version"] == 1
    assert json.loads(text)["week"] == "2025-W34"
    assert digest_from_json(text) == digest
    assert digest_from_json(digest_to_json(assemble_week([], W34))) == assemble_week([], W34)


def test_a_snapshot_with_featured_left_out_of_their_sections_gets_them_back() -> None:
    """A digest frozen before À la une stopped emptying sections kept a featured article out
    of its own section (and a section of featured articles alone out of the digest);
    reading it puts them back, in reading order."""
    digest = assemble_week([article(1, MON, Country.REGION, featured=True), article(2, THU),
                            article(3, SUN, featured=True), article(4, WED, Country.OTHER)], W34)
    data = json.loads(digest_to_json(digest))
    featured = {i["id"] for i in data["featured"]}
    old = [{**s, "items": [i for i in s["items"] if i["id"] not in featured]}
           for s in data["sections"]]
    data["sections"] = [s for s in old if s["items"]]
    assert [s["country"] for s in data["sections"]] == ["KZ", "OTHER"]
    assert digest_from_json(json.dumps(data)) == digest
    assert sections(digest) == [(Country.REGION, [1]), (Country.KZ, [3, 2]),
                                (Country.OTHER, [4])]


def test_json_of_another_schema_is_refused() -> None:
    data = json.loads(digest_to_json(sample_digest()))
    data["schema_version"] = 99
    with pytest.raises(InputError, match="schema version 99"):
        digest_from_json(json.dumps(data))


def test_only_keeps_the_sections_followed_and_their_featured() -> None:
    digest = sample_digest()
    assert digest.only([]) is digest
    kz_uz = digest.only([Country.KZ, Country.UZ])
    assert kz_uz.featured == ()  # the featured article is regional
    assert [s.country for s in kz_uz.sections] == [Country.KZ, Country.UZ]
    assert kz_uz.countries == frozenset({Country.KZ, Country.UZ})
    region = digest.only([Country.REGION])
    assert [i.id for i in region.featured] == [1]
    assert [(s.country, [i.id for i in s.items]) for s in region.sections] == [
        (Country.REGION, [1])]  # À la une never empties a section
    assert digest.only([Country.TM]).is_empty


# -- freezing -----------------------------------------------------------------------------

def new_article(n: int, day: dt.date = THU, country: Country = Country.KZ) -> NewArticle:
    title, lead = f"Titre {n}", f"Chapeau de l'article {n}."
    return NewArticle(title=title, lead=lead, source="test", url=None, guid=None,
                      published=day, published_at=None, date_source=DateSource.TEXT,
                      country=country, countries=(country,), needs_review=None,
                      content_hash=content_hash(title, lead))


def add(store: Store, *articles: NewArticle) -> list[int]:
    return store.insert_articles(articles, NOW).inserted


def snapshot(store: Store, week: IsoWeek) -> str:
    stored = store.get_digest(str(week))
    assert stored is not None
    return stored.snapshot


def titles(found: WeekDigest) -> list[str]:
    return [i.title for i in found.digest.items]


def test_a_past_week_is_frozen_and_refreshed_until_sent(store: Store) -> None:
    first, _ = add(store, new_article(1, MON), new_article(2, WED, Country.UZ))
    found = digest_for_week(store, W34, AFTER_W34, PARIS)
    assert found.stored is not None and found.stored.status == "frozen"
    assert not found.is_final
    assert found.digest.frozen_at == AFTER_W34
    assert snapshot(store, W34) == digest_to_json(found.digest)
    assert titles(found) == ["Titre 1", "Titre 2"]

    store.edit_article(first, NOW, title="Titre 1 corrigé")
    add(store, new_article(3, SUN))
    later = AFTER_W34 + dt.timedelta(hours=1)
    refreshed = digest_for_week(store, W34, later, PARIS)
    assert titles(refreshed) == ["Titre 3", "Titre 1 corrigé", "Titre 2"]
    assert digest_from_json(snapshot(store, W34)) == refreshed.digest


def test_a_sent_digest_never_changes(store: Store) -> None:
    first, _ = add(store, new_article(1, MON), new_article(2, WED, Country.UZ))
    frozen = digest_for_week(store, W34, AFTER_W34, PARIS)
    store.mark_digest("2025-W34", "sent", AFTER_W34 + dt.timedelta(minutes=5))
    store.edit_article(first, NOW, title="Titre 1 corrigé", country=Country.TJ)
    add(store, new_article(3, SUN), new_article(4, TUE, Country.REGION))
    again = digest_for_week(store, W34, AFTER_W34 + dt.timedelta(days=3), PARIS)
    assert again.is_final and again.stored is not None and again.stored.status == "sent"
    assert again.digest == frozen.digest
    assert digest_to_json(again.digest) == digest_to_json(frozen.digest)


def test_the_current_week_is_live_not_frozen(store: Store) -> None:
    add(store, new_article(1, MON))
    end = W34.window(PARIS)[1]
    for now in (dt.datetime(2025, 8, 20, 12, tzinfo=PARIS), end - dt.timedelta(seconds=1)):
        found = digest_for_week(store, W34, now, PARIS)
        assert (found.stored, found.digest.frozen_at, titles(found)) == (None, None, ["Titre 1"])
    assert store.get_digest("2025-W34") is None
    assert digest_for_week(store, W34, end, PARIS).stored is not None


def test_an_empty_past_week_is_not_frozen(store: Store) -> None:
    found = digest_for_week(store, W34, AFTER_W34, PARIS)
    assert found.digest.is_empty and found.stored is None
    assert store.get_digest("2025-W34") is None


# -- the CLI ------------------------------------------------------------------------------

def digests_env(tmp_path: Path) -> dict[str, str]:
    return {"BOT_DIGESTS_DIR": str(tmp_path / "digests")}


def article_id(bot: Bot, week: str, title_start: str) -> int:
    listed = bot("articles", "list", "--week", week, "--json").stdout.splitlines()
    found = [json.loads(line) for line in listed]
    return next(a["id"] for a in found if a["title"].startswith(title_start))


def test_preview_of_a_sample_week(bot: Bot, tmp_path: Path) -> None:
    assert bot("import", str(SAMPLE)).exit_code == 0
    result = bot("preview", "--week", "2025-W14", **digests_env(tmp_path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2025-W14: semaine du 31 mars au 6 avril 2025 (not sent yet: its send " \
        "freezes it)"
    assert lines[1:4] == ["  🌏 Asie centrale: 1", "  🇰🇿 Kazakhstan: 1", "  🇺🇿 Ouzbékistan: 1"]
    assert re.fullmatch(r"email: \d+\.\d KB HTML, \d+ lines of text; telegram: 1 message",
                        lines[4])
    assert [line for line in lines if line.startswith("warning:")] == [
        "warning: article 13 has no URL: L’Asie centrale, nouvelle frontière stratégique de "
        "l’Europe ?",
        "warning: article 12 has no URL: Entre minerais et géopolitique, le Kazakhstan trace "
        "sa voie avec l’UE",
        "warning: article 11 has no URL: Bruxelles à Samarcande : un virage stratégique entre "
        "Chine et Russie"]
    previews = (tmp_path / "digests" / "previews").resolve()
    folder = previews / "2025-W14"
    names = ["digest.json", "email.html", "email.txt", "telegram-01.html"]
    assert sorted(p.name for p in folder.iterdir()) == names
    assert [line for line in lines if line.startswith("wrote ")] == [
        f"wrote {folder / name}" for name in names] + [f"wrote {previews / 'index.html'}"]
    assert json.loads((folder / "digest.json").read_text())["schema_version"] == 1
    index = (previews / "index.html").read_text()
    assert '<a href="2025-W14/email.html">semaine du 31 mars au 6 avril 2025</a>' in index
    # A preview publishes nothing and freezes nothing: the send does both.
    assert sorted(p.name for p in (tmp_path / "digests").iterdir()) == ["previews"]
    with open_store(bot.database) as store:
        assert store.get_digest("2025-W14") is None


def test_preview_of_an_empty_week_exits_1(bot: Bot, tmp_path: Path) -> None:
    bot("import", str(SAMPLE))
    result = bot("preview", "--week", "2026-W01", **digests_env(tmp_path))
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "no articles in 2026-W01\n")
    assert not (tmp_path / "digests").exists()


def test_preview_of_a_bad_week_exits_2(bot: Bot, tmp_path: Path) -> None:
    result = bot("preview", "--week", "nonsense", **digests_env(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == ('error: --week must look like "2025-W34", "latest" or "last", '
                             "got 'nonsense'\n")


def sent_w14(bot: Bot, tmp_path: Path, sent_at: dt.datetime) -> None:
    bot("import", str(SAMPLE))
    with open_store(bot.database) as store:
        assert digest_for_week(store, IsoWeek(2025, 14), sent_at, PARIS).stored is not None
        store.mark_digest("2025-W14", "sent", sent_at)


def test_preview_of_a_sent_week_shows_the_frozen_copy(bot: Bot, tmp_path: Path) -> None:
    sent_w14(bot, tmp_path, dt.datetime(2025, 4, 7, 8, 0, tzinfo=PARIS))
    edited = article_id(bot, "2025-W14", "L’Asie centrale")
    assert bot("articles", "edit", str(edited), "--title", "Titre corrigé").exit_code == 0
    result = bot("preview", "--week", "2025-W14", **digests_env(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert ("this week's digest was sent: showing the frozen copy, later articles and edits "
            "are not in it") in result.stdout
    assert f"article {edited} has no URL: L’Asie centrale, nouvelle frontière" in result.stdout
    assert "Titre corrigé" not in result.stdout
    html = (tmp_path / "digests" / "previews" / "2025-W14" / "email.html").read_text()
    assert "Titre corrigé" not in html and "frontière stratégique de l’Europe" in html


def test_preview_of_a_sent_week_gives_the_send_time_in_the_newsroom_zone(
        bot: Bot, tmp_path: Path) -> None:
    sent_w14(bot, tmp_path, dt.datetime(2025, 4, 7, 8, 0, tzinfo=PARIS))
    first = bot("preview", "--week", "2025-W14", **digests_env(tmp_path)).stdout.splitlines()[0]
    assert first == "2025-W14: semaine du 31 mars au 6 avril 2025 (sent on 2025-04-07 08:00 CEST)"

