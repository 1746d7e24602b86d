"""HTML fragments (feed summaries) reduced to plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")  # not the blank ones

_BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                     "blockquote", "tr", "td", "th", "table", "section", "article", "figure"})
_SKIPPED = frozenset({"script", "style", "head", "title", "noscript", "template"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded, white space folded, control
    characters (invisible garbage in a feed) dropped."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return " ".join(_CONTROLS.sub("", "".join(collector.parts)).split())
