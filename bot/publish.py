"""A week made public: `digests/<week>/` (the web version, the text, the Telegram parts,
`digest.json`) and `digests/index.html`, written from the frozen digest before the first
message of its send leaves, so that every link to the archive answers from then on."""

from __future__ import annotations

from pathlib import Path

from bot.archive import week_folder, write_index, write_week
from bot.config import Settings
from bot.digest import Digest, IsoWeek
from bot.preview import archive_url, masthead
from bot.render.email import render_web_version
from bot.render.telegram import render_telegram


def publish_week(settings: Settings, week: IsoWeek, digest: Digest) -> list[Path]:
    """Write the week's public archive and the index; returns the files written."""
    front_page = settings.public_url.rstrip("/") + "/"
    html, text = render_web_version(digest, masthead(settings, week), front_page)
    parts = render_telegram(digest, settings.newsletter_name,
                            archive_url=archive_url(settings, week))
    files = write_week(week_folder(settings.digests_dir, week, frozenset()), digest, html,
                       text, parts)
    files.append(write_index(settings.digests_dir, settings.newsletter_name,
                             templates=settings.templates_dir))
    return files


def is_published(settings: Settings, week: IsoWeek) -> bool:
    return (week_folder(settings.digests_dir, week, frozenset()) / "digest.json").is_file()
