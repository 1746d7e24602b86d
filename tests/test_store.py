"""The SQLite store on real files: schema, migrations, opening errors, articles, CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.errors import NotFound, StoreError
from bot.ingest import content_hash
from bot.model import Country, DateSource, NewArticle
from bot.store import MIGRATIONS, ArticleQuery, Store, open_store
from tests.conftest import Bot

T0 = dt.datetime(2025, 8, 25, 6, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 8, 26, 9, 30, tzinfo=dt.UTC)
D = dt.date(2025, 8, 20)


def art(n: int, day: dt.date = D, country: Country = Country.KZ, *, url: str | None = None,
        guid: str | None = None, title: str | None = None,
        needs_review: str | None = None) -> NewArticle:
    title = title or f"Titre {n}"
    lead = f"Chapeau de l'article {n}."
    return NewArticle(
        title=title, lead=lead, source="test", url=url, guid=guid, published=day,
        published_at=None, date_source=DateSource.TEXT, country=country,
        countries=(country,), needs_review=needs_review, content_hash=content_hash(title, lead),
    )


def titles(store: Store, query: ArticleQuery | None = None) -> list[str]:
    return [a.title for a in store.list_articles(query or ArticleQuery())]


# -- schema -------------------------------------------------------------------------------

def test_new_file_is_wal_with_foreign_keys_and_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with open_store(path) as store:
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"articles", "subscribers", "digests", "deliveries"} <= tables


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO deliveries (digest_id, subscriber_id, updated_at) "
                           "VALUES (999, 999, '2025-08-25T06:00:00+00:00')")


def test_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        raw.execute(
            "INSERT INTO articles (title, lead, source, published, date_source, country, "
            "content_hash, imported_at) VALUES ('Ancien', 'Texte', 'listing', '2025-03-04', "
            "'text', 'TJ', 'h1', '2025-03-05T08:00:00+00:00')")
    with open_store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        [old] = store.list_articles(ArticleQuery())
        assert (old.title, old.country, old.published) == ("Ancien", Country.TJ,
                                                           dt.date(2025, 3, 4))
        assert store.conn.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer"):
        open_store(path)


# -- opening errors -----------------------------------------------------------------------

def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("Ceci n'est pas une base de données.\n" * 20)
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert str(path) in str(err.value)


def test_missing_folder_is_not_created(tmp_path: Path) -> None:
    folder = tmp_path / "typo"
    with pytest.raises(StoreError) as err:
        open_store(folder / "bot.sqlite3")
    assert f"folder {folder} does not exist" in str(err.value)
    assert not folder.exists()


def test_missing_folder_is_created_on_request(tmp_path: Path) -> None:
    path = tmp_path / "var" / "deep" / "bot.sqlite3"
    with open_store(path, create_folder=True) as store:
        assert store.count_articles() == 0
    assert path.is_file()


def test_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StoreError, match="is not a folder"):
        open_store(tmp_path / "plain" / "bot.sqlite3")


def test_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        open_store(tmp_path / "dir.sqlite3")


# -- indexes ------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    ArticleQuery(since=dt.date(2025, 3, 3), until=dt.date(2025, 3, 10)),
    ArticleQuery(country=Country.KZ, limit=10),
], ids=["week", "country"])
def test_listing_uses_an_index(store: Store, query: ArticleQuery) -> None:
    countries = list(Country)
    store.insert_articles([art(n, dt.date(2024, 1, 1) + dt.timedelta(days=n % 700),
                               countries[n % len(countries)]) for n in range(3000)], T0)
    plan = store.explain_list_articles(query)
    assert any("USING INDEX" in line or "USING COVERING INDEX" in line for line in plan), plan
    assert not any(re.search(r"SCAN articles(?! USING)", line) for line in plan), plan


# -- insert_articles ----------------------------------------------------------------------

def test_insert_returns_ids_in_input_order(store: Store) -> None:
    batch = [art(1), art(2), art(3)]
    result = store.insert_articles(batch, T0)
    assert [store.get_article(i).title for i in result.inserted] == ["Titre 1", "Titre 2",
                                                                     "Titre 3"]
    assert len(set(result.inserted)) == 3
    assert result.duplicates == []


def test_second_insert_is_all_duplicates_and_changes_nothing(store: Store) -> None:
    batch = [art(1), art(2, url="https://example.org/2"), art(3, guid="g3")]
    store.insert_articles(batch, T0)
    before = store.list_articles(ArticleQuery())
    result = store.insert_articles(batch, T1)
    assert result.inserted == []
    assert result.duplicates == batch
    assert store.list_articles(ArticleQuery()) == before


def test_same_url_with_other_text_is_a_duplicate(store: Store) -> None:
    store.insert_articles([art(1, url="https://example.org/a")], T0)
    rewritten = art(2, url="https://example.org/a")
    result = store.insert_articles([rewritten], T1)
    assert (result.inserted, result.duplicates) == ([], [rewritten])
    assert titles(store) == ["Titre 1"]


def test_same_guid_with_other_text_is_a_duplicate(store: Store) -> None:
    store.insert_articles([art(1, guid="urn:x:1")], T0)
    rewritten = art(2, guid="urn:x:1")
    result = store.insert_articles([rewritten], T1)
    assert (result.inserted, result.duplicates) == ([], [rewritten])
    assert titles(store) == ["Titre 1"]


def test_same_article_twice_in_one_batch(store: Store) -> None:
    a = art(1)
    result = store.insert_articles([a, a], T0)
    assert len(result.inserted) == 1
    assert result.duplicates == [a]
    assert store.count_articles() == 1


def test_edit_survives_reimport(store: Store) -> None:
    [article_id] = store.insert_articles([art(1)], T0).inserted
    store.edit_article(article_id, T1, title="Titre corrigé", country=Country.UZ)
    result = store.insert_articles([art(1)], T1)
    assert result.inserted == []
    edited = store.get_article(article_id)
    assert (edited.title, edited.country) == ("Titre corrigé", Country.UZ)


# -- list_articles ------------------------------------------------------------------------

def test_newest_first_then_listing_order(store: Store) -> None:
    d1, d2 = dt.date(2025, 8, 19), dt.date(2025, 8, 21)
    store.insert_articles([art(1, d1), art(2, d2), art(3, d1), art(4, d2)], T0)
    assert titles(store) == ["Titre 2", "Titre 4", "Titre 1", "Titre 3"]


@pytest.mark.parametrize(("query", "expected"), [
    (ArticleQuery(since=dt.date(2025, 8, 18), until=dt.date(2025, 8, 25)), [3, 2]),
    (ArticleQuery(since=dt.date(2025, 8, 24)), [4, 3]),
    (ArticleQuery(until=dt.date(2025, 8, 24)), [2, 1]),
    (ArticleQuery(country=Country.UZ), [4, 2]),
    (ArticleQuery(needs_review=True), [3]),
    (ArticleQuery(limit=2), [4, 3]),
    (ArticleQuery(country=Country.KZ, since=dt.date(2025, 8, 18)), [3]),
])
def test_list_filters(store: Store, query: ArticleQuery, expected: list[int]) -> None:
    store.insert_articles([
        art(1, dt.date(2025, 8, 17), Country.KZ),
        art(2, dt.date(2025, 8, 18), Country.UZ),
        art(3, dt.date(2025, 8, 24), Country.KZ, needs_review="no title"),
        art(4, dt.date(2025, 8, 25), Country.UZ),
    ], T0)
    assert titles(store, query) == [f"Titre {n}" for n in expected]


# -- edit_article -------------------------------------------------------------------------

def test_edit_article_sets_fields(store: Store) -> None:
    [article_id] = store.insert_articles([art(1, needs_review="no title")], T0).inserted
    edited = store.edit_article(article_id, T1, title="Nouveau titre", country=Country.TM,
                                published=dt.date(2025, 8, 22), featured=True)
    assert edited.title == "Nouveau titre"
    assert edited.country == Country.TM
    assert edited.published == dt.date(2025, 8, 22)
    assert edited.featured is True
    assert edited.needs_review is None
    assert edited.date_source == DateSource.EDITOR
    assert edited.edited_at == T1
    assert store.get_article(article_id) == edited


def test_edit_without_date_keeps_date_source(store: Store) -> None:
    [article_id] = store.insert_articles([art(1, needs_review="no title")], T0).inserted
    edited = store.edit_article(article_id, T1, featured=False)
    assert (edited.published, edited.date_source, edited.needs_review) == (
        D, DateSource.TEXT, None)


def test_edit_unknown_article(store: Store) -> None:
    with pytest.raises(NotFound):
        store.edit_article(4242, T1, title="x")


# -- through the CLI ----------------------------------------------------------------------

def listed(bot: Bot, *args: str) -> list[dict[str, object]]:
    result = bot("articles", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_cli_edit_then_list(bot: Bot, store: Store) -> None:
    [article_id] = store.insert_articles([art(1, needs_review="no title")], T0).inserted
    result = bot("articles", "edit", str(article_id), "--country", "UZ", "--date",
                 "2025-08-21", "--feature")
    assert result.exit_code == 0, result.stderr
    [shown] = listed(bot)
    assert (shown["id"], shown["country"], shown["published"], shown["date_source"],
            shown["featured"], shown["needs_review"]) == (
        article_id, "UZ", "2025-08-21", "editor", True, None)


def test_cli_edit_unknown_country(bot: Bot, store: Store) -> None:
    [article_id] = store.insert_articles([art(1)], T0).inserted
    result = bot("articles", "edit", str(article_id), "--country", "narnia")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "narnia" in line
    assert all(code in line for code in ("KZ", "KG", "UZ", "TJ", "TM", "REGION", "OTHER"))
    assert store.get_article(article_id).edited_at is None


def test_cli_edit_bad_date(bot: Bot, store: Store) -> None:
    [article_id] = store.insert_articles([art(1)], T0).inserted
    result = bot("articles", "edit", str(article_id), "--date", "21/08/2025")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "21/08/2025" in line
    assert store.get_article(article_id).published == D


def test_cli_edit_unknown_id(bot: Bot, store: Store) -> None:
    [article_id] = store.insert_articles([art(1)], T0).inserted
    result = bot("articles", "edit", str(article_id + 1), "--feature")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert str(article_id + 1) in line


@pytest.mark.parametrize("week", ["2025-W99", "nonsense"])
def test_cli_bad_week(bot: Bot, week: str) -> None:
    result = bot("articles", "list", "--week", week)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert week in line


def test_cli_week_is_monday_to_sunday(bot: Bot, store: Store) -> None:
    days = [dt.date(2025, 8, 17), dt.date(2025, 8, 18), dt.date(2025, 8, 24),
            dt.date(2025, 8, 25)]
    store.insert_articles([art(n, day) for n, day in enumerate(days)], T0)
    assert [a["published"] for a in listed(bot, "--week", "2025-W34")] == [
        "2025-08-24", "2025-08-18"]


def test_cli_database_folder_missing(bot: Bot, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bot.sqlite3"
    result = bot("articles", "list", BOT_DATABASE=str(path))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert str(path) in line
    assert not path.parent.exists()


def test_cli_default_database_is_created(bot: Bot, tmp_path: Path) -> None:
    del bot.env["BOT_DATABASE"]
    result = bot("articles", "list")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "var" / "bot.sqlite3").is_file()
