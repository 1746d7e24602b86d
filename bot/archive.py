"""A week's digest as the store and the `digests/` folder keep it: freezing, and the files a
preview or a send leaves (`digest.json`, `email.html`, `email.txt`, `telegram-NN.html`,
`index.html`). Every file is written whole or not at all (temp file, then rename)."""

from __future__ import annotations

import datetime as dt
import json
import os
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
from bot.errors import StoreError
from bot.model import Country
from bot.render.email import RenderedEmail
from bot.render.environment import environment
from bot.render.i18n import week_label
from bot.render.telegram import TelegramPart
from bot.store import ArticleQuery, Store, StoredDigest


@dataclass(frozen=True, slots=True)
class WeekDigest:
    """A week's digest and how it stands: live (the week is not over), frozen, or final
    (being sent or sent: it never changes again)."""

    digest: Digest
    stored: StoredDigest | None

    @property
    def is_final(self) -> bool:
        return self.stored is not None and self.stored.is_final


def digest_for_week(store: Store, week: IsoWeek, now: dt.datetime, tz: ZoneInfo) -> WeekDigest:
    """The digest of `week`: the sent one if it was sent; else assembled from the store, and
    frozen (store row) when the week is over, so that what is previewed is what goes out."""
    stored = store.get_digest(str(week))
    if stored is not None and stored.is_final:
        return WeekDigest(digest_from_json(stored.snapshot), stored)
    articles = store.list_articles(ArticleQuery(since=week.monday, until=week.next_monday))
    digest = assemble_week(articles, week)
    if digest.is_empty or now < week.window(tz)[1]:
        return WeekDigest(digest, None)
    digest = replace(digest, frozen_at=now)
    stored = store.save_digest(str(week), digest_to_json(digest), SCHEMA_VERSION, now)
    if stored.is_final:  # another process started sending it meanwhile: that one stands
        return WeekDigest(digest_from_json(stored.snapshot), stored)
    return WeekDigest(digest, stored)


def week_folder(digests_dir: Path, week: IsoWeek, countries: frozenset[Country]) -> Path:
    folder = digests_dir / str(week)
    if countries:
        folder = folder / "variants" / "-".join(sorted(c.value for c in countries))
    return folder


def write_week(folder: Path, digest: Digest, email: RenderedEmail, front_page: str,
               parts: list[TelegramPart]) -> list[Path]:
    """Write a week's files (the email's reader links pointing at `front_page`); returns
    their paths. Old Telegram parts are removed."""
    web_html, web_text = email.personalize(front_page, front_page)
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


def write_index(digests_dir: Path, newsletter_name: str, locale: str = "fr") -> Path:
    """`digests/index.html`: every archived week, newest first, linking its web version."""
    weeks = []
    for path in sorted(digests_dir.glob("*-W*/digest.json"), reverse=True):
        data = json.loads(path.read_text(encoding="utf-8"))
        digest = digest_from_json(json.dumps(data))
        weeks.append({"href": f"{digest.week}/email.html", "count": len(digest.items),
                      "label": week_label(digest.week, locale)})
    html = environment(locale).get_template("web/index.html.j2").render(
        weeks=weeks, newsletter_name=newsletter_name)
    return write_atomically(digests_dir / "index.html", html)


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
