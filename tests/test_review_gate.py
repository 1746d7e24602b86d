"""The review gate: a week holding an article an editor has not reviewed (an automatic
title, say) is not sent by `bot send` (exit 1, each article named with the command that
fixes it) nor by `bot run` (the admins told once, the week retried at each check) until it
is corrected or approved; `bot send --force` sends it anyway. `bot preview` tells which."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.model import Channel, Status
from bot.runner import Runner
from bot.store import ArticleQuery, open_store
from bot.subscribers import NewSubscriber
from tests.conftest import SAMPLE, Bot
from tests.test_runner import (
    READERS,
    SLOT,
    W14,
    Admins,
    Clock,
    _check,
    _digest_status,
    _outbox,
    _settings,
    folder,
)

__all__ = ["folder"]  # the fixture, used by name
W35 = "2025-W35"  # the sample's newest week: one article, imported without a title


def _untitled(bot: Bot) -> int:
    """The sample's article with no title of its own (its title made from its lead)."""
    assert bot("import", str(SAMPLE)).exit_code == 0
    with open_store(bot.database) as store:
        [article] = store.list_articles(ArticleQuery(needs_review=True))
        store.add_subscribers([NewSubscriber(Channel.EMAIL, "a@ex.org", "fr", frozenset())],
                              Status.ACTIVE, "test", dt.datetime.now(dt.UTC))
    assert article.needs_review == "no title"
    return article.id


def _outbox_files(tmp_path: Path) -> list[Path]:
    outbox = tmp_path / "var" / "outbox"
    return sorted(outbox.glob("*.eml")) if outbox.exists() else []


def test_bot_send_holds_a_week_with_an_article_to_review(bot: Bot, tmp_path: Path) -> None:
    article = _untitled(bot)
    result = bot("send", "--week", W35, "--channel", "email")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {W35} holds 1 article that needs review; nothing was sent",
        f'error: #{article} "Le 29 août n’est pas une simple journée commémorative pour le '
        'monde entier": no title',
        "error: fix: bot articles edit ID --title … (or --country, --date), or send them as "
        f"they are: bot articles approve {article}; bot send --week {W35} --force sends the "
        "week anyway"]
    assert _outbox_files(tmp_path) == []
    assert not (tmp_path / "digests").exists()  # nothing published either
    with open_store(bot.database) as store:
        stored = store.get_digest(W35)
        assert stored is None or not stored.is_final


def test_approving_the_article_lets_the_week_go(bot: Bot, tmp_path: Path) -> None:
    article = _untitled(bot)
    approved = bot("articles", "approve", str(article))
    assert approved.exit_code == 0, approved.stderr
    assert approved.stdout.splitlines()[-1] == "1 article"
    with open_store(bot.database) as store:
        assert store.get_article(article).needs_review is None
    sent = bot("send", "--week", W35, "--channel", "email")
    assert sent.exit_code == 0, sent.stderr
    assert f"{W35} by email: 1 sent" in sent.stdout
    assert len(_outbox_files(tmp_path)) == 1


def test_force_sends_the_week_as_it_is(bot: Bot, tmp_path: Path) -> None:
    _untitled(bot)
    sent = bot("send", "--week", W35, "--channel", "email", "--force")
    assert sent.exit_code == 0, sent.stderr
    assert len(_outbox_files(tmp_path)) == 1


def test_a_dry_run_and_a_test_copy_are_not_held(bot: Bot, tmp_path: Path) -> None:
    article = _untitled(bot)
    dry = bot("send", "--week", W35, "--channel", "email", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f'needs review: #{article} "Le 29 août' in dry.stdout
    with open_store(bot.database) as store:  # a dry run freezes nothing
        assert store.get_digest(W35) is None
    copy = bot("send", "--week", W35, "--channel", "email", "--to", "editor@ex.org")
    assert copy.exit_code == 0, copy.stderr
    assert len(_outbox_files(tmp_path)) == 1


def test_edit_with_nothing_to_change_is_an_error(bot: Bot) -> None:
    article = _untitled(bot)
    result = bot("articles", "edit", str(article))
    assert result.exit_code == 2
    assert result.stderr == ("error: nothing to change: give --country, --date, --title or "
                             f"--feature/--no-feature (bot articles approve {article} lets it "
                             "go out as it is)\n")
    with open_store(bot.database) as store:
        assert store.get_article(article).needs_review == "no title"  # still to review


def test_approving_an_unknown_article_changes_nothing(bot: Bot) -> None:
    article = _untitled(bot)
    result = bot("articles", "approve", str(article), "99999")
    assert result.exit_code == 2
    assert "article 99999 does not exist" in result.stderr
    with open_store(bot.database) as store:
        assert store.get_article(article).needs_review == "no title"


def test_preview_gives_the_verdict(bot: Bot) -> None:
    article = _untitled(bot)
    held = bot("preview", "--week", W35)
    assert held.exit_code == 0, held.stderr
    assert (f"review: not sendable until 1 article is reviewed (bot articles edit, or bot "
            f"articles approve {article}; bot send --force sends anyway)") in held.stdout
    ready = bot("preview", "--week", "2025-W14")
    assert "review: ready to send" in ready.stdout.splitlines()


def test_bot_run_tells_the_admins_once_and_sends_once_reviewed(folder: Path) -> None:
    database = folder / "bot.sqlite3"
    with open_store(database) as store:
        article = store.list_articles(ArticleQuery(since=W14.monday, until=W14.next_monday))[0]
        with store.transaction() as conn:  # as an import of an untitled lead leaves it
            conn.execute("UPDATE articles SET needs_review = 'no title' WHERE id = ?",
                         (article.id,))
    settings, clock, admins = _settings(folder), Clock(SLOT + dt.timedelta(hours=1)), Admins()

    async def scenario() -> None:
        await _check(Runner(settings, clock, admins))
        for _ in range(2):  # held at every check; a restart says nothing new
            clock.advance(seconds=5)
            await _check(Runner(settings, clock, admins))
        assert _outbox(folder) == [] and _digest_status(folder, W14) == "frozen"
        with open_store(database) as store:
            store.approve_articles([article.id], clock())
        clock.advance(seconds=5)
        await _check(Runner(settings, clock, admins))

    asyncio.run(scenario())
    [told] = admins.told
    assert f"#{article.id}" in told and f"bot articles approve {article.id}" in told
    assert _outbox(folder) == sorted(READERS)
    assert _digest_status(folder, W14) == "sent"
