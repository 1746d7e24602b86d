"""Which country an article is about: a gazetteer match over title and lead, then the
editors' rules for the close calls. Pure: text in, `CountryTag` out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from bot.model import FIVE, Country
from bot.tagging.gazetteer import NAMING_KINDS, WEIGHTS, Entry, Kind, entries
from bot.tagging.text import words

TITLE_WEIGHT = 3.0  # a mention in the title says more about the subject than one in the lead
_REGION = Country.REGION.value
_FIVE_CODES = tuple(c.value for c in FIVE)
_DETERMINERS = frozenset({"les", "des", "ces", "aux", "leurs", "nos", "de", "d", "milliers"})
_PLACE_PREPOSITIONS = frozenset({"de", "d", "du", "des", "en", "au", "aux"})
_ARTICLES = frozenset({"la", "l", "le", "les"})


@dataclass(frozen=True, slots=True)
class CountryTag:
    """The primary section of an article and every one of the five it mentions."""

    country: Country
    countries: tuple[Country, ...]


@dataclass(frozen=True, slots=True)
class Mention:
    """A gazetteer phrase found at a word position; a diaspora mention counts for nothing."""

    entry: Entry
    position: int
    diaspora: bool = False

    @property
    def counts(self) -> bool:
        return not self.diaspora and self.entry.kind is not Kind.FOREIGN


def _build_index() -> dict[str, list[tuple[tuple[str, ...], Entry]]]:
    index: dict[str, list[tuple[tuple[str, ...], Entry]]] = defaultdict(list)
    seen: dict[tuple[str, ...], Entry] = {}
    for entry in entries():
        key = tuple(words(entry.phrase))
        previous = seen.get(key)
        if previous is not None:
            if previous.countries != entry.countries:
                raise ValueError(f"gazetteer: {entry.phrase!r} points at two places")
            continue
        seen[key] = entry
        index[key[0]].append((key, entry))
    for candidates in index.values():
        candidates.sort(key=lambda item: -len(item[0]))  # longest phrase wins
    return dict(index)


_INDEX = _build_index()


def find_mentions(tokens: list[str]) -> list[Mention]:
    """Gazetteer phrases in `tokens`, longest match first."""
    found: list[Mention] = []
    i, n = 0, len(tokens)
    while i < n:
        entry = _entry_at(tokens, i)
        if entry is None:
            i += 1
            continue
        found.append(Mention(entry, i, _is_diaspora(tokens, i, entry)))
        i += len(words(entry.phrase))
    return found


def _entry_at(tokens: list[str], i: int) -> Entry | None:
    for key, entry in _INDEX.get(tokens[i], ()):
        if len(key) == 1 or tuple(tokens[i : i + len(key)]) == key:
            return entry
    return None


def _is_diaspora(tokens: list[str], i: int, entry: Entry) -> bool:
    """"les Kazakhs de Mongolie", "les Ouzbeks d'Och": a people named as living elsewhere
    (abroad, or in another of the five) is not their homeland's news."""
    if not (entry.kind is Kind.DEMONYM and entry.plural):
        return False
    if i == 0 or tokens[i - 1] not in _DETERMINERS:
        return False
    j = i + 1
    if j < len(tokens) and tokens[j] not in _PLACE_PREPOSITIONS:
        j += 1  # one adjective may stand between: "les Kazakhs ethniques de Chine"
    if j >= len(tokens) or tokens[j] not in _PLACE_PREPOSITIONS:
        return False
    j += 1
    while j < len(tokens) and tokens[j] in _ARTICLES:
        j += 1
    place = _entry_at(tokens, j) if j < len(tokens) else None
    if place is None:
        return False
    return place.kind is Kind.FOREIGN or (
        place.kind in {Kind.PLACE, Kind.NAME} and place.countries != entry.countries)


def classify(title: str, lead: str) -> CountryTag:
    """The country an editor would file the article under, and all of the five it names.

    The rules, in order: a title about a place abroad or a diaspora, naming nothing of ours
    → OTHER; a region-wide subject in the title (Asie centrale, centrasiatique, a summit of
    the five) with none of the five named there, or three of the five named there → REGION;
    nothing of ours at all → OTHER; otherwise the highest score (title mentions count three
    times), where a tie goes to the one named first in the title (else in the lead), and a
    tie of three or more of the five, or of places they share, → REGION.
    """
    title_mentions = find_mentions(words(title))
    lead_mentions = find_mentions(words(lead))
    scores: dict[str, float] = defaultdict(float)
    order: dict[str, tuple[int, int]] = {}  # (0 title | 1 lead, position) of first mention
    for field, mentions, factor in ((0, title_mentions, TITLE_WEIGHT), (1, lead_mentions, 1.0)):
        for m in mentions:
            if not m.counts:
                continue
            for code in m.entry.countries:
                scores[code] += factor * WEIGHTS[m.entry.kind]
                order.setdefault(code, (field, m.position))
    ours = {c: round(scores[c], 6) for c in _FIVE_CODES if scores.get(c)}
    mentioned = tuple(Country(c) for c in sorted(ours, key=lambda c: (-ours[c], order[c])))
    counted_in_title = [m for m in title_mentions if m.counts]
    if not counted_in_title and any(not m.counts for m in title_mentions):
        return CountryTag(Country.OTHER, mentioned)
    named = {c for m in counted_in_title if m.entry.kind in NAMING_KINDS for c in m.entry.countries}
    if any(m.entry.kind is Kind.REGION for m in counted_in_title) and not named:
        return CountryTag(Country.REGION, mentioned)
    if len(named) >= 3:
        return CountryTag(Country.REGION, mentioned)
    if not ours:
        return CountryTag(Country.REGION if scores.get(_REGION) else Country.OTHER, mentioned)
    return CountryTag(_decide(ours, round(scores.get(_REGION, 0.0), 6), order), mentioned)


def _decide(ours: dict[str, float], region: float, order: dict[str, tuple[int, int]]) -> Country:
    best = max(ours.values())
    if region > best:
        return Country.REGION
    top = [c for c, score in ours.items() if score == best]
    if region == best:
        top.append(_REGION)
    if len([c for c in top if c != _REGION]) >= 3:
        return Country.REGION
    top.sort(key=lambda c: order[c])
    if len(top) > 1 and order[top[0]] == order[top[1]]:
        return Country.REGION  # one shared place and nothing else to tell them apart
    return Country(top[0])
