"""The `bot` command as editors use it: import, list, edit, and every way input goes wrong."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bot.cli import cli
from bot.cli.group import plural
from tests.conftest import NOW, SAMPLE, Bot

JSON_KEYS = ["id", "title", "lead", "url", "published", "date_source", "country",
             "countries", "needs_review", "featured"]


def articles(bot: Bot) -> list[dict[str, object]]:
    result = bot("articles", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_import_the_sample_then_list_it(bot: Bot) -> None:
    result = bot("import", str(SAMPLE))
    assert result.exit_code == 0, result.stderr
    assert "21 new articles, 0 already in the store (listing)" in result.stdout
    assert "1 needs review" in result.stdout
    found = articles(bot)
    assert len(found) == 21
    assert list(found[0]) == JSON_KEYS
    assert found[0]["title"].startswith("Le 29 août")  # type: ignore[union-attr]
    assert (found[0]["published"], found[0]["date_source"], found[0]["country"]) == (
        "2025-08-29", "text", "KZ")
    table = bot("articles", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "DATE", "DATED", "BY", "COUNTRY", "REVIEW", "TITLE"]
    assert table[-1] == "21 articles"


def test_importing_again_changes_nothing(bot: Bot) -> None:
    bot("import", str(SAMPLE))
    bot("articles", "edit", "1", "--country", "REGION")
    before = articles(bot)
    result = bot("import", str(SAMPLE))
    assert "0 new articles, 21 already in the store" in result.stdout
    assert articles(bot) == before


def test_dry_run_shows_and_writes_nothing(bot: Bot) -> None:
    result = bot("import", str(SAMPLE), "--dry-run")
    assert result.exit_code == 0
    assert "Sommet de Bichkek" in result.stdout
    assert "dry run: 21 new, 0 already in the store, 0 rejected; nothing was written" in (
        result.stdout)
    assert articles(bot) == []
    bot("import", str(SAMPLE))
    assert "dry run: 0 new, 21 already" in bot("import", str(SAMPLE), "--dry-run").stdout


def test_filters_week_country_and_needs_review(bot: Bot) -> None:
    bot("import", str(SAMPLE))
    week = [a["title"] for a in json_lines(bot("articles", "list", "--week", "2025-W35",
                                               "--json").stdout)]
    assert len(week) == 1 and str(week[0]).startswith("Le 29 août")
    uz = json_lines(bot("articles", "list", "--country", "ouzbékistan", "--json").stdout)
    assert {a["country"] for a in uz} == {"UZ"} and len(uz) >= 3
    review = json_lines(bot("articles", "list", "--needs-review", "--json").stdout)
    assert [a["needs_review"] for a in review] == ["no title"]
    edited = bot("articles", "edit", str(review[0]["id"]), "--title", "Semipalatinsk, 1991")
    assert edited.exit_code == 0, edited.stderr
    assert json_lines(bot("articles", "list", "--needs-review", "--json").stdout) == []


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_skip_invalid_imports_the_rest_and_writes_the_rejects(bot: Bot, tmp_path: Path) -> None:
    listing = tmp_path / "articles.txt"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[3] = "Exercices\x07 militaires"
    listing.write_text("\n".join(lines), encoding="utf-8")
    refused = bot("import", str(listing))
    assert refused.exit_code == 2
    assert refused.stderr == f"error: {listing}:4: control character U+0007 in the text\n"
    result = bot("import", str(listing), "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    assert "20 new articles" in result.stdout
    rejects = (tmp_path / "articles.txt.rejects").read_text(encoding="utf-8")
    assert f"# {listing}:4: control character U+0007 in the text" in rejects
    assert "Un entraînement en altitude" in rejects
    assert len(articles(bot)) == 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BAD_FILES: dict[str, bytes] = {
    "empty": b"",
    "binary": b"\x7fELF\x02\x01\x01\x00\x00\x00binary",
    "utf8": "Titre\nChapô\n".encode() + b"\xff\xfe broken\nlead\n",
    "no-lead": f"{SAMPLE.read_text(encoding='utf-8')}\nUn titre qui attend son chapô".encode(),
    "long-line": b"Titre\n" + b"x" * 20_001 + b"\n",
    "not-xml": b"<<< this is not XML at all",
    "json-array": b'{"title": "ok", "lead": "ok"}\n[1, 2, 3]\n',
    "json-no-title": b'{"lead": "no title here"}\n',
}
EXPECTED = {
    "empty": "{path}:1: empty file, nothing to import",
    "binary": "{path}:1: binary data (a NUL byte), expected text",
    "utf8": "{path}:3: invalid UTF-8 at column 1 (byte 13); save the file as UTF-8",
    "no-lead": "{path}:42: a title with no lead after it",
    "long-line": "{path}:2: line of 20,001 characters, over the 20,000 limit; is this the "
                 "right file?",
    "not-xml": "{path}: not an RSS or Atom feed",
    "json-array": "{path}:2: expected a JSON object, got list",
    "json-no-title": '{path}:1: missing "title"',
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_get_one_line_exit_2_and_leave_the_store_alone(
        bot: Bot, tmp_path: Path, case: str) -> None:
    bot("import", str(SAMPLE))
    before = articles(bot)
    path = tmp_path / f"{case}.txt"
    path.write_bytes(BAD_FILES[case])
    result = bot("import", str(path))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: " + EXPECTED[case].format(path=path)), result.stderr
    assert articles(bot) == before


@pytest.mark.parametrize(("args", "env", "message"), [
    (["import", "http://127.0.0.1:{port}/feed.xml"], {},
     "error: http://127.0.0.1:{port}/feed.xml: unreachable"),
    (["import", str(SAMPLE), "--format", "csv"], {}, "error: Invalid value for '--format'"),
    (["import", "{tmp}/nowhere.txt"], {}, "error: {tmp}/nowhere.txt: no such file"),
    (["articles", "list"], {"BOT_DATABASE": "{tmp}/missing/bot.sqlite3"},
     "error: {tmp}/missing/bot.sqlite3: folder {tmp}/missing does not exist"),
    (["articles", "list"], {"BOT_DATABASE": "/proc/bot.sqlite3"},
     "error: /proc/bot.sqlite3: cannot open the store"),
    (["articles", "list"], {"BOT_DATABASE": "{sample}/bot.sqlite3"},
     "error: {sample}/bot.sqlite3: folder {sample} is not a folder"),
    (["articles", "list", "--week", "2025-34"], {}, 'error: --week must look like "2025-W34"'),
    (["articles", "list", "--country", "narnia"], {},
     "error: --country: unknown country 'narnia'; use one of KZ, KG, UZ, TJ, TM, REGION"),
    (["articles", "edit", "999", "--feature"], {}, "error: article 999 does not exist"),
    (["config", "check"], {"BOT_TIMEZONE": "Mars/Olympus"},
     "error: BOT_TIMEZONE must be an IANA time zone"),
])
def test_bad_arguments_get_one_line_and_exit_2(bot: Bot, tmp_path: Path, args: list[str],
                                                env: dict[str, str], message: str) -> None:
    values = {"port": str(_free_port()), "tmp": str(tmp_path), "sample": str(SAMPLE)}
    result = bot(*[a.format(**values) for a in args],
                 **{k: v.format(**values) for k, v in env.items()})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(message.format(**values)), result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_database_folder_is_created(bot: Bot, tmp_path: Path) -> None:
    del bot.env["BOT_DATABASE"]
    assert bot("import", str(SAMPLE)).exit_code == 0
    assert (tmp_path / "var" / "bot.sqlite3").is_file()


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli))
def test_every_command_has_help(bot: Bot, path: tuple[str, ...]) -> None:
    result = bot(*path, "--help")
    assert result.exit_code == 0
    assert "Usage: bot " + " ".join(path) in result.stdout
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help and len(command.help) > 10


def _console_script() -> str:
    script = Path(sys.executable).parent / "bot"
    return str(script) if script.exists() else shutil.which("bot") or "bot"


def test_the_installed_command_in_a_real_process(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BOT_")},
           "BOT_DATABASE": str(tmp_path / "bot.sqlite3"), "BOT_FAKE_NOW": NOW.isoformat()}
    run = subprocess.run([_console_script(), "import", str(SAMPLE)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    listed = subprocess.run([_console_script(), "articles", "list", "--json"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert len(listed.stdout.splitlines()) == 21
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01")
    failed = subprocess.run([_console_script(), "import", str(bad)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stderr == f"error: {bad}:1: binary data (a NUL byte), expected text\n"


# -- counts agree with their noun ---------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    ((0, "article"), "0 articles"), ((1, "article"), "1 article"),
    ((2, "article"), "2 articles"), ((1, "new article"), "1 new article"),
    ((1, "needs", "need"), "1 needs"), ((2, "needs", "need"), "2 need"),
])
def test_plural(args: tuple[int, str] | tuple[int, str, str], expected: str) -> None:
    assert plural(*args) == expected


def test_import_and_lists_say_1_article_and_2_articles(bot: Bot, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_text('{"title": "Astana accueille un sommet", "lead": "Le Kazakhstan reçoit.", '
                   '"published": "2025-04-02"}\n', encoding="utf-8")
    two.write_text('{"title": "Tachkent construit", "lead": "L’Ouzbékistan bâtit.", '
                   '"published": "2025-04-03"}\n{"title": "Douchanbé inaugure", '
                   '"lead": "Le Tadjikistan ouvre.", "published": "2025-04-04"}\n'
                   '{"title": "bad", "lead": "bad", "published": "tomorrow"}\n',
                   encoding="utf-8")
    first = bot("import", str(one))
    assert first.stdout == f"{one}: 1 new article, 0 already in the store (jsonl)\n"
    assert bot("articles", "list").stdout.splitlines()[-1] == "1 article"
    second = bot("import", str(two), "--skip-invalid")
    assert second.stdout == f"{two}: 2 new articles, 0 already in the store (jsonl)\n"
    assert second.stderr == f"1 bad record skipped, written to {two}.rejects\n"
    assert bot("articles", "list").stdout.splitlines()[-1] == "3 articles"
    assert bot("articles", "list", "--limit", "2").stdout.splitlines()[-1] == "2 articles"


def test_subscribers_list_says_1_subscriber_and_2_subscribers(bot: Bot) -> None:
    assert bot("subscribers", "add", "un@example.org").exit_code == 0
    assert bot("subscribers", "list").stdout.splitlines()[-1] == "1 subscriber"
    assert bot("subscribers", "add", "deux@example.org").exit_code == 0
    assert bot("subscribers", "list").stdout.splitlines()[-1] == "2 subscribers"
