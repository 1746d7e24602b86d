"""Telegram's HTML parse mode, as the loopback Bot API double (tests/fakes/telegram.py)
reads it: the tag subset, byte by byte the way tdlib reads it, with tdlib's error texts,
entities and their UTF-16 offsets, and the URL check of links and buttons."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class HtmlError(ValueError):
    """Telegram's "can't parse entities" reason."""


_SPACES = frozenset(b" \t\r\n\v\f")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_TAGS = frozenset({"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
                   "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"})
_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
          "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
          "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "code": "code",
          "pre": "pre"}
_ORDER = ["blockquote", "expandable_blockquote", "pre", "code", "text_link", "text_mention",
          "custom_emoji", "bold", "italic", "underline", "strikethrough", "spoiler"]


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the text
    start: int  # byte position in the text
    expandable: bool = False


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji flag counts 4)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(source: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the text as shown and its entities (UTF-16 offsets),
    read the way tdlib reads it; HtmlError with tdlib's reason when it cannot. `strict`
    refuses an "&" that starts no entity (see the module's docstring)."""
    data = source.encode("utf-8")
    n = len(data)
    text = bytearray()
    utf16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            decoded = _decode_entity(data, i, strict)
            if decoded is not None:
                char, i = decoded
                text += char.encode("utf-8")
                utf16 += 1 if ord(char) <= 0xFFFF else 2
                continue
            if strict:
                raise HtmlError(_bare_ampersand(i))
        if c != ord("<"):
            text.append(c)
            if c & 0xC0 != 0x80:  # the first byte of a character
                utf16 += 2 if c >= 0xF0 else 1
            i += 1
            continue
        begin = i
        i += 1
        if i >= n or data[i] != ord("/"):
            i = _open_tag(data, i, begin, strict, stack, utf16, len(text))
            continue
        if not stack:
            raise HtmlError(f"Unexpected end tag at byte offset {begin}")
        i += 1
        start = i
        while i < n and data[i] != ord(">"):
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed end tag at byte offset {begin}")
        name = bytes(data[start:i]).rstrip(bytes(_SPACES)).lower().decode("utf-8", "replace")
        opened = stack[-1]
        if name and name != opened.tag:
            raise HtmlError(f'Unmatched end tag at byte offset {begin}, expected '
                            f'"</{opened.tag}>", found "</{name}>"')
        i += 1
        stack.pop()
        if utf16 > opened.offset:
            _close(opened, utf16 - opened.offset, bytes(text[opened.start:]).decode(),
                   entities)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        entity.pop("_language", None)
    return text.decode("utf-8"), sorted(entities, key=entity_order)


def _open_tag(data: bytes, i: int, begin: int, strict: bool, stack: list[_Open],
              utf16: int, position: int) -> int:
    """Read a start tag from its name at `i`; push it; return the position after ">"."""
    n = len(data)
    start = i
    while i < n and data[i] not in _SPACES and data[i] != ord(">"):
        i += 1
    if i >= n:
        raise HtmlError(f"Unclosed start tag at byte offset {begin}")
    tag = bytes(data[start:i]).lower().decode("utf-8", "replace")
    if tag not in _TAGS:
        raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {begin}')
    argument = ""
    expandable = False
    spoiler_class = False
    while True:
        while i < n and data[i] in _SPACES:
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if data[i] == ord(">"):
            break
        name_start = i
        while i < n and data[i] not in _SPACES and data[i] not in b"=>":
            i += 1
        attribute = bytes(data[name_start:i]).lower().decode("utf-8", "replace")
        if not attribute:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while i < n and data[i] in _SPACES:
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if data[i] != ord("="):
            if tag == "blockquote" and attribute == "expandable":
                expandable = True
                continue
            raise HtmlError(f'Expected equal sign in declaration of an attribute of the tag '
                            f'"{tag}" at byte offset {begin}')
        i += 1
        while i < n and data[i] in _SPACES:
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if data[i] not in b"'\"":
            token_start = i
            while i < n and ((chr(data[i]).isalnum() and data[i] < 128) or data[i] in b".-"):
                i += 1
            value = bytes(data[token_start:i]).lower().decode()
            if i < n and data[i] not in _SPACES and data[i] != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {token_start}")
        else:
            quote = data[i]
            i += 1
            buffer = bytearray()
            while i < n and data[i] != quote:
                if data[i] == ord("&"):
                    decoded = _decode_entity(data, i, strict)
                    if decoded is not None:
                        buffer += decoded[0].encode("utf-8")
                        i = decoded[1]
                        continue
                    if strict:
                        raise HtmlError(_bare_ampersand(i))
                buffer.append(data[i])
                i += 1
            if i < n:
                i += 1
            value = buffer.decode("utf-8", "replace")
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if (tag, attribute) in {("a", "href"), ("tg-emoji", "emoji-id")}:
            argument = value
        elif tag == "code" and attribute == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif tag == "span" and attribute == "class":
            spoiler_class = value == "tg-spoiler"
    if tag == "span" and not spoiler_class:
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    stack.append(_Open(tag, argument, utf16, position, expandable))
    return i + 1


def _close(opened: _Open, length: int, inner: str, entities: list[dict[str, Any]]) -> None:
    """Add the entity of a closed tag with visible text."""
    entity: dict[str, Any] = {"offset": opened.offset, "length": length}
    tag = opened.tag
    if tag == "a":
        url = checked_url(opened.argument or inner)
        if url is None:
            return  # Telegram drops a link it cannot use, silently
        entity.update(type="text_link", url=url)
    elif tag == "tg-emoji":
        if not re.fullmatch(r"[1-9]\d{0,18}", opened.argument):
            raise HtmlError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=opened.argument)
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if opened.expandable else "blockquote"
    elif tag == "pre":
        entity["type"] = "pre"
        last = entities[-1] if entities else None
        if last is not None and last["type"] == "code" and last["offset"] == opened.offset \
                and last["length"] == length:
            entities.pop()  # <pre><code class="language-x">…</code></pre>: one pre entity
            if last.get("_language"):
                entity["language"] = last["_language"]
    else:
        entity["type"] = _TYPES[tag]
        if tag == "code" and opened.argument:
            entity["_language"] = opened.argument
    entities.append(entity)


def _decode_entity(data: bytes, position: int, strict: bool) -> tuple[str, int] | None:
    """The character an entity at `position` stands for and the position after it, or None
    (tdlib's decode_html_entity; `strict` also wants the ";")."""
    n = len(data)
    end = position + 1
    if end < n and data[end] == ord("#"):
        end += 1
        base = 10
        if end < n and data[end] == ord("x"):  # tdlib: a lower-case x only
            base = 16
            end += 1
        digits = string.hexdigits if base == 16 else string.digits
        first = end
        while end < n and chr(data[end]) in digits:
            end += 1
        if end == first or end - first > 8:
            return None
        code = int(data[first:end], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < n and chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        named = _NAMED.get(bytes(data[position + 1:end]))
        if named is None:
            return None
        char = named
    if end < n and data[end] == ord(";"):
        return char, end + 1
    return None if strict else (char, end)


def _bare_ampersand(position: int) -> str:
    return (f'Character "&" at byte offset {position} does not start an entity ending with '
            '";" (&lt; &gt; &amp; &quot; &#N; &#xN;); escape it as "&amp;"')


def checked_url(url: str) -> str | None:
    """The link Telegram would keep for an <a href> (or a button), or None."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"http", "https", "ftp"}:
        return url if (parts.hostname and "." in parts.hostname.strip(".")) \
            or parts.hostname == "localhost" else None
    if scheme in {"tg", "ton", "tonsite", "mailto"}:
        return url if len(url) > len(scheme) + 1 else None
    if not scheme and re.match(r"[\w-]+(\.[\w-]+)+(:\d+)?(/|$)", url):
        return "http://" + url
    return None


def trim_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Drop leading and trailing whitespace as Telegram does, moving the entities."""
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return text, entities
    left = utf16_length(text[:len(text) - len(text.lstrip(" \t\r\n"))])
    size = utf16_length(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def entity_order(entity: dict[str, Any]) -> tuple[int, int, int]:
    kind = entity["type"]
    return (entity["offset"], -entity["length"],
            _ORDER.index(kind) if kind in _ORDER else len(_ORDER))
