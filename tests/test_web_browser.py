"""The readers' pages in a real browser: Debian's Chromium, driven by Playwright, against the
site on a real uvicorn (127.0.0.1, a free port, in a thread, stopped after each test).

- The subscribe form submits and shows its answer; the store and the outbox have the request.
- The unsubscribe page's one button unsubscribes.
- The archive lists the sample's week, and its link opens that week's email.
- The pages at 320 px do not scroll sideways, and every text has a WCAG contrast of at least
  4.5 in light and dark mode; the Content-Security-Policy blocks nothing the pages use.

Without /usr/bin/chromium the tests skip, except under `CI=true` where they fail, exactly as
in tests/test_email_browser.py. Playwright never downloads a browser; the network beyond the
site is shut.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from bot.model import Country, Status
from bot.store import open_store
from bot.tokens import sign
from tests.conftest import NOW, SAMPLE, Bot
from tests.test_email_browser import CONTRAST_JS, MIN_CONTRAST
from tests.web_server import SECRET, Clock, live_site

PHONE = 320




@pytest.fixture
def sent() -> list[EmailMessage]:
    return []


@pytest.fixture
def site(tmp_path: Path, sent: list[EmailMessage]) -> Iterator[str]:
    with live_site(tmp_path, Clock(NOW), sent) as base:
        yield base


@contextmanager
def opened(browser: Browser, base: str, path: str, width: int = 1024,
           scheme: Literal["light", "dark"] = "light") -> Iterator[tuple[Page, list[str]]]:
    """(a page showing `base + path`, the console errors it logs); only the site is
    reachable."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    errors: list[str] = []
    try:
        context.route(re.compile(rf"^(?!{re.escape(base)}/)"), lambda route: route.abort())
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if _is_error(m) else None)
        page.emulate_media(color_scheme=scheme)
        page.goto(base + path)
        yield page, errors
    finally:
        context.close()


def _is_error(message: ConsoleMessage) -> bool:
    return message.type == "error"


def test_the_subscribe_form_submits(browser: Browser, site: str, tmp_path: Path,
                                    sent: list[EmailMessage]) -> None:
    with opened(browser, site, "/") as (page, errors):
        page.get_by_label("Votre adresse électronique").fill("lectrice@example.org")
        page.get_by_label("Kazakhstan").check()
        page.get_by_label("Tadjikistan").check()
        page.get_by_role("button", name="S’abonner").click()
        page.wait_for_url(f"{site}/subscribe")
        heading = page.locator("h1").inner_text()
        back = page.get_by_role("link", name="Retour à l’accueil").get_attribute("href")
    assert heading == "Vérifiez votre boîte de réception"
    assert back == "./"
    assert errors == []  # nothing refused by the Content-Security-Policy
    with open_store(tmp_path / "bot.sqlite3") as store:
        [reader] = list(store.list_subscribers())
    assert (reader.address, reader.status) == ("lectrice@example.org", Status.PENDING)
    assert reader.countries == {Country.KZ, Country.TJ}
    assert [m["To"] for m in sent] == ["lectrice@example.org"]


def test_the_browser_refuses_a_bad_address_before_sending(browser: Browser, site: str,
                                                          sent: list[EmailMessage]) -> None:
    with opened(browser, site, "/") as (page, _):
        page.get_by_label("Votre adresse électronique").fill("pas une adresse")
        page.get_by_role("button", name="S’abonner").click()
        valid = page.eval_on_selector("#email", "el => el.checkValidity()")
        assert page.url == f"{site}/"
    assert valid is False and sent == []


def test_the_unsubscribe_button_works(browser: Browser, site: str, tmp_path: Path,
                                      bot: Bot) -> None:
    assert bot("subscribers", "add", "lecteur@example.org").exit_code == 0
    with open_store(tmp_path / "bot.sqlite3") as store:
        [reader] = list(store.list_subscribers())
    token = sign(SECRET, "unsubscribe", reader.id, reader.address)
    with opened(browser, site, f"/unsubscribe/{token}") as (page, errors):
        assert page.locator("h1").inner_text() == "Se désabonner"
        page.get_by_role("button", name="Me désabonner").click()
        page.wait_for_selector("text=Désabonnement enregistré")
        url = page.url
    assert url == f"{site}/unsubscribe/{token}" and errors == []
    with open_store(tmp_path / "bot.sqlite3") as store:
        assert store.get_subscriber(reader.id).status is Status.UNSUBSCRIBED


def test_the_archive_opens_the_sample_week(browser: Browser, site: str, tmp_path: Path,
                                           bot: Bot) -> None:
    assert bot("import", str(SAMPLE)).exit_code == 0
    sent = bot("send", "--week", "2025-W14", "--channel", "email",  # publishes the week
               BOT_DIGESTS_DIR=str(tmp_path / "digests"))
    assert sent.exit_code == 0, sent.stderr
    with opened(browser, site, "/archive/") as (page, errors):
        page.get_by_role("link", name="semaine du 31 mars au 6 avril 2025").click()
        page.wait_for_url(f"{site}/archive/2025-W14/")
        title = page.title()
        text = page.locator("body").inner_text()
    assert "semaine du 31 mars au 6 avril 2025" in title
    assert "Asie centrale" in text and "Kazakhstan" in text
    assert errors == []  # the email's inline styles are allowed, nothing else is needed


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/", "/archive/", "/nowhere"])
def test_pages_fit_a_phone_and_read_well(browser: Browser, site: str, path: str,
                                         scheme: Literal["light", "dark"]) -> None:
    with opened(browser, site, path, PHONE, scheme) as (page, errors):
        width = page.evaluate("document.documentElement.scrollWidth")
        results: list[dict[str, Any]] = page.evaluate(CONTRAST_JS)
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert width <= PHONE, "the page scrolls sideways"
    assert family.startswith("Georgia")
    assert len(results) >= 3
    poor = [f"{r['ratio']:.2f} {r['colour']} on {r['background']} {r['element']} "
            f"{r['text']!r}" for r in results if r["ratio"] < MIN_CONTRAST]
    assert poor == [], f"{scheme} mode: contrast under {MIN_CONTRAST}"
    assert [e for e in errors if "Content Security Policy" in e] == []
