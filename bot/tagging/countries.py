"""Which country an article is about: a gazetteer match over title and lead, then the
editors' rules for the close calls. Pure: text in, `CountryTag` out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from bot.folding import words
from bot.model import Country
from bot.tagging.gazetteer import Entry, Kind, entries

TITLE_WEIGHT = 3  # a mention in the title says more about the subject than one in the lead
_REGION = Country.REGION.value
REGION_IN_LEAD = 6  # "en Asie centrale" in a lead is mostly context: less than a city
_COUNTRIES = {c.value: c for c in Country}
_PLACE_PREPOSITIONS = frozenset({"de", "d", "du", "des", "en", "au", "aux"})
_ARTICLES = frozenset({"la", "l", "le", "les"})
_QUALIFIERS = frozenset({"de", "d", "du", "des", "a", "au", "aux", "en", "dans"})
# A meeting of the region is a region-wide subject even where a host city is named.
_EVENTS = frozenset(words(
    "sommet sommets summit réunion réunions forum conférence ministérielle ministres "
    "chefs dirigeants présidents dialogue consultative consultatif format tournoi "
    "championnat jeux festival coupe biennale"))


@dataclass(frozen=True, slots=True)
class CountryTag:
    """The primary section of an article and every one of the five it mentions."""

    country: Country
    countries: tuple[Country, ...]


class Mention(NamedTuple):
    """A gazetteer phrase found at a word position; a diaspora mention counts for nothing.
    (A tuple: many are made per article, and a frozen dataclass is slow to build.)"""

    entry: Entry
    position: int
    diaspora: bool = False
    counts: bool = True  # false for a diaspora or a place abroad


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
    present = _INDEX.keys() & tokens  # most words are not ours: skip them in C
    if not present:
        return found
    after = 0  # the first position not inside the previous match
    for i in [i for i, token in enumerate(tokens) if token in present]:
        if i < after:
            continue
        match = _entry_at(tokens, i)
        if match is not None:
            entry, size = match
            diaspora = _is_diaspora(tokens, i, entry)
            counts = not (diaspora or entry.abroad)
            found.append(Mention(entry, i, diaspora, counts))
            after = i + size
    return found


def _entry_at(tokens: list[str], i: int) -> tuple[Entry, int] | None:
    for key, entry in _INDEX.get(tokens[i], ()):
        if len(key) == 1 or tuple(tokens[i : i + len(key)]) == key:
            return entry, len(key)
    return None


def _is_diaspora(tokens: list[str], i: int, entry: Entry) -> bool:
    """"les Kazakhs de Mongolie", "les Ouzbeks d'Och": a people named as living elsewhere
    (abroad, or in another of the five) is not their homeland's news."""
    if not (entry.kind is Kind.DEMONYM and entry.plural):
        return False
    if i == 0:
        return False
    j = i + 1
    if j < len(tokens) and tokens[j] not in _PLACE_PREPOSITIONS:
        j += 1  # one adjective may stand between: "les Kazakhs ethniques de Chine"
    if j >= len(tokens) or tokens[j] not in _PLACE_PREPOSITIONS:
        return False
    j += 1
    while j < len(tokens) and tokens[j] in _ARTICLES:
        j += 1
    match = _entry_at(tokens, j) if j < len(tokens) else None
    if match is None:
        return False
    place = match[0]
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
    title_words = words(title)
    return classify_words(title_words, words(lead), subject_positions(title, title_words))


def subject_positions(title: str, title_words: list[str]) -> frozenset[int]:
    """Where a French headline's subject stands: its first word, and the first word after
    its kicker ("Russie : …", "Gazoducs de Sibérie : Moscou …")."""
    if ":" not in title:
        return frozenset({0})
    return frozenset({0, len(words(title.split(":", 1)[0]))}) if title_words else frozenset()


