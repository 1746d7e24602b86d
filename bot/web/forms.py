"""The web pages' forms, read defensively: a body of at most `MAX_BODY` bytes, URL-encoded
or multipart without files, and only the sections a page offers. Anything else is an
`HTTPException(400)`, which the site answers with a French page."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive

from bot.errors import InputError
from bot.model import FIVE, Country

MAX_BODY = 10 * 1024  # bytes; a form of these pages is well under 1 KB
MAX_FIELDS = 20
SECTIONS: tuple[Country, ...] = (Country.REGION, *FIVE)  # what a reader can choose
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def read_body(request: Request) -> bytes:
    """The whole body, refused (400) past `MAX_BODY` bytes without reading further."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise HTTPException(400, "body too large")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(400, "body too large")
    except ClientDisconnect:
        raise HTTPException(400, "client went away") from None
    return bytes(body)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A form, URL-encoded or multipart (no files), of at most `MAX_BODY` bytes; 400
    for anything else. No body and no type is an empty form."""
    body = await read_body(request)
    kind = media_type(request)
    try:
        if kind == "application/x-www-form-urlencoded" or (not kind and not body):
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=MAX_FIELDS, errors="strict")
        elif kind == "multipart/form-data":
            form = await Request(request.scope, replay(body)).form(
                max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_BODY)
            pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        else:
            raise HTTPException(400, f"not a form: {kind[:40]!r}")
    except (ValueError, KeyError) as exc:  # bad UTF-8, too many fields, a broken multipart
        raise HTTPException(400, f"unreadable form: {type(exc).__name__}") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def replay(body: bytes) -> Receive:
    """A `receive` that hands over a body already read."""
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


def ticked_sections(fields: dict[str, list[str]]) -> frozenset[Country]:
    """The sections whose boxes a form ticked; `InputError` for a section not offered."""
    known = {c.value: c for c in SECTIONS}
    codes = set(fields.get("countries", []))
    if not codes <= known.keys():
        raise InputError("unknown section")
    return frozenset(known[code] for code in codes)


def followed(ticked: frozenset[Country]) -> frozenset[Country]:
    """What a reader follows: none ticked, or all six, mean every section (`Autres` too)."""
    return frozenset() if ticked == frozenset(SECTIONS) else ticked


def boxes(ticked: Collection[Country]) -> list[tuple[Country, bool]]:
    """The six sections, each with whether its box is ticked."""
    return [(c, c in ticked) for c in SECTIONS]
