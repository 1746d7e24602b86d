"""The wheel carries the shipped templates and catalogs: built offline from a copy of the
project, installed into a fresh venv (which sees the test venv's dependencies, but not its
editable `bot`), it renders a week with `bot demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# What the build reads; anything else of the repository stays out of the copy.
PROJECT = ("pyproject.toml", "setup.py", "README.md", "bot", "templates", "locales")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment without the bot's settings or anything that points Python at the
    checkout; pip neither looks at an index nor for its own updates."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "SMTP_", "MAIL_", "TELEGRAM_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.mo", "*.egg-info", "build")
    for name in PROJECT:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", "dist",
        ".", cwd=source, env=clean_environment())
    [built] = (source / "dist").glob("*.whl")
    return built


def test_the_wheel_holds_every_template_and_catalog(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    shipped = {f"bot/{path.relative_to(ROOT).as_posix()}"
               for folder in ("templates", "locales") for path in (ROOT / folder).rglob("*")
               if path.is_file() and path.suffix in {".j2", ".po", ".pot", ".cfg"}}
    assert {"bot/templates/email/digest.mjml.j2", "bot/templates/email/masthead.mjml.j2",
            "bot/templates/web/base.html.j2", "bot/locales/ru/LC_MESSAGES/messages.po",
            "bot/locales/messages.pot", "bot/samples/articles-fr.txt"} <= shipped | names
    assert shipped <= names, sorted(shipped - names)
    assert not [n for n in names if n.startswith(("templates/", "locales/"))]


def test_the_installed_wheel_renders_a_week(wheel: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", fresh, cwd=tmp_path)
    python = fresh / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).strip())
    # The test venv's dependencies, by a path line: a .pth file in a folder reached that way is
    # not read, so the editable install's finder (which would import the checkout) is not.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test-venv-dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel,
        cwd=tmp_path, env=clean_environment())

    where = run(python, "-c", "import bot, bot.shipped as s; print(bot.__file__); "
                "print(s.templates_dir()); print(s.locales_dir())", cwd=tmp_path).split()
    assert where == [str(site / "bot" / "__init__.py"), str(site / "bot" / "templates"),
                     str(site / "bot" / "locales")]

    (tmp_path / "var").mkdir()
    env = clean_environment(BOT_DATABASE=str(tmp_path / "var" / "bot.sqlite3"),
                            BOT_DIGESTS_DIR=str(tmp_path / "digests"),
                            BOT_OUTBOX=str(tmp_path / "outbox"),
                            BOT_FAKE_NOW="2025-09-01T10:00:00+02:00")
    out = run(fresh / "bin" / "bot", "demo", cwd=tmp_path, env=env)
    wrote = [Path(line[len("wrote "):]) for line in out.splitlines() if line.startswith("wrote ")]
    [week] = [p.parent for p in wrote if p.name == "email.html"]  # the preview's files
    assert week.name == "2025-W14" and week.is_relative_to((tmp_path / "var" / "demo").resolve())
    html = (week / "email.html").read_text(encoding="utf-8")
    assert "Nouvelles d&#39;Asie centrale" in html and "font-size:26px" in html  # the masthead
    assert "Se désabonner" in html and "Kazakhstan" in html
    assert "Se désabonner" in (week / "email.txt").read_text(encoding="utf-8")
    assert (week / "telegram-01.html").is_file()
    assert [p for p in wrote if p.name == "index.html" and p.is_file()]
    assert not (tmp_path / "digests").exists()  # bot demo has its own, in var/demo/
    # The catalogs came with it: a reader's English email.
    english = run(python, "-c", "from bot.render.i18n import translate; "
                  "print(translate('en', 'Se désabonner'))", cwd=tmp_path, env=env)
    assert english.strip() == "Unsubscribe"
