"""The digest as an email: MJML (Jinja2) compiled to HTML by mjml-python, and the plain-text
part. MJML runs once per variant (set of sections); each reader's links are filled in after."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape
from pathlib import Path

from mjml import mjml2html

from bot.digest import Digest, digest_to_json
from bot.errors import ConfigError
from bot.render.blocks import (
    contents,
    contents_label,
    contents_line,
    digest_blocks,
    featured_label,
    preheader,
    title_line,
)
from bot.render.environment import environment
from bot.render.i18n import normalize_locale, week_label

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips a message's HTML beyond this


@dataclass(frozen=True, slots=True)
class Masthead:
    """What the newsroom puts around every digest, from settings."""

    newsletter_name: str
    archive_url: str  # the web version of this week
    postal_address: str = ""
    templates: Path | None = None  # the newsroom's template overrides (BOT_TEMPLATES_DIR)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One variant of a week's email; `personalize` makes a reader's copy of it."""

    subject: str
    preheader: str
    html: str
    text: str
    locale: str
    placeholders: tuple[str, str]  # (unsubscribe, preferences), filled by `personalize`

    def personalize(self, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """(html, text) with this reader's links in place of the placeholders."""
        unsubscribe, preferences = self.placeholders
        text = self.text.replace(unsubscribe, unsubscribe_url).replace(
            preferences, preferences_url)
        return self.personal_html(unsubscribe_url, preferences_url), text

    def personal_html(self, unsubscribe_url: str, preferences_url: str) -> str:
        """The HTML alone with this reader's links."""
        unsubscribe, preferences = self.placeholders
        return self.html.replace(unsubscribe, escape(unsubscribe_url)).replace(
            preferences, escape(preferences_url))


def render_mjml(digest: Digest, masthead: Masthead, locale: str) -> str:
    """The MJML source of the email (kept apart so benchmarks can time compilation)."""
    return _mjml(_context(digest, masthead, locale), masthead, locale)


def render_email(digest: Digest, masthead: Masthead, locale: str = "fr") -> RenderedEmail:
    locale = normalize_locale(locale)
    context = _context(digest, masthead, locale)
    html = mjml2html(_mjml(context, masthead, locale))
    text = environment(locale, masthead.templates).get_template(
        "email/digest.txt.j2").render(context)
    _check_links(html, text, context)
    return RenderedEmail(str(context["subject"]), str(context["preheader"]), html, text, locale,
                         (str(context["unsubscribe_placeholder"]),
                          str(context["preferences_placeholder"])))


def render_web_version(digest: Digest, masthead: Masthead, subscribe_url: str,
                       locale: str = "fr") -> tuple[str, str]:
    """(html, text) of the week as the public archive shows it: the email without any
    reader's links (no "view in the browser", preferences or unsubscribe), and a link to
    subscribe (`subscribe_url`) instead."""
    locale = normalize_locale(locale)
    context = {**_context(digest, masthead, locale), "web_version": True,
               "subscribe_url": subscribe_url}
    html = mjml2html(_mjml(context, masthead, locale))
    text = environment(locale, masthead.templates).get_template(
        "email/digest.txt.j2").render(context)
    for key in ("unsubscribe_placeholder", "preferences_placeholder"):
        if str(context[key]) in html + text:
            raise ConfigError(f"email/footer.mjml.j2 and email/digest.txt.j2 "
                              f"(BOT_TEMPLATES_DIR) must leave {{{{ {key} }}}} out when "
                              "web_version is set: the archive's page belongs to no reader")
    return html, text


def _check_links(html: str, text: str, context: dict[str, object]) -> None:
    """Every reader's email carries their unsubscribe and preferences links: a newsroom's
    template (BOT_TEMPLATES_DIR) that left a placeholder out must not send mail without."""
    for name, part in (("email/footer.mjml.j2", html), ("email/digest.txt.j2", text)):
        for key in ("unsubscribe_placeholder", "preferences_placeholder"):
            if str(context[key]) not in part:
                raise ConfigError(f"{name} (BOT_TEMPLATES_DIR) must keep "
                                  f"{{{{ {key} }}}}: each reader's own link goes there")


def _mjml(context: dict[str, object], masthead: Masthead, locale: str) -> str:
    return environment(locale, masthead.templates).get_template(
        "email/digest.mjml.j2").render(context)


def _context(digest: Digest, masthead: Masthead, locale: str) -> dict[str, object]:
    # Placeholders no article can contain: they are derived from the digest's own text.
    seal = hashlib.sha256(f"{digest_to_json(digest)}{locale}".encode()).hexdigest()[:16]
    blocks = digest_blocks(digest, locale)
    return {
        "unsubscribe_placeholder": f"%%UNSUBSCRIBE-{seal}%%",
        "preferences_placeholder": f"%%PREFERENCES-{seal}%%",
        "subject": title_line(masthead.newsletter_name, digest, locale),
        "preheader": preheader(digest),
        "newsletter_name": masthead.newsletter_name,
        "label": _capitalized(week_label(digest.week, locale)),
        "blocks": blocks,
        "contents": contents(blocks),  # the sections, for the table of contents (HTML)
        "contents_label": contents_label(locale),
        "contents_line": contents_line(blocks, locale),  # the same, as text
        "featured_label": featured_label(locale),
        "archive_url": masthead.archive_url,
        "postal_address": masthead.postal_address,
        "web_version": False,
        "subscribe_url": "",
    }


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
