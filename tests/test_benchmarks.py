"""Every benchmark's `--quick` smoke run finishes cleanly, so that a refactor cannot leave
one broken. Figures are not checked: the machines are shared and noisy, and a quick run's
sizes are too small to mean anything. Each script is found by globbing, so a new
benchmarks/bench_*.py is covered without touching this file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))
TIMEOUT = 120  # seconds; each quick run takes a few on a 2-core machine

pytestmark = pytest.mark.slow


def test_there_are_benchmarks_to_run() -> None:
    assert SCRIPTS, "no benchmarks/bench_*.py found"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_quick_run_exits_cleanly(script: Path) -> None:
    # The benchmarks set up what they need themselves (stores, SMTP sink, Bot API double)
    # in temporary folders; none of a developer's settings should reach them.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "SMTP_", "MAIL_", "TELEGRAM_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # A session of its own, so that a run past the timeout goes with everything it started
    # (the SMTP sink's process, `bot send`).
    process = subprocess.Popen([sys.executable, str(script.relative_to(ROOT)), "--quick"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    finally:
        if process.poll() is None:  # interrupted
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    outcome = f"did not finish in {TIMEOUT} s" if timed_out else \
        f"exited {process.returncode}"
    assert not timed_out and process.returncode == 0, (
        f"{script.name} --quick {outcome}\n"
        f"stderr:\n{stderr[-4000:]}\nstdout:\n{stdout[-2000:]}")
