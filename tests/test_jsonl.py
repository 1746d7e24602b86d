"""`bot import` on JSON lines: one object per line, each bad line named by its number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Bot

VALID_CODES = "KZ, KG, UZ, TJ, TM, REGION, OTHER"
GOOD = [
    {"title": "Tachkent accueille un forum", "lead": "Le forum dure deux jours.",
     "url": "https://ex.fr/uz-forum", "published": "2025-08-21", "country": "UZ"},
    {"title": "Astana reçoit Tokaïev", "lead": "Le président kazakh parle de l'eau.",
     "url": "http://ex.fr/kz-eau", "published": "2025-08-21T23:30:00+00:00",
     "country": "ouzbekistan"},
    {"title": "Bichkek vote", "lead": "Les Kirghiz élisent leurs députés.",
     "published": "2025-08-20T08:00:00+02:00"},
]


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write(tmp_path: Path, name: str, lines: list[str] | bytes) -> str:
    path = tmp_path / name
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def good_file(tmp_path: Path) -> str:
    return write(tmp_path, "good.jsonl", [dumps(obj) for obj in GOOD])


def listed(bot: Bot) -> list[dict[str, object]]:
    result = bot("articles", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def imported(bot: Bot, path: str, *options: str) -> str:
    result = bot("import", path, *options)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def rejected(bot: Bot, tmp_path: Path, lines: list[str] | bytes) -> tuple[str, list[str]]:
    """Import the good file, then the bad one: exit 2 and the store as it was.
    Returns the bad file's path and the lines on stderr."""
    imported(bot, good_file(tmp_path))
    before = listed(bot)
    path = write(tmp_path, "bad.jsonl", lines)
    result = bot("import", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert listed(bot) == before
    return path, result.stderr.splitlines()


# -- good lines ---------------------------------------------------------------------------


def test_good_lines_are_stored_with_their_fields(bot: Bot, tmp_path: Path):
    imported(bot, good_file(tmp_path))
    assert listed(bot) == [
        {"id": 2, "title": "Astana reçoit Tokaïev", "lead": "Le président kazakh parle de l'eau.",
         "url": "http://ex.fr/kz-eau", "published": "2025-08-22", "date_source": "explicit",
         "country": "UZ", "countries": ["KZ"], "needs_review": None, "featured": False},
        {"id": 1, "title": "Tachkent accueille un forum", "lead": "Le forum dure deux jours.",
         "url": "https://ex.fr/uz-forum", "published": "2025-08-21", "date_source": "explicit",
         "country": "UZ", "countries": ["UZ"], "needs_review": None, "featured": False},
        {"id": 3, "title": "Bichkek vote", "lead": "Les Kirghiz élisent leurs députés.",
         "url": None, "published": "2025-08-20", "date_source": "explicit",
         "country": "KG", "countries": ["KG"], "needs_review": None, "featured": False},
    ]


def test_reimport_changes_nothing(bot: Bot, tmp_path: Path):
    path = good_file(tmp_path)
    imported(bot, path)
    before = listed(bot)
    assert imported(bot, path) == f"{path}: 0 new articles, 3 already in the store (jsonl)\n"
    assert listed(bot) == before


# -- bad lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "reason"), [
    ('{"title": "Tachkent",', "not valid JSON ("),
    ('["Tachkent", "forum"]', "expected a JSON object, got list"),
    ('{"lead": "Le forum dure."}', 'missing "title"'),
    ('{"title": 42}', '"title" must be a string, got int'),
    ('{"title": "Tachkent", "country": "Mongolie"}',
     f"\"country\": unknown country 'Mongolie'; use one of {VALID_CODES} or a name"),
    ('{"title": "Tachkent", "published": "21/08/2025"}',
     '"published" must look like "2025-08-21" or "2025-08-21T09:30:00+02:00", '
     "got '21/08/2025'"),
    ('{"title": "Tachkent", "url": "ftp://ex.fr/a"}',
     "\"url\" must be an http(s) address, got 'ftp://ex.fr/a'"),
], ids=["json", "array", "no-title", "title-int", "country", "published", "url"])
def test_bad_line_is_named_with_its_number(bot: Bot, tmp_path: Path, line: str, reason: str):
    path, errors = rejected(bot, tmp_path, [dumps(GOOD[0]), "", "   ", line, dumps(GOOD[2])])
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {path}:4: {reason}")


def test_each_bad_line_gets_its_own_error_line(bot: Bot, tmp_path: Path):
    path, errors = rejected(bot, tmp_path, [
        '{"lead": "x"}', dumps(GOOD[0]), "", "[1]", dumps(GOOD[1]), '{"title": "x", "url": "y"}',
    ])
    assert errors == [
        f'error: {path}:1: missing "title"',
        f"error: {path}:4: expected a JSON object, got list",
        f"error: {path}:6: \"url\" must be an http(s) address, got 'y'",
    ]


def test_skip_invalid_stores_good_lines_and_writes_rejects(bot: Bot, tmp_path: Path):
    path = write(tmp_path, "mixed.jsonl", [dumps(GOOD[0]), "", '{"lead": "x"}', dumps(GOOD[2])])
    result = bot("import", path, "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == f"{path}: 2 new articles, 0 already in the store (jsonl)\n"
    assert result.stderr == f"1 bad record skipped, written to {path}.rejects\n"
    assert [a["title"] for a in listed(bot)] == ["Tachkent accueille un forum", "Bichkek vote"]
    rejects = Path(f"{path}.rejects").read_text(encoding="utf-8").splitlines()
    assert rejects[2:4] == [f'# {path}:3: missing "title"', '{"lead": "x"}']


# -- unusable files -----------------------------------------------------------------------


def test_overlong_line_is_named(bot: Bot, tmp_path: Path):
    long = dumps({"title": "Tachkent", "lead": "x" * 20_000})
    path, errors = rejected(bot, tmp_path, [dumps(GOOD[0]), long])
    assert errors == [f"error: {path}:2: line of {len(long):,} characters, over the 20,000 "
                      "limit; is this the right file?"]


def test_invalid_utf8_is_named_by_line(bot: Bot, tmp_path: Path):
    data = (dumps(GOOD[0]) + "\n\n").encode() + b'{"title": "Tachk\xe9nt"}\n'
    byte = data.index(b"\xe9")
    path, errors = rejected(bot, tmp_path, data)
    assert errors == [f"error: {path}:3: invalid UTF-8 at column 17 (byte {byte}); "
                      "save the file as UTF-8"]
