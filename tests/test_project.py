"""The project's promises to a newcomer: the README's commands, CI, the shipped sample."""

from __future__ import annotations

from importlib.resources import files

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines[:6] if line.startswith("    ")]


def test_the_readme_starts_with_the_two_commands() -> None:
    main_job, tests = _readme_commands()
    assert main_job.endswith(".venv/bin/bot demo")
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command_after_lint_and_types() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = _readme_commands()[1]
    assert command in ci
    position = ci.index(command)
    assert any("ruff check" in line for line in ci[:position])
    assert any("mypy bot" in line for line in ci[:position])


def test_the_sample_listing_ships_inside_the_package() -> None:
    sample = files("bot") / "samples" / "articles-fr.txt"
    text = sample.read_text(encoding="utf-8")
    assert text.startswith("Le 29 août n’est pas une simple journée commémorative")
    assert len(text.splitlines()) == 41
