"""What a parser returns: the good drafts and the bad records, both in input order."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import RecordError
from bot.model import ArticleDraft


@dataclass(slots=True)
class ParseResult:
    drafts: list[ArticleDraft] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
