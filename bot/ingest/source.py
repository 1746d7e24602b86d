"""Reading an input (file or http(s) URL) into bytes, and bytes into checked text lines."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import InputError

MAX_URL_BYTES = 20 * 1024 * 1024  # far above any feed; stops a runaway download
MAX_FILE_BYTES = 512 * 1024 * 1024  # a whole archive export fits; a disk image does not
MAX_LINE = 20_000
FETCH_TIMEOUT = 15.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline; C1


@dataclass(frozen=True, slots=True)
class Source:
    """An input's bytes, with the name errors use and the folder rejects go to."""

    name: str
    data: bytes
    folder: Path
    is_url: bool = False

    @property
    def short_name(self) -> str:
        """What the store records as the article's source."""
        return self.name if self.is_url else Path(self.name).name


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in {"http", "https"}


def read_source(location: str, *, timeout: float = FETCH_TIMEOUT,
                max_bytes: int | None = None) -> Source:
    """Read a file or download an http(s) URL, refusing anything over `max_bytes`."""
    if is_url(location):
        limit = max_bytes or MAX_URL_BYTES
        return Source(location, _download(location, timeout, limit), Path.cwd(), True)
    max_bytes = max_bytes or MAX_FILE_BYTES
    path = Path(location)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{location}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{location}: is a folder, expected a file") from None
    except OSError as exc:
        raise InputError(f"{location}: cannot read ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(f"{location}: larger than {_size(max_bytes)}; split it")
    return Source(location, data, path.resolve().parent)


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={  # noqa: S310 - scheme checked above
        "User-Agent": "central-asia-digest-bot/0.1 (+feed import)",
        "Accept": "application/rss+xml, application/atom+xml, application/xml, text/*;q=0.8",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"{url}: unreachable ({reason})") from None
    if len(data) > max_bytes:
        raise InputError(f"{url}: larger than {_size(max_bytes)}; refusing it")
    return data


def _size(count: int) -> str:
    return f"{count // 1_048_576} MiB" if count >= 1_048_576 else f"{count:,} bytes"


def check_not_empty_or_binary(source: Source) -> None:
    if not source.data.strip():
        raise InputError(f"{source.name}:1: empty file, nothing to import")
    nul = source.data.find(b"\x00")
    if nul >= 0:
        line = source.data.count(b"\n", 0, nul) + 1
        raise InputError(f"{source.name}:{line}: binary data (a NUL byte), expected text")


def decode_text(source: Source) -> str:
    """The input as text: UTF-8 (with or without BOM), else an error saying where it breaks."""
    check_not_empty_or_binary(source)
    data = source.data
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{source.name}:{line}: invalid UTF-8 at column {column} "
                         f"(byte {exc.start}); save the file as UTF-8") from None
    return text


def text_lines(source: Source, text: str) -> list[tuple[int, str]]:
    """Numbered non-blank lines; CRLF and CR end lines too; an overlong line is an error."""
    numbered = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if len(line) > MAX_LINE:
            raise InputError(f"{source.name}:{number}: line of {len(line):,} characters, over "
                             f"the {MAX_LINE:,} limit; is this the right file?")
        stripped = line.strip()
        if stripped:
            numbered.append((number, stripped))
    return numbered


def control_character(text: str) -> str | None:
    """A description of the first control character in `text`, if any."""
    found = _CONTROL.search(text)
    return f"control character U+{ord(found.group()):04X}" if found else None
