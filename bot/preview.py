"""What `bot preview` does: the week's digest, rendered in every format, written to the
archive folder, with what an editor should check before it goes out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.archive import WeekDigest, digest_for_week, week_folder, write_index, write_week
from bot.config import Settings
from bot.digest import Digest, IsoWeek
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


def masthead(settings: Settings, week: IsoWeek) -> Masthead:
    return Masthead(settings.newsletter_name, archive_url(settings, week),
                    settings.postal_address, settings.templates_dir)


def archive_url(settings: Settings, week: IsoWeek) -> str:
    return f"{settings.public_url.rstrip('/')}/archive/{week}/"


def preview_week(store: Store, settings: Settings, week: IsoWeek,
                 countries: frozenset[Country], now: dt.datetime) -> Preview:
    """Render `week` (for readers of `countries`, all when empty) and write its files."""
    found = digest_for_week(store, week, now, settings.timezone)
    digest = found.digest.only(countries)
    email = render_email(digest, masthead(settings, week))
    parts = render_telegram(digest, settings.newsletter_name)
    files: list[Path] = []
    if not digest.is_empty:
        folder = week_folder(settings.digests_dir, week, countries)
        files = write_week(folder, digest, email, settings.public_url.rstrip("/") + "/", parts)
        files.append(write_index(settings.digests_dir, settings.newsletter_name,
                                 templates=settings.templates_dir))
    return Preview(found, digest, email, parts, files)
