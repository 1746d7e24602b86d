"""The translators' round trip, README's three `pybabel` commands run as they are (the venv's
pybabel, from the root of a copy of the repository): `extract` gives exactly the committed
template's messages, `update` leaves every committed catalog's translations as they are (the
catalogs are up to date), and the `.mo` files of `compile` say what the bot's own loader says."""

from __future__ import annotations

import gettext
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.render.i18n import LOCALES, translations
from tests.conftest import ROOT

PYBABEL = Path(sys.executable).parent / "pybabel"
EXTRACT = ("pybabel extract -F locales/babel.cfg -o locales/messages.pot "
           "--project=central-asia-digest-bot --version=0.1.0 -k translate:2 "
           "-k translate_plural:2,3 --no-location --sort-output .")
UPDATE = "pybabel update -i locales/messages.pot -d locales"
COMPILE = "pybabel compile -d locales --statistics"


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def po(root: Path, locale: str) -> Path:
    return root / "locales" / locale / "LC_MESSAGES" / "messages.po"


def messages(catalog: Catalog) -> dict[object, object]:
    """Every message's id (a tuple for plurals) and its translation(s), header left out."""
    return {m.id: m.string for m in catalog if m.id}


@dataclass
class RoundTrip:
    copy: Path  # the copy of the repository the commands ran in
    outputs: dict[str, str]


def run(command: str, cwd: Path) -> str:
    args = shlex.split(command)
    assert args[0] == "pybabel"
    done = subprocess.run([str(PYBABEL), *args[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    copy = tmp_path_factory.mktemp("repository")
    ignore = shutil.ignore_patterns("__pycache__", "*.mo")
    for folder in ("bot", "templates", "locales"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    outputs = {name: run(command, copy) for name, command in
               (("extract", EXTRACT), ("update", UPDATE), ("compile", COMPILE))}
    return RoundTrip(copy, outputs)


def test_readme_documents_these_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in (EXTRACT, UPDATE, COMPILE):
        assert f".venv/bin/{command}\n" in readme, command


def test_extract_gives_exactly_the_committed_template(round_trip: RoundTrip) -> None:
    extracted = read(round_trip.copy / "locales" / "messages.pot")
    committed = read(ROOT / "locales" / "messages.pot")
    assert set(messages(extracted)) == set(messages(committed))
    assert {m.id: sorted(m.flags) for m in extracted if m.id} == {
        m.id: sorted(m.flags) for m in committed if m.id}
    assert extracted.project == "central-asia-digest-bot" and extracted.version == "0.1.0"
    assert "messages from templates/email/masthead.mjml.j2" in round_trip.outputs["extract"]


@pytest.mark.parametrize("locale", LOCALES)
def test_update_changes_no_translation(round_trip: RoundTrip, locale: str) -> None:
    updated = read(po(round_trip.copy, locale), locale)
    committed = read(po(ROOT, locale), locale)
    assert messages(updated) == messages(committed)
    assert not [m.id for m in updated if m.id and m.fuzzy]
    assert not updated.obsolete
    assert f"updating catalog locales/{locale}/LC_MESSAGES/messages.po" in \
        round_trip.outputs["update"]


@pytest.mark.parametrize("locale", LOCALES)
def test_compile_gives_what_the_bot_reads(round_trip: RoundTrip, locale: str) -> None:
    total = len(messages(read(ROOT / "locales" / "messages.pot")))
    assert f"{total} of {total} messages (100%) translated in locales/{locale}/" in \
        round_trip.outputs["compile"]
    mo = round_trip.copy / "locales" / locale / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    ours = translations(locale)
    for message in read(ROOT / "locales" / "messages.pot"):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            singular, plural = message.id
            for count in (0, 1, 2, 5, 11, 21, 101):
                assert compiled.ngettext(singular, plural, count) == ours.ngettext(
                    singular, plural, count), (message.id, count)
        else:
            assert compiled.gettext(message.id) == ours.gettext(message.id), message.id


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", ("Unsubscribe", "week of %(start)s to %(end)s", "Kyrgyzstan", "%(num)s articles")),
    ("ru", ("Отписаться", "неделя с %(start)s по %(end)s", "Киргизия", "%(num)s статьи")),
])
def test_a_few_messages_after_the_round_trip(round_trip: RoundTrip, locale: str,
                                             expected: tuple[str, str, str, str]) -> None:
    mo = round_trip.copy / "locales" / locale / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    ours = translations(locale)
    for read_by in (compiled, ours):
        assert (read_by.gettext("Se désabonner"),
                read_by.gettext("semaine du %(start)s au %(end)s"),
                read_by.gettext("Kirghizstan"),
                read_by.ngettext("%(num)s article", "%(num)s articles", 3)) == expected
