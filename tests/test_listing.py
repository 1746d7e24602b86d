"""The newsroom's title/lead listing: pairing, repairs, and what it refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import BotError
from bot.ingest.listing import pair_lines, parse_listing
from bot.ingest.parsed import ParseResult
from bot.ingest.source import Source
from tests.conftest import SAMPLE

TITLE = "Le Kazakhstan inaugure une ligne ferroviaire vers la Chine"
LEAD = ("Le nouveau tronçon, long de 800 kilomètres, relie Dostyk à Moïynty. Il doit "
        "doubler les capacités de transit entre l’Asie et l’Europe d’ici 2027.")


def parse(data: bytes | str, name: str = "articles.txt") -> ParseResult:
    raw = data.encode() if isinstance(data, str) else data
    return parse_listing(Source(name, raw, Path()))


def test_the_sample_gives_21_articles_the_first_without_title() -> None:
    result = parse(SAMPLE.read_bytes())
    assert result.errors == []
    assert len(result.drafts) == 21
    first = result.drafts[0]
    assert first.needs_review == "no title"
    assert first.title == ("Le 29 août n’est pas une simple journée commémorative pour le "
                           "monde entier")
    assert first.lead.startswith("Le 29 août n’est pas")
    assert [d.needs_review for d in result.drafts[1:]] == [None] * 20
    second = result.drafts[1]
    assert second.title.startswith("Sommet de Bichkek")
    assert second.lead.startswith("Le sommet Tokaïev–Japarov")
    assert second.location == "articles.txt:2"
    assert result.drafts[-1].location == "articles.txt:40"


def test_crlf_bom_blank_lines_and_no_final_newline_change_nothing() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    messy = "\ufeff" + "\r\n\r\n".join(text.splitlines()).rstrip("\n")
    plain = [(d.title, d.lead) for d in parse(text).drafts]
    assert [(d.title, d.lead) for d in parse(messy).drafts] == plain


def test_a_cut_teaser_keeps_its_text_without_the_mark() -> None:
    result = parse(f"{TITLE}\nLe tronçon relie Dostyk à Moïynty, et puis… [...]\n")
    assert result.drafts[0].lead == "Le tronçon relie Dostyk à Moïynty, et puis…"


def test_titles_ending_like_leads_are_still_paired_by_position() -> None:
    lines = ["Astana vote enfin.", "Le parlement a adopté la loi.",
             "Qui gouverne à Bichkek ?", "Une question posée par tous.",
             "Tachkent accélère !", "Le métro s’étend."]
    result = parse("\n".join(lines))
    assert [(d.title, d.lead) for d in result.drafts] == list(zip(lines[::2], lines[1::2],
                                                                  strict=True))
    assert all(d.needs_review is None for d in result.drafts)


def test_a_missing_title_in_the_middle_does_not_shift_the_others() -> None:
    lines = [TITLE, LEAD, LEAD.replace("800", "900"), "Douchanbé rénove son opéra",
             "Les travaux dureront deux ans et coûteront 40 millions de dollars."]
    result = parse("\n".join(lines))
    assert [(d.title[:12], d.needs_review) for d in result.drafts] == [
        (TITLE[:12], None), ("Le nouveau t", "no title"), ("Douchanbé ré", None)]
    assert result.drafts[1].location == "articles.txt:3"


def test_a_title_with_no_lead_at_the_end_is_an_error_naming_its_line() -> None:
    result = parse(f"{TITLE}\n{LEAD}\n\nDouchanbé rénove son opéra\n")
    assert [str(e) for e in result.errors] == [
        "articles.txt:4: a title with no lead after it"]
    assert len(result.drafts) == 1


def test_a_control_character_rejects_its_record_only() -> None:
    result = parse(f"{TITLE}\n{LEAD}\nTitre\x07 cassé à Och\n{LEAD}\n")
    assert [str(e) for e in result.errors] == [
        "articles.txt:3: control character U+0007 in the text"]
    assert [d.title for d in result.drafts] == [TITLE]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "articles.txt:1: empty file, nothing to import"),
    (b"\n \n\t\n", "articles.txt:1: empty file, nothing to import"),
    (b"Titre\nLead\x00\x01\x02", "articles.txt:2: binary data (a NUL byte), expected text"),
    ("Titre\nChapô\nUn\n".encode() + b"caf\xe9 cr\xe8me\n",
     "articles.txt:4: invalid UTF-8 at column 4 (byte 19); save the file as UTF-8"),
    (f"{TITLE}\n{'x' * 20_001}\n".encode(),
     "articles.txt:2: line of 20,001 characters, over the 20,000 limit; is this the right file?"),
])
def test_unusable_files_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(BotError) as caught:
        parse(data)
    assert str(caught.value) == message


def test_pairing_is_linear_and_covers_every_line() -> None:
    lines = [TITLE, LEAD] * 50_000
    records = pair_lines(lines)
    assert [i for record in records for i in record] == list(range(100_000))
    assert all(len(r) == 2 for r in records)


_LOCATED = re.compile(r"^articles\.txt:\d+: ")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.lists(st.text(max_size=80), max_size=12).map("\n".join),
                 st.lists(st.sampled_from([TITLE, LEAD, "", "…", "Och ?", "\r", "x" * 300]),
                          max_size=9).map("\n".join)))
def test_any_input_gives_drafts_or_our_error_with_a_line_number(data: bytes | str) -> None:
    try:
        result = parse(data)
    except BotError as exc:
        assert _LOCATED.match(str(exc)), str(exc)
        return
    for error in result.errors:
        assert _LOCATED.match(str(error)), str(error)
    for draft in result.drafts:
        assert draft.title.strip() and draft.lead.strip()
        assert _LOCATED.match(draft.location + ": ")
