"""A week's digest as the store and the `digests/` folder keep it: freezing, and the files
of a week (`digest.json`, `email.html`, `email.txt`, `telegram-NN.html`) with the folder's
`index.html`. A send publishes them in `digests/<week>/`; a preview writes them under
`digests/previews/`, which is not served. Every file is written whole or not at all (temp
file, then rename)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.digest import (
    SCHEMA_VERSION,
    Digest,
    IsoWeek,
    assemble_week,
    digest_from_json,
    digest_to_json,
)
from bot.errors import BotError, StoreError
from bot.model import Country
from bot.render.environment import environment
from bot.render.i18n import week_label
from bot.render.telegram import TelegramPart
from bot.store import ArticleQuery, Store, StoredDigest

log = logging.getLogger(__name__)
WEEK_NAME = re.compile(r"[0-9]{4}-W[0-9]{2}")  # an archive folder's name; ASCII digits only


@dataclass(frozen=True, slots=True)
class WeekDigest:
    """A week's digest and how it stands: live (the week is not over), frozen, or final
    (being sent or sent: it never changes again)."""

    digest: Digest
    stored: StoredDigest | None

    @property
    def is_final(self) -> bool:
        return self.stored is not None and self.stored.is_final


def digest_for_week(store: Store, week: IsoWeek, now: dt.datetime, tz: ZoneInfo, *,
                    article_link: str | None = None) -> WeekDigest:
    """The digest of `week` as a send needs it: the sent one if it was sent; else assembled
    from the store, and frozen (store row) when the week is over. Only a send calls this:
    what readers get is frozen by its send, never by a preview."""
    shown = show_week(store, week, now, tz, article_link=article_link)
    if shown.stored is not None or shown.digest.is_empty or now < week.window(tz)[1]:
        return shown
    digest = replace(shown.digest, frozen_at=now)
    stored = store.save_digest(str(week), digest_to_json(digest), SCHEMA_VERSION, now)
    if stored.is_final:  # another process started sending it meanwhile: that one stands
        return WeekDigest(digest_from_json(stored.snapshot), stored)
    return WeekDigest(digest, stored)


def show_week(store: Store, week: IsoWeek, now: dt.datetime, tz: ZoneInfo, *,
              article_link: str | None = None) -> WeekDigest:
    """The digest of `week` as a preview shows it, storing nothing: the sent one if it was
    sent (or is being sent), else assembled from the store as it stands, the articles
    without a URL linked by `article_link` (BOT_ARTICLE_LINK) when it is set."""
    stored = store.get_digest(str(week))
    if stored is not None and stored.is_final:
        return WeekDigest(digest_from_json(stored.snapshot), stored)
    articles = store.list_articles(ArticleQuery(since=week.monday, until=week.next_monday))
    return WeekDigest(assemble_week(articles, week, article_link=article_link), None)


def week_folder(digests_dir: Path, week: IsoWeek, countries: frozenset[Country]) -> Path:
    folder = digests_dir / str(week)
    if countries:
        folder = folder / "variants" / "-".join(sorted(c.value for c in countries))
    return folder


def write_week(folder: Path, digest: Digest, web_html: str, web_text: str,
               parts: list[TelegramPart]) -> list[Path]:
    """Write a week's files (the email as a web page and as text, the Telegram parts);
    returns their paths. Old Telegram parts are removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = [write_atomically(folder / "digest.json", digest_to_json(digest)),
                   write_atomically(folder / "email.html", web_html),
                   write_atomically(folder / "email.txt", web_text)]
        for old in folder.glob("telegram-*.html"):
            old.unlink()
        written += [write_atomically(folder / f"telegram-{n:02d}.html", part.html)
                    for n, part in enumerate(parts, 1)]
    except OSError as exc:
        raise StoreError(f"{folder}: cannot write the digest files ({exc.strerror})") from None
    return written


@dataclass(frozen=True, slots=True)
class ArchivedWeek:
    """A week in the archive folder, as its index lists it."""

    week: str
    label: str
    count: int


def archived_weeks(digests_dir: Path, locale: str = "fr") -> list[ArchivedWeek]:
    """Every week with a `digest.json` under `digests_dir`, newest first; a file that cannot
    be read is left out, with a warning."""
    weeks = []
    for path in sorted(digests_dir.glob("*-W*/digest.json"), reverse=True):
        if not WEEK_NAME.fullmatch(path.parent.name):
            continue
        try:
            digest = digest_from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, BotError) as exc:
            log.warning("%s: left out of the archive index (%s)", path, exc)
            continue
        weeks.append(ArchivedWeek(str(digest.week), week_label(digest.week, locale),
                                  len(digest.items)))
    return weeks


def render_index(digests_dir: Path, newsletter_name: str, locale: str = "fr",
                 page: str = "email.html", home: str | None = None,
                 templates: Path | None = None) -> str:
    """The archive's index page; each week links to `<week>/<page>`. `templates` holds the
    newsroom's template overrides, if any."""
    weeks = [{"href": f"{w.week}/{page}", "label": w.label, "count": w.count}
             for w in archived_weeks(digests_dir, locale)]
    return environment(locale, templates).get_template("web/index.html.j2").render(
        weeks=weeks, newsletter_name=newsletter_name, home=home)


def write_index(digests_dir: Path, newsletter_name: str, locale: str = "fr",
                templates: Path | None = None) -> Path:
    """`digests/index.html`: every archived week, newest first, linking its web version."""
    return write_atomically(digests_dir / "index.html",
                            render_index(digests_dir, newsletter_name, locale,
                                         templates=templates))


def write_atomically(path: Path, text: str) -> Path:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