def classify_words(title_words: list[str], lead_words: list[str],
                   subjects: frozenset[int] = frozenset({0})) -> CountryTag:
    """`classify` on words already folded by `bot.folding.words`; `subjects` are the
    title's subject positions (see `subject_positions`)."""
    title_mentions = find_mentions(title_words)
    lead_mentions = find_mentions(lead_words)
    scores: dict[str, int] = defaultdict(int)
    order: dict[str, tuple[int, int]] = {}  # (0 title | 1 lead, position) of first mention
    for m in title_mentions:
        if m.counts:
            # "le premier musée d'Asie centrale": a region that only qualifies counts as
            # much as in the lead.
            factor = 1 if _qualifies(title_words, m) else TITLE_WEIGHT
            _score(m, factor * m.entry.weight, (0, m.position), scores, order)
    for m in lead_mentions:
        if m.counts:
            weight = REGION_IN_LEAD if m.entry.kind is Kind.REGION else m.entry.weight
            _score(m, weight, (1, m.position), scores, order)
    region = scores.pop(_REGION, 0)
    mentioned = tuple(_COUNTRIES[c] for c in sorted(scores, key=lambda c: (-scores[c], order[c])))
    if title_mentions:
        forced = _title_rule(title_words, title_mentions, lead_mentions, subjects)
        if forced is not None:
            return CountryTag(forced, mentioned)
    if not scores:
        return CountryTag(Country.REGION if region else Country.OTHER, mentioned)
    return CountryTag(_decide(scores, region, order), mentioned)


def _score(m: Mention, weight: int, where: tuple[int, int], scores: dict[str, int],
           order: dict[str, tuple[int, int]]) -> None:
    for code in m.entry.countries:
        scores[code] += weight
        if code not in order:
            order[code] = where


def _title_rule(tokens: list[str], mentions: list[Mention], lead_mentions: list[Mention],
                subjects: frozenset[int]) -> Country | None:
    """What the title alone settles: somewhere else (OTHER), or the region (REGION)."""
    counted = [m for m in mentions if m.counts]
    if not counted and any(_is_elsewhere(tokens, m, lead_mentions, subjects)
                           for m in mentions):
        return Country.OTHER
    named = {c for m in counted if m.entry.naming for c in m.entry.countries}
    if len(named) >= 3:
        return Country.REGION
    regions = [m for m in counted if m.entry.kind is Kind.REGION]
    if not regions or named:
        return None
    has_place = any(m.entry.kind is not Kind.REGION for m in counted)
    qualifies = all(_qualifies(tokens, m) for m in regions)
    if qualifies and has_place and not _EVENTS.intersection(tokens):
        return None  # "la capitale du ski d'Asie centrale": the place is the subject
    return Country.REGION


def _is_elsewhere(tokens: list[str], m: Mention, lead_mentions: list[Mention],
                  subjects: frozenset[int]) -> bool:
    """A title mention that puts the story abroad: a diaspora, a place abroad that is not
    a mere venue ("à Riyad"), or a foreign adjective when the lead has nothing of ours but
    the region."""
    if m.diaspora:
        return True
    if m.entry.kind is Kind.FOREIGN:  # the title's subject: "Russie : …", "La Chine …"
        start = m.position
        while start > 0 and tokens[start - 1] in _ARTICLES:
            start -= 1
        return start in subjects
    if m.entry.kind is Kind.FOREIGN_DEMONYM:
        return not any(n.counts and n.entry.kind is not Kind.REGION for n in lead_mentions)
    return False


def _qualifies(tokens: list[str], m: Mention) -> bool:
    """Is this region mention a complement ("d'Asie centrale", "en Asie centrale")?"""
    return m.entry.kind is Kind.REGION and _word_before(tokens, m.position) in _QUALIFIERS


def _word_before(tokens: list[str], position: int) -> str:
    """The word before `position`, looking past articles: "de l'Asie" → "de"."""
    j = position - 1
    while j >= 0 and tokens[j] in _ARTICLES:
        j -= 1
    return tokens[j] if j >= 0 else ""


def _decide(ours: dict[str, int], region: int, order: dict[str, tuple[int, int]]) -> Country:
    best = max(ours.values())
    if region > best:
        return Country.REGION
    top = [c for c, score in ours.items() if score == best]
    if region == best:
        top.append(_REGION)
    if len([c for c in top if c != _REGION]) >= 3:
        return Country.REGION
    top.sort(key=lambda c: order[c])
    if len(top) > 1 and (order[top[0]] == order[top[1]] or order[top[0]][0] == 1):
        # one shared place and nothing else to tell them apart, or two of the five only
        # in the lead: the region
        return Country.REGION
    return _COUNTRIES[top[0]]
