"""The project's exceptions: each carries what was wrong, where, and what to do."""

from __future__ import annotations

from collections.abc import Sequence


class BotError(Exception):
    """Base of every error the CLI turns into one line on stderr and exit code 2."""

    exit_code = 2

    def lines(self) -> list[str]:
        """The message as the lines the CLI prints (one, unless a subclass has several)."""
        return [one_line(str(self))]


class ConfigError(BotError):
    """A setting is missing or malformed."""


class StoreError(BotError):
    """The database cannot be opened, migrated or written."""


class InputError(BotError):
    """A whole input (file, URL, argument) is unusable: empty, binary, unreachable…"""


class RecordError(BotError):
    """One record of an input is bad; `location` names the file and line or entry."""

    def __init__(self, location: str, reason: str, raw: str = "") -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason
        self.raw = raw


class ImportRejected(BotError):
    """An input had bad records and was rejected whole; every bad record is named."""

    MAX_LINES = 20

    def __init__(self, errors: Sequence[RecordError]) -> None:
        super().__init__(str(errors[0]) if errors else "input rejected")
        self.errors = list(errors)

    def lines(self) -> list[str]:
        shown = [one_line(str(e)) for e in self.errors[: self.MAX_LINES]]
        hidden = len(self.errors) - len(shown)
        if hidden > 0:
            shown.append(f"… and {hidden} more bad records; nothing was imported")
        return shown


class NotFound(BotError):
    """Something asked for by id or name does not exist."""


def one_line(text: str) -> str:
    """Fold a message to one line, so a hostile value cannot forge extra log or error lines."""
    return " ".join(text.split())
