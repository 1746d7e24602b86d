"""DESIGN.md stays the true map of the code: every module under bot/ has its line in the
layout, no line names a module that is gone, and imports run down the floors, never up."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "DESIGN.md"
LONG = 400  # lines: past this a module needs a reason at its top


def layout_block() -> list[str]:
    text = DESIGN.read_text(encoding="utf-8")
    found = re.search(r"```layout\n(.*?)```", text, re.S)
    assert found, "DESIGN.md has no ```layout block"
    return found.group(1).splitlines()


def listed_paths() -> set[str]:
    """The paths the layout names, rebuilt from its indentation (two spaces a level)."""
    paths: set[str] = set()
    folders: list[str] = []
    for line in layout_block():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        folders = folders[:depth]
        path = "".join(folders) + name
        paths.add(path)
        if name.endswith("/"):
            folders.append(name)
    return paths


def modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "bot").rglob("*.py")}


def test_every_module_under_bot_has_its_line_in_design() -> None:
    missing = sorted(modules() - listed_paths())
    assert not missing, f"DESIGN.md's layout lacks {missing}"


def test_design_names_no_module_that_is_gone() -> None:
    gone = sorted(p for p in listed_paths() if p.startswith("bot/") and not (ROOT / p).exists())
    assert not gone, f"DESIGN.md's layout names {gone}, which do not exist"


def test_the_layout_parser_sees_nested_modules() -> None:
    # So that the two tests above cannot pass by reading nothing.
    paths = listed_paths()
    assert {"bot/cli/group.py", "bot/delivery/ledger.py", "bot/store/schema.py"} <= paths
    assert len(paths & modules()) > 50


def floors() -> list[list[str]]:
    """DESIGN.md's floors, top first: each a list of module prefixes (`bot/web/`)."""
    text = DESIGN.read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    rows = []
    for line in block.splitlines():
        rooms = [w for w in line.split() if w.startswith("bot/")]
        if rooms:
            rows.append([r.rstrip("/") for r in rooms if r != "→"])
    return rows


def floor_of(module: str, rows: list[list[str]]) -> int:
    path = module.replace(".", "/")
    for index, rooms in enumerate(rows):
        for room in rooms:
            room = room.removesuffix(".py")
            if path == room or path.startswith(room + "/"):
                return index
    raise AssertionError(f"{module} is on no floor of DESIGN.md's layout")


def imports_of(path: Path) -> set[str]:
    """Every `bot.…` module `path` imports, at the top, in a function, or for types only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "bot"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.split(".")[0] == "bot":
                found.add(base)
    return found


def test_imports_run_down_the_floors() -> None:
    rows = floors()
    assert len(rows) >= 8, rows
    upward = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module == "bot.__init__" or module == "bot":
            continue
        here = floor_of(module, rows)
        for target in imports_of(path):
            if target == "bot":
                continue
            if floor_of(target, rows) < here:
                upward.append(f"{module} imports {target}")
    assert not upward, "imports that run back up: " + "; ".join(upward)


def test_a_long_module_says_why_at_its_top() -> None:
    unexplained = []
    for path in sorted(p for folder in ("bot", "tests", "benchmarks")
                       for p in (ROOT / folder).rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        head = "\n".join(lines[:15]).lower()
        if len(lines) > LONG and "long because" not in head:
            unexplained.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert not unexplained, f"modules past {LONG} lines with no reason at their top: " \
        f"{unexplained}"
