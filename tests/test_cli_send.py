"""Readers and sending as an editor runs them: `bot subscribers …`, `bot send`, `bot stats`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.delivery.email import RateLimiter
from tests.conftest import SAMPLE, Bot
from tests.fakes.smtp import SmtpServer


def subscribers(bot: Bot) -> list[dict[str, object]]:
    result = bot("subscribers", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_add_normalizes_and_refuses_duplicates_politely(bot: Bot) -> None:
    added = bot("subscribers", "add", " Jean.Dupont@Example.ORG ", "--countries", "KZ,ouzbékistan",
                "--locale", "ru")
    assert added.exit_code == 0 and added.stdout == "added jean.dupont@example.org (id 1)\n"
    again = bot("subscribers", "add", "jean.dupont@example.org")
    assert again.exit_code == 0
    assert again.stdout == ("jean.dupont@example.org is already a subscriber (active); "
                            "nothing changed\n")
    [reader] = subscribers(bot)
    assert (reader["address"], reader["countries"], reader["locale"], reader["status"]) == (
        "jean.dupont@example.org", ["KZ", "UZ"], "ru", "active")


def test_bad_addresses_and_options_are_one_line_exit_2(bot: Bot) -> None:
    for args, message in [
        (["x@y"], "error: not an email address: 'x@y'"),
        (["a@b.org\r\nBcc: evil@x.org"], "error: not an email address: 'a@b.org\\r\\nBcc:"),
        (["a" * 300 + "@ex.org"], "error: not an email address: 'aaaa"),
        (["a@ex.org", "--countries", "Narnia"], "error: --countries: unknown country 'Narnia'"),
        (["a@ex.org", "--locale", "de"], "error: --locale must be one of fr, en, ru"),
        (["12ab", "--channel", "telegram"], "error: not a Telegram chat id or @channel"),
    ]:
        result = bot("subscribers", "add", *args)
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr
    assert subscribers(bot) == []


def test_import_names_bad_rows_and_imports_nothing_unless_asked(bot: Bot,
                                                               tmp_path: Path) -> None:
    bot("subscribers", "add", "left@ex.org")
    bot("subscribers", "remove", "left@ex.org")
    csv = tmp_path / "readers.csv"
    csv.write_text("email,countries,locale\nA@ex.org,KZ,en\nnot-an-address\nb@ex.org,,ru\n"
                   "a@ex.org\nleft@ex.org\nc@ex.org,Narnia\n", encoding="utf-8")
    refused = bot("subscribers", "import", str(csv))
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"error: {csv}:3: not an email address: 'not-an-address' (An email address must have "
        "an @-sign.)",
        f"error: {csv}:5: a@ex.org appears twice in the file",
        f"error: {csv}:7: countries: unknown country 'Narnia'; use one of KZ, KG, UZ, TJ, TM, "
        "REGION, OTHER or a name"]
    assert [s["address"] for s in subscribers(bot)] == ["left@ex.org"]
    done = bot("subscribers", "import", str(csv), "--skip-invalid")
    assert done.exit_code == 0
    assert done.stdout.endswith("2 added, 1 already known (left as they are), 3 rejected\n")
    states = {s["address"]: s["status"] for s in subscribers(bot)}
    # an unsubscribed reader is never re-activated by an import
    assert states == {"left@ex.org": "unsubscribed", "a@ex.org": "active",
                      "b@ex.org": "active"}


def test_telegram_chat_ids_are_subscribers_too(bot: Bot) -> None:
    assert bot("subscribers", "add", "123456789", "--channel", "telegram").exit_code == 0
    assert bot("subscribers", "add", "@nouvelles_ac", "--channel", "telegram").exit_code == 0
    assert [(s["channel"], s["address"]) for s in subscribers(bot)] == [
        ("telegram", "123456789"), ("telegram", "@nouvelles_ac")]


def _sending_bot(bot: Bot, server: SmtpServer, tmp_path: Path) -> None:
    bot.env.update(SMTP_URL=server.url, BOT_DIGESTS_DIR=str(tmp_path / "digests"),
                   BOT_SECRET_KEY="k" * 32, BOT_EMAIL_RATE="1000")
    assert bot("import", str(SAMPLE)).exit_code == 0
    for n in range(5):
        bot("subscribers", "add", f"r{n}@ex.org")
    bot("subscribers", "add", "tj@ex.org", "--countries", "TJ")  # nothing for TJ in 2025-W14


def test_send_dry_run_then_send_then_again(bot: Bot, tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        dry = bot("send", "--week", "2025-W14", "--channel", "email", "--dry-run")
        assert dry.stdout.splitlines()[-1] == (
            "dry run: 2025-W14 would go to 5 email subscribers; 1 skipped (nothing in the "
            "sections they follow); nothing was sent")
        assert server.messages == []
        sent = bot("send", "--week", "2025-W14", "--channel", "email")
        assert sent.exit_code == 0, sent.stderr
        assert "2025-W14 by email: 5 sent, 1 skipped" in sent.stdout
        again = bot("send", "--week", "2025-W14", "--channel", "email")
        assert "2025-W14 was already sent by email; nothing to do (5 sent, 1 skipped)" in (
            again.stdout)
        assert server.count_by_recipient() == Counter({f"r{n}@ex.org": 1 for n in range(5)})
    stats = bot("stats").stdout.splitlines()
    assert "subscribers email active: 6" in stats
    assert "digest 2025-W14 (sent): email 5 sent, 1 skipped" in stats


def test_a_test_copy_touches_neither_ledger_nor_readers(bot: Bot, tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        result = bot("send", "--week", "2025-W14", "--channel", "email", "--to",
                     "Editor@Newsroom.org")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith(
            "sent a test copy of 2025-W14 to editor@newsroom.org through smtp://")
        assert list(server.count_by_recipient()) == ["editor@newsroom.org"]
    assert "not sent" in bot("stats", "--week", "2025-W14").stdout.splitlines()[-1]
    assert len(subscribers(bot)) == 6


def test_a_week_not_over_is_not_sent(bot: Bot, tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        bot.env["BOT_FAKE_NOW"] = "2025-04-02T10:00:00+02:00"  # inside 2025-W14
        result = bot("send", "--week", "2025-W14", "--channel", "email")
        assert result.exit_code == 2
        assert result.stderr.startswith("error: 2025-W14 is not over yet")
        assert server.messages == []


def _process(database: Path, server: SmtpServer, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SMTP_"))},
           "BOT_DATABASE": str(database), "SMTP_URL": server.url, "BOT_SECRET_KEY": "k" * 32,
           "BOT_EMAIL_RATE": "1000", "BOT_DIGESTS_DIR": str(tmp_path / "digests")}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "send", "--week", "2025-W14",
                             "--channel", "email"], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_send_processes_on_one_store_send_each_message_once_by_one_sender(bot: Bot,
                                                                 tmp_path: Path) -> None:
    with SmtpServer() as server:
        _sending_bot(bot, server, tmp_path)
        csv = tmp_path / "many.csv"
        csv.write_text("".join(f"m{n}@ex.org\n" for n in range(600)), encoding="utf-8")
        assert bot("subscribers", "import", str(csv)).exit_code == 0
        first, second = (_process(bot.database, server, tmp_path) for _ in range(2))
        codes = []
        for process in (first, second):
            _, err = process.communicate(timeout=120)
            codes.append(process.returncode)
            # The one that found the other holding the sender lease says so and sends nothing
            assert process.returncode == 0 or "another process sends from this store" in err, err
        counts = server.count_by_recipient()
    assert 0 in codes
    assert len(counts) == 605 and set(counts.values()) == {1}


def test_the_rate_limiter_spaces_sends_over_all_threads() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4.0, lambda: now[0], sleep)
    for _ in range(9):
        limiter.wait()
    assert now[0] == 2.0  # nine sends at 4 a second: the ninth at t = 2 s
    assert slept == [0.25] * 8

