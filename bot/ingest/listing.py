"""The newsroom's listing: a title line, then its lead line, repeated, newest first.

Lines are paired by position. Where the pairing breaks (a lead with no title above it, as
the newsroom's export starts), the shape of the lines decides: titles are short single
clauses, leads are longer sentences. A small dynamic programme finds the reading that fits
the shapes best, so one missing title does not shift every later pair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.errors import RecordError
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source, control_character, decode_text, text_lines
from bot.model import ArticleDraft

LONE_LEAD_COST = 1.5  # above any one misfit pair: a missing title must be the better story
NO_TITLE = "no title"
_TEASER_MARK = re.compile(r"\s*\[(?:\.\.\.|…)\]\s*$")
_CLAUSE_END = re.compile(r"\s[:;–—]\s|[,.!?…](?:\s|$)")


def parse_listing(source: Source) -> ParseResult:
    """Drafts from a listing, with every bad record named; nothing is tagged yet."""
    text = decode_text(source)
    lines = text_lines(source, text)
    records = pair_lines([line for _, line in lines])
    result = ParseResult()
    origin = source.short_name
    check_controls = control_character(text.replace("\r", "").replace("\n", "")) is not None
    last = len(lines) - 1
    name = source.name
    for record in records:
        first = lines[record[0]]
        location = f"{name}:{first[0]}"
        if len(record) == 2:
            title, lead = first[1], lines[record[1]][1]
            bad = check_controls and control_character(title + lead)
            if not bad:
                result.drafts.append(ArticleDraft(location, strip_teaser_mark(title),
                                                  strip_teaser_mark(lead), origin))
                continue
            result.errors.append(RecordError(location, f"{bad} in the text", f"{title}\n{lead}"))
            continue
        line = first[1]
        bad = check_controls and control_character(line)
        if bad:
            result.errors.append(RecordError(location, f"{bad} in the text", line))
        elif record[0] == last and looks_like_title(line):
            result.errors.append(RecordError(location, "a title with no lead after it", line))
        else:
            lead = strip_teaser_mark(line)
            result.drafts.append(ArticleDraft(location, title_from_lead(lead), lead,
                                              origin, needs_review=NO_TITLE))
    return result


def pair_lines(lines: Sequence[str]) -> list[tuple[int, ...]]:
    """Group line indexes into (title, lead) pairs and lone leads, fitting their shapes."""
    n = len(lines)
    t = [title_likeness(line) for line in lines]
    cost = [0.0] * (n + 1)
    pair_here = [False] * (n + 1)
    for i in range(n - 1, -1, -1):
        lone = LONE_LEAD_COST + t[i] + cost[i + 1]
        pair = (1 - t[i]) + t[i + 1] + cost[i + 2] if i + 1 < n else float("inf")
        pair_here[i] = pair <= lone
        cost[i] = min(pair, lone)
    records: list[tuple[int, ...]] = []
    i = 0
    while i < n:
        if pair_here[i]:
            records.append((i, i + 1))
            i += 2
        else:
            records.append((i,))
            i += 1
    return records


def title_likeness(line: str) -> float:
    """0 for a line shaped like a lead (long, several sentences), 1 for a headline."""
    size = len(line)
    score = 0.5
    if size <= 100:
        score += 0.25
    elif size <= 160:
        score += 0.1
    elif size > 300:
        score -= 0.35
    else:
        score -= 0.2
    end = line.rstrip()
    if end.endswith((".", "…", "]")):
        score -= 0.2
    elif not end.endswith(("?", "!", "»", '"')):
        score += 0.1
    breaks = line.count(". ") + line.count("? ") + line.count("! ") + line.count("… ")
    score -= 0.2 * min(breaks, 2)
    return min(1.0, max(0.0, score))


def looks_like_title(line: str) -> bool:
    return title_likeness(line) > 0.5


def strip_teaser_mark(text: str) -> str:
    """"… [...]" ends a cut teaser: drop the bracketed mark, keep the text and its "…"."""
    return _TEASER_MARK.sub("", text) if text.endswith("]") else text


def title_from_lead(lead: str, limit: int = 110) -> str:
    """A provisional title for a lead that came without one: its first clause."""
    match = _CLAUSE_END.search(lead, 15)
    clause = lead[: match.start()] if match else lead
    clause = clause.rstrip(" ,;:–—")
    if len(clause) > limit:
        clause = clause[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return clause
