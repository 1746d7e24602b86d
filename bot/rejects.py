"""The rejects file that `bot import --skip-invalid` writes next to its input."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import InputError, RecordError
from bot.ingest.source import Source


def rejects_path(source: Source) -> Path:
    """`articles.txt` → `articles.txt.rejects` beside it; a URL's go to the current folder."""
    if source.is_url:
        parts = urlsplit(source.name)
        stem = Path(parts.path).name or parts.hostname or "feed"
        return source.folder / f"{parts.hostname}-{stem}.rejects"
    return source.folder / f"{Path(source.name).name}.rejects"


def write_rejects(source: Source, errors: Sequence[RecordError], now: dt.datetime) -> Path:
    """Write every bad record with its reason, atomically (a temp file renamed into place)."""
    path = rejects_path(source)
    lines = [f"# {len(errors)} records rejected from {source.name} on "
             f"{now.isoformat(timespec='seconds')}; fix them and import this file's records "
             "again", ""]
    for error in errors:
        lines.append(f"# {error}")
        lines.extend(error.raw.splitlines() or [""])
        lines.append("")
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".rejects-", text=True)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
        Path(temp).replace(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the rejects file ({exc.strerror}); "
                         "nothing was imported") from None
    return path
