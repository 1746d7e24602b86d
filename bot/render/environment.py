"""The Jinja2 environments: one per locale and override folder, templates from `templates/`
(see `bot.shipped`).

A newsroom's override folder (`BOT_TEMPLATES_DIR`) is searched first: a file there replaces the
shipped one of the same relative name (`email/masthead.mjml.j2`, `web/base.html.j2`), and every
other name still comes from the shipped templates. Autoescape goes by the name, so it is on for
every markup template (`.mjml.j2`, `.html.j2`), overridden or not, and off for plain text.
Article content only ever enters as variables: it is never compiled as a template.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.model import Country
from bot.render.i18n import country_name, normalize_locale, translations
from bot.render.typography import french_typography
from bot.shipped import templates_dir


@functools.cache
def environment(locale: str, overrides: Path | None = None) -> Environment:
    """The environment of `locale`; templates in `overrides` win over the shipped ones."""
    locale = normalize_locale(locale)
    folders = [*([overrides] if overrides is not None else []), templates_dir()]
    env = Environment(loader=FileSystemLoader(folders), autoescape=select_autoescape(
        enabled_extensions=("mjml.j2", "html.j2"), disabled_extensions=("txt.j2",),
        default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        country=lambda c: country_name(c, locale),
        flag=lambda c: Country(c).flag,
        wrap=wrap,
        typography=(french_markup if locale == "fr" else lambda text: text),
    )
    env.globals.update(locale=locale)
    return env


def french_markup(text: str) -> str:
    """French typography for a sentence of a page, escaped or not: it only adds no-break
    spaces, so escaped text stays escaped (and `&#39;` stays an entity)."""
    if isinstance(text, Markup):
        return Markup(french_typography(str(text)))  # noqa: S704 - already escaped
    return french_typography(text)


def wrap(text: str, width: int = 72) -> str:
    """Fold at `width` columns on ordinary spaces (no-break spaces hold, long URLs stay)."""
    return textwrap.fill(text, width=width, break_long_words=False, break_on_hyphens=False)
