"""What `bot preview` does: the week's digest, rendered in every format, written under
`digests/previews/` (never served to readers), with what an editor should check before it
goes out. A preview stores nothing: what readers get is frozen by the send."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.archive import WeekDigest, show_week, week_folder, write_index, write_week
from bot.config import Settings
from bot.digest import Digest, IsoWeek
from bot.links import week_page
from bot.model import Country
from bot.render.email import Masthead, RenderedEmail, render_email
from bot.render.telegram import TelegramPart, render_telegram
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Preview:
    week: WeekDigest
    digest: Digest  # the variant shown (all sections, or the countries asked for)
    email: RenderedEmail
    parts: list[TelegramPart]
    files: list[Path]
    week_over: bool  # an unsent past week: its send will freeze it

    @property
    def warnings(self) -> list[str]:
        """One line per article an editor should look at before Monday."""
        lines = []
        for item in self.digest.items:
            if item.needs_review:
                lines.append(f"article {item.id} needs review ({item.needs_review}): "
                             f"{item.title}")
            if not item.url:
                lines.append(f"article {item.id} has no URL: {item.title}")
        return lines

    @property
    def unlinked(self) -> int:
        """How many articles of the digest have no link (no URL, no BOT_ARTICLE_LINK)."""
        return sum(1 for item in self.digest.items if not item.url)


def masthead(settings: Settings, week: IsoWeek) -> Masthead:
    return Masthead(settings.newsletter_name, archive_url(settings, week),
                    settings.postal_address, settings.templates_dir)


def archive_url(settings: Settings, week: IsoWeek) -> str:
    return week_page(settings.public_url, week)


def preview_week(store: Store, settings: Settings, week: IsoWeek,
                 countries: frozenset[Country], now: dt.datetime) -> Preview:
    """Render `week` (for readers of `countries`, all when empty) and write its files
    under `digests/previews/`."""
    found = show_week(store, week, now, settings.timezone, article_link=settings.article_link)
    digest = found.digest.only(countries)
    email = render_email(digest, masthead(settings, week))
    parts = render_telegram(digest, settings.newsletter_name,
                            archive_url=archive_url(settings, week))
    files: list[Path] = []
    if not digest.is_empty:
        previews = previews_dir(settings)
        front_page = settings.public_url.rstrip("/") + "/"
        html, text = email.personalize(front_page, front_page)
        files = write_week(week_folder(previews, week, countries), digest, html, text, parts)
        files.append(write_index(previews, settings.newsletter_name,
                                 templates=settings.templates_dir))
    return Preview(found, digest, email, parts, files, now >= week.window(settings.timezone)[1])


def previews_dir(settings: Settings) -> Path:
    """Where previews go: inside the digests folder, but not a week's name, so never served."""
    return settings.digests_dir / "previews"
