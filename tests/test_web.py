"""The readers' web pages: Starlette's TestClient (and, for raw paths and logs, a real uvicorn)
over a real SQLite store in tmp_path and the outbox transport in tmp_path.

Long because every page is tested against the same app, store and clock fixtures: routes,
tokens, form limits, headers and logs.

Subscribe, confirm, unsubscribe (RFC 8058), preferences, the archive; the same answer for
every address; tokens checked for purpose and tampering; hostile forms and paths refused
with a French page and the store left as it was; nothing secret in any log line."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from bot.model import Country, Status, Subscriber
from bot.store import open_store
from bot.tokens import sign
from bot.web import RESEND_AFTER
from tests.conftest import NOW, SAMPLE, Bot
from tests.web_server import SECRET, Clock, fetch, live_site, site_app

with warnings.catch_warnings():
    # Starlette 1.10 prefers httpx2, and warns when its TestClient falls back to httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SITE = "http://testserver"
CHECK_INBOX = "Vérifiez votre boîte de réception"
FRENCH_PAGE = '<html lang="fr">'


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sent() -> list[EmailMessage]:
    """Every message the site sent, in order."""
    return []


@pytest.fixture
def client(tmp_path: Path, clock: Clock, sent: list[EmailMessage]) -> Iterator[TestClient]:
    app = site_app(tmp_path, SITE, clock, sent)
    with TestClient(app, base_url=SITE, follow_redirects=False) as test_client:
        yield test_client


# -- helpers ------------------------------------------------------------------------------

def outbox(folder: Path) -> list[EmailMessage]:
    found = sorted((folder / "outbox").glob("*.eml")) if (folder / "outbox").exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in found]


def confirm_path(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.findall(rf"{SITE}(/confirm/\S+)", body.get_content())
    assert len(found) == 1, body.get_content()
    return str(found[0])


def subscriber(tmp_path: Path, address: str) -> Subscriber:
    with open_store(tmp_path / "bot.sqlite3") as store:
        found = [s for s in store.list_subscribers() if s.address == address]
    assert len(found) == 1, address
    return found[0]


def token(purpose: str, reader: Subscriber) -> str:
    return sign(SECRET, purpose, reader.id, reader.address)


def add_active(bot: Bot, address: str, countries: str | None = None) -> None:
    args = ["subscribers", "add", address] + (["--countries", countries] if countries else [])
    result = bot(*args)
    assert result.exit_code == 0, result.stderr


def listing(bot: Bot) -> str:
    result = bot("subscribers", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def subscribe(client: TestClient, address: str, *countries: str) -> str:
    response = client.post("/subscribe", data={"email": address, "countries": list(countries)})
    assert response.status_code == 200, response.text
    return response.text


# -- subscribing --------------------------------------------------------------------------

def test_the_front_page_is_a_french_form_of_the_six_sections(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert FRENCH_PAGE in page.text and "font-family: Georgia" in page.text
    assert '<form method="post" action="subscribe">' in page.text
    assert 'type="email" id="email" name="email"' in page.text
    boxes = re.findall(r'<input type="checkbox" name="countries" value="(\w+)"( checked)?>'
                       r'<span aria-hidden="true">(\S+)</span> ([^<]+)</label>', page.text)
    assert boxes == [("REGION", "", "🌏", "Asie centrale"), ("KZ", "", "🇰🇿", "Kazakhstan"),
                     ("KG", "", "🇰🇬", "Kirghizstan"), ("UZ", "", "🇺🇿", "Ouzbékistan"),
                     ("TJ", "", "🇹🇯", "Tadjikistan"), ("TM", "", "🇹🇲", "Turkménistan")]
    assert "Aucune case cochée\u00a0: vous recevez toutes les rubriques" in page.text


def test_subscribe_then_confirm(client: TestClient, tmp_path: Path, clock: Clock) -> None:
    page = subscribe(client, " Lecteur@Example.ORG ", "KZ", "UZ")
    assert CHECK_INBOX in page
    reader = subscriber(tmp_path, "lecteur@example.org")
    assert (reader.status, reader.consent_source, reader.locale) == (Status.PENDING, "web", "fr")
    assert reader.countries == {Country.KZ, Country.UZ}
    [message] = outbox(tmp_path)
    assert message["To"] == "lecteur@example.org"
    assert message["Subject"] == "Confirmez votre abonnement à Nouvelles d'Asie centrale"
    link = confirm_path(message)
    assert link == f"/confirm/{token('confirm', reader)}"

    clock.advance(minutes=3)
    confirmed = client.get(link)
    assert confirmed.status_code == 200
    assert "<h1>Abonnement confirmé</h1>" in confirmed.text
    assert f'href="../preferences/{token("preferences", reader)}"' in confirmed.text
    active = subscriber(tmp_path, "lecteur@example.org")
    assert active.status is Status.ACTIVE
    assert active.confirmed_at == clock.now

    clock.advance(minutes=3)
    again = client.get(link)  # idempotent: same page, confirmation time kept
    assert again.status_code == 200 and again.text == confirmed.text
    assert subscriber(tmp_path, "lecteur@example.org") == active
    assert len(outbox(tmp_path)) == 1


def test_none_or_all_six_sections_mean_every_section(client: TestClient,
                                                     tmp_path: Path) -> None:
    subscribe(client, "aucune@example.org")
    subscribe(client, "toutes@example.org", "REGION", "KZ", "KG", "UZ", "TJ", "TM")
    assert subscriber(tmp_path, "aucune@example.org").countries == frozenset()
    assert subscriber(tmp_path, "toutes@example.org").countries == frozenset()


def test_the_same_answer_whatever_the_address(client: TestClient, tmp_path: Path, bot: Bot,
                                              clock: Clock, sent: list[EmailMessage]) -> None:
    add_active(bot, "active@example.org")
    subscribe(client, "pending@example.org")
    add_active(bot, "parti@example.org")
    bot("subscribers", "remove", "parti@example.org")
    del sent[:]
    answers = {address: subscribe(client, address) for address in (
        "new@example.org", "pending@example.org", "active@example.org", "parti@example.org")}
    assert len(set(answers.values())) == 1
    assert CHECK_INBOX in answers["new@example.org"]
    # The pending address asked less than RESEND_AFTER ago; the active one needs nothing.
    assert [m["To"] for m in sent] == ["new@example.org", "parti@example.org"]
    assert subscriber(tmp_path, "active@example.org").status is Status.ACTIVE
    assert subscriber(tmp_path, "parti@example.org").status is Status.PENDING
    clock.advance(seconds=RESEND_AFTER.total_seconds())
    assert subscribe(client, "pending@example.org") == answers["new@example.org"]
    assert [m["To"] for m in sent] == ["new@example.org", "parti@example.org",
                                       "pending@example.org"]
    assert confirm_path(sent[-1]) == confirm_path(outbox(tmp_path)[0])  # the same link again


def test_only_confirming_reactivates_an_unsubscribed_reader(client: TestClient, tmp_path: Path,
                                                            bot: Bot) -> None:
    subscribe(client, "retour@example.org", "TJ")
    [message] = outbox(tmp_path)
    assert client.get(confirm_path(message)).status_code == 200
    reader = subscriber(tmp_path, "retour@example.org")
    assert client.post(f"/unsubscribe/{token('unsubscribe', reader)}").status_code == 200
    # An old confirm link does not bring back a reader who left.
    stale = client.get(confirm_path(message))
    assert stale.status_code == 200 and "<h1>Abonnement résilié</h1>" in stale.text
    assert subscriber(tmp_path, "retour@example.org").status is Status.UNSUBSCRIBED
    subscribe(client, "retour@example.org", "KG")
    back = subscriber(tmp_path, "retour@example.org")
    assert (back.status, back.countries) == (Status.PENDING, {Country.KG})
    assert len(outbox(tmp_path)) == 1  # the same Message-ID: the outbox file was replaced
    assert client.get(confirm_path(outbox(tmp_path)[0])).status_code == 200
    assert subscriber(tmp_path, "retour@example.org").status is Status.ACTIVE


# -- unsubscribing ------------------------------------------------------------------------

def test_unsubscribe_page_shows_one_button_and_changes_nothing(client: TestClient,
                                                               tmp_path: Path, bot: Bot) -> None:
    add_active(bot, "lecteur@example.org")
    reader = subscriber(tmp_path, "lecteur@example.org")
    page = client.get(f"/unsubscribe/{token('unsubscribe', reader)}")
    assert page.status_code == 200 and FRENCH_PAGE in page.text
    assert page.text.count("<form") == 1 and page.text.count("<button") == 1
    assert '<form method="post">' in page.text  # to this same address
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert ">Me désabonner</button>" in page.text
    assert subscriber(tmp_path, "lecteur@example.org") == reader


@pytest.mark.parametrize("body", ["one-click", "empty", "multipart"])
def test_one_click_unsubscribe(client: TestClient, tmp_path: Path, bot: Bot, clock: Clock,
                               body: str) -> None:
    add_active(bot, "lecteur@example.org")
    reader = subscriber(tmp_path, "lecteur@example.org")
    url = f"/unsubscribe/{token('unsubscribe', reader)}"
    post = {"one-click": lambda: client.post(url, data={"List-Unsubscribe": "One-Click"}),
            "empty": lambda: client.post(url),
            "multipart": lambda: client.post(url, files={"List-Unsubscribe": (None, "One-Click")}),
            }[body]
    clock.advance(hours=1)
    response = post()
    assert response.status_code == 200  # never a redirect
    assert "<h1>Désabonnement enregistré</h1>" in response.text
    gone = subscriber(tmp_path, "lecteur@example.org")
    assert (gone.status, gone.unsubscribed_at) == (Status.UNSUBSCRIBED, clock.now)
    clock.advance(hours=1)
    again = post()
    assert (again.status_code, again.text) == (200, response.text)
    assert subscriber(tmp_path, "lecteur@example.org") == gone  # the first time is kept
    assert "<h1>Désabonnement enregistré</h1>" in client.get(url).text


def test_one_click_post_as_a_mail_provider_sends_it(tmp_path: Path, bot: Bot,
                                                    clock: Clock) -> None:
    """Straight to a real server, with the exact body of RFC 8058 and no cookie."""
    add_active(bot, "lecteur@example.org")
    reader = subscriber(tmp_path, "lecteur@example.org")
    with live_site(tmp_path, clock) as base:
        answer = fetch(base, "POST", f"/unsubscribe/{token('unsubscribe', reader)}",
                       b"List-Unsubscribe=One-Click",
                       {"Content-Type": "application/x-www-form-urlencoded"})
        # The store is read before the next request: the change was made before answering.
        assert subscriber(tmp_path, "lecteur@example.org").status is Status.UNSUBSCRIBED
    assert answer.status == 200 and "set-cookie" not in answer.headers


# -- tokens -------------------------------------------------------------------------------

def test_wrong_tokens_are_404_and_change_nothing(client: TestClient, tmp_path: Path,
                                                 bot: Bot) -> None:
    subscribe(client, "pending@example.org")
    add_active(bot, "active@example.org")
    pending = subscriber(tmp_path, "pending@example.org")
    active = subscriber(tmp_path, "active@example.org")
    before = listing(bot)
    good = token("unsubscribe", active)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    other_id = f"{pending.id}.{good.partition('.')[2]}"
    wrong = [
        ("POST", f"/unsubscribe/{token('confirm', active)}"),
        ("POST", f"/unsubscribe/{token('preferences', active)}"),
        ("POST", f"/unsubscribe/{tampered}"), ("POST", f"/unsubscribe/{other_id}"),
        ("POST", "/unsubscribe/999." + good.partition(".")[2]), ("POST", "/unsubscribe/abc"),
        ("POST", "/unsubscribe/" + "1" * 200), ("GET", f"/unsubscribe/{tampered}"),
        ("GET", f"/confirm/{token('unsubscribe', pending)}"),
        ("GET", f"/confirm/{token('preferences', pending)}"),
        ("GET", f"/confirm/{token('confirm', active)[:-2]}"),
        ("GET", f"/preferences/{token('unsubscribe', active)}"),
        ("POST", f"/preferences/{token('confirm', active)}"),
        ("GET", "/confirm/"), ("GET", "/unsubscribe/"), ("GET", "/confirm/0.x"),
    ]
    for method, path in wrong:
        response = client.request(method, path, data={"countries": "KZ"}
                                  if method == "POST" else None)
        assert response.status_code == 404, (method, path)
        assert FRENCH_PAGE in response.text and "<h1>Page introuvable</h1>" in response.text
    assert listing(bot) == before
    assert len(outbox(tmp_path)) == 1


# -- preferences --------------------------------------------------------------------------

def ticked(html: str) -> list[str]:
    return re.findall(r'name="countries" value="(\w+)" checked', html)


def test_preferences_show_and_save_the_sections(client: TestClient, tmp_path: Path,
                                                bot: Bot) -> None:
    add_active(bot, "lecteur@example.org")
    reader = subscriber(tmp_path, "lecteur@example.org")
    url = f"/preferences/{token('preferences', reader)}"
    page = client.get(url)
    assert page.status_code == 200 and "<h1>Vos rubriques</h1>" in page.text
    assert ticked(page.text) == ["REGION", "KZ", "KG", "UZ", "TJ", "TM"]  # every section
    assert f'href="../unsubscribe/{token("unsubscribe", reader)}"' in page.text
    assert "enregistrées" not in page.text

    saved = client.post(url, data={"countries": ["TJ", "KZ"]})
    assert saved.status_code == 200
    assert "Vos préférences sont enregistrées." in saved.text
    assert ticked(saved.text) == ["KZ", "TJ"]
    assert subscriber(tmp_path, "lecteur@example.org").countries == {Country.KZ, Country.TJ}
    assert ticked(client.get(url).text) == ["KZ", "TJ"]

    refused = client.post(url, data={"countries": ["KZ", "XX"]})
    assert refused.status_code == 400 and "Choisissez vos rubriques dans la liste." in refused.text
    assert subscriber(tmp_path, "lecteur@example.org").countries == {Country.KZ, Country.TJ}

    everything = client.post(url, data={})
    assert everything.status_code == 200 and "enregistrées" in everything.text
    assert subscriber(tmp_path, "lecteur@example.org").countries == frozenset()
    assert subscriber(tmp_path, "lecteur@example.org").status is Status.ACTIVE


def test_preferences_keep_the_other_section_an_editor_gave(client: TestClient, tmp_path: Path,
                                                           bot: Bot) -> None:
    add_active(bot, "lecteur@example.org", "KZ,OTHER")
    reader = subscriber(tmp_path, "lecteur@example.org")
    client.post(f"/preferences/{token('preferences', reader)}", data={"countries": "UZ"})
    assert subscriber(tmp_path, "lecteur@example.org").countries == {Country.UZ, Country.OTHER}


# -- the archive --------------------------------------------------------------------------

@pytest.fixture
def previewed(bot: Bot, tmp_path: Path) -> Path:
    """The sample's week 2025-W14 sent (to nobody) with tmp_path/digests as the archive,
    which its send publishes; its email.html."""
    assert bot("import", str(SAMPLE)).exit_code == 0
    sent = bot("send", "--week", "2025-W14", "--channel", "email",
               BOT_DIGESTS_DIR=str(tmp_path / "digests"))
    assert sent.exit_code == 0, sent.stderr
    return tmp_path / "digests" / "2025-W14" / "email.html"


def test_a_preview_is_not_published(bot: Bot, client: TestClient, tmp_path: Path) -> None:
    assert bot("import", str(SAMPLE)).exit_code == 0
    shown = bot("preview", "--week", "2025-W14", BOT_DIGESTS_DIR=str(tmp_path / "digests"))
    assert shown.exit_code == 0, shown.stderr
    assert (tmp_path / "digests" / "previews" / "2025-W14" / "email.html").is_file()
    assert "Aucune lettre pour l’instant." in client.get("/archive/").text
    for path in ("/archive/2025-W14/", "/archive/previews/", "/archive/previews/2025-W14/"):
        assert client.get(path).status_code == 404, path


def test_the_web_version_has_no_reader_links(previewed: Path) -> None:
    html = previewed.read_text(encoding="utf-8")
    for reader_only in ("Se désabonner", "Gérer mes préférences", "Voir dans le navigateur",
                        "parce que vous y êtes abonné", "%%"):
        assert reader_only not in html, reader_only
    assert '<a href="http://127.0.0.1:8080/" style="color:#0b5cad">S’abonner à la lettre</a>' \
        in html
    text = previewed.with_name("email.txt").read_text(encoding="utf-8")
    assert "Se désabonner" not in text and "S’abonner à la lettre\nhttp://127.0.0.1:8080/" in text


def test_the_archive_lists_the_weeks_and_serves_their_email(client: TestClient,
                                                            previewed: Path) -> None:
    index = client.get("/archive/")
    assert index.status_code == 200 and FRENCH_PAGE in index.text
    assert '<li><a href="2025-W14/">semaine du 31 mars au 6 avril 2025</a> · 3 articles</li>' \
        in index.text
    week = client.get("/archive/2025-W14/")
    assert week.status_code == 200
    assert week.headers["content-type"] == "text/html; charset=utf-8"
    assert week.content == previewed.read_bytes()
    assert client.get("/archive/2025-W15/").status_code == 404
    assert client.get("/archive/2025-W14").status_code in (307, 404)


def test_the_archive_with_nothing_in_it(client: TestClient) -> None:
    index = client.get("/archive/")
    assert index.status_code == 200 and "Aucune lettre pour l’instant." in index.text


def test_no_path_leaves_the_archive(previewed: Path, tmp_path: Path, clock: Clock) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "email.html").write_text("SECRET PAGE")
    (tmp_path / "digests" / "2025-W40").symlink_to(outside)
    paths = ["/archive/../../etc/passwd", "/archive/2025-W14%2F..%2F..",
             "/archive/2025-W14%2F..%2F..%2Fbot.sqlite3/", "/archive/..%2F..%2Fetc%2Fpasswd/",
             "/archive/%2e%2e/", "/archive/../bot.sqlite3", "/archive/2025-W14/../../bot.sqlite3",
             "/archive/2025-W14/digest.json", "/archive/2025-W14/email.txt",
             "/archive/2025-W40/", "/archive/12025-W14/", "/archive/2025-w14/",
             "/archive/2025-W1%E0%A5%AA/",  # a Devanagari 4: \d would take it
             "/archive/2025-W14%00/", "/../bot.sqlite3", "/archive//etc/passwd"]
    with live_site(tmp_path, clock) as base:
        answers = {path: fetch(base, "GET", path) for path in paths}
        control = fetch(base, "GET", "/archive/2025-W14/")
    assert control.status == 200 and control.body == previewed.read_bytes()
    for path, answer in answers.items():
        assert answer.status == 404, (path, answer.status)
        assert FRENCH_PAGE in answer.text, path
        assert "SECRET PAGE" not in answer.text and "root:" not in answer.text


# -- hostile requests ---------------------------------------------------------------------

MULTIPART = "multipart/form-data; boundary=xyz"


def multipart(*parts: tuple[str, str, str]) -> bytes:
    """(name, filename or "", value) parts, boundary `xyz`."""
    out = ""
    for name, filename, value in parts:
        extra = f'; filename="{filename}"' if filename else ""
        out += f'--xyz\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n{value}\r\n'
    return (out + "--xyz--\r\n").encode()


def chunked() -> Iterator[bytes]:
    yield b"email=a%40example.org&junk="
    for _ in range(20):
        yield b"x" * 1024


HOSTILE: dict[str, tuple[str, str, dict[str, object]]] = {
    "CR LF in the address": ("POST", "/subscribe", {"data": {
        "email": "lecteur@example.org\r\nBcc: victime@example.org"}}),
    "LF in the address": ("POST", "/subscribe", {"data": {
        "email": "lecteur@example.org\nBcc:victime@example.org"}}),
    "header injection in the name part": ("POST", "/subscribe", {"data": {
        "email": "\"x\r\nSubject: spam\" <lecteur@example.org>"}}),
    "NUL in the address": ("POST", "/subscribe", {"data": {"email": "lecteur\x00@example.org"}}),
    "a 10 KB address": ("POST", "/subscribe", {"data": {"email": "a" * 10_000 + "@example.org"}}),
    "a body over 10 KB": ("POST", "/subscribe", {"data": {"email": "a" * 11_000 + "@ex.org"}}),
    "a chunked body over 10 KB": ("POST", "/subscribe", {"content": chunked(), "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}),
    "no address": ("POST", "/subscribe", {"data": {"countries": "KZ"}}),
    "an empty address": ("POST", "/subscribe", {"data": {"email": "  "}}),
    "two addresses": ("POST", "/subscribe", {"data": {"email": ["a@example.org",
                                                                 "b@example.org"]}}),
    "a section not offered": ("POST", "/subscribe", {"data": {"email": "a@example.org",
                                                              "countries": "OTHER"}}),
    "no body at all": ("POST", "/subscribe", {}),
    "JSON": ("POST", "/subscribe", {"json": {"email": "a@example.org"}}),
    "plain text": ("POST", "/subscribe", {"content": b"email=a@example.org",
                                          "headers": {"Content-Type": "text/plain"}}),
    "bad UTF-8": ("POST", "/subscribe", {"content": b"email=a%FF%FE@example.org",
                                         "headers": {"Content-Type":
                                                     "application/x-www-form-urlencoded"}}),
    "raw bad UTF-8": ("POST", "/subscribe", {"content": b"email=\xff\xfe@example.org",
                                             "headers": {"Content-Type":
                                                         "application/x-www-form-urlencoded"}}),
    "too many fields": ("POST", "/subscribe", {"content": "&".join(
        f"f{n}=1" for n in range(100)).encode() + b"&email=a%40example.org", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}),
    "multipart with a huge field": ("POST", "/subscribe", {"content": multipart(
        ("email", "", "a@example.org"), ("junk", "", "x" * 20_000)),
        "headers": {"Content-Type": MULTIPART}}),
    "multipart with a file": ("POST", "/subscribe", {"content": multipart(
        ("email", "", "a@example.org"), ("upload", "a.txt", "hello")),
        "headers": {"Content-Type": MULTIPART}}),
    "multipart with no boundary": ("POST", "/subscribe", {"content": multipart(
        ("email", "", "a@example.org")), "headers": {"Content-Type": "multipart/form-data"}}),
    "multipart cut short": ("POST", "/subscribe", {"content": multipart(
        ("email", "", "a@example.org"))[:30], "headers": {"Content-Type": MULTIPART}}),
    "multipart with no name": ("POST", "/subscribe", {
        "content": b"--xyz\r\nContent-Disposition: form-data\r\n\r\na\r\n--xyz--\r\n",
        "headers": {"Content-Type": MULTIPART}}),
    "GET /subscribe": ("GET", "/subscribe", {}),
    "PUT /subscribe": ("PUT", "/subscribe", {"data": {"email": "a@example.org"}}),
    "DELETE /": ("DELETE", "/", {}),
    "POST /archive/": ("POST", "/archive/", {}),
    "POST /confirm": ("POST", "/confirm/{confirm}", {}),
    "PUT /unsubscribe": ("PUT", "/unsubscribe/{unsubscribe}", {}),
    "JSON to /unsubscribe": ("POST", "/unsubscribe/{unsubscribe}", {
        "json": {"List-Unsubscribe": "One-Click"}}),
    "a huge one-click body": ("POST", "/unsubscribe/{unsubscribe}", {"data": {
        "List-Unsubscribe": "One-Click", "x": "y" * 20_000}}),
    "JSON to /preferences": ("POST", "/preferences/{preferences}", {"json": {"countries": []}}),
    "unknown section in /preferences": ("POST", "/preferences/{preferences}", {"data": {
        "countries": "../../etc"}}),
    "multipart file to /preferences": ("POST", "/preferences/{preferences}", {
        "content": multipart(("countries", "c.txt", "KZ")),
        "headers": {"Content-Type": MULTIPART}}),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_requests_get_a_french_page_and_change_nothing(
        case: str, client: TestClient, tmp_path: Path, bot: Bot) -> None:
    add_active(bot, "lecteur@example.org", "KZ")
    reader = subscriber(tmp_path, "lecteur@example.org")
    method, path, request = HOSTILE[case]
    path = path.format(**{p: token(p, reader) for p in ("confirm", "unsubscribe",
                                                          "preferences")})
    before = listing(bot)
    response = client.request(method, path, **request)  # type: ignore[arg-type]
    assert response.status_code in (400, 404, 405), response.status_code
    assert FRENCH_PAGE in response.text
    assert re.search(r"<h1>(Requête invalide|Page introuvable|Action impossible|"
                     r"Recevez la lettre chaque lundi|Vos rubriques)</h1>", response.text)
    if response.status_code == 405:
        assert response.headers["allow"]
    assert listing(bot) == before
    assert outbox(tmp_path) == []


def test_a_bad_address_shows_the_form_again_with_a_french_error(client: TestClient) -> None:
    response = client.post("/subscribe", data={"email": "pas-une-adresse", "countries": "UZ"})
    assert response.status_code == 400
    assert "Cette adresse électronique n’est pas valable\u00a0: vérifiez-la" in response.text
    assert 'value="pas-une-adresse"' in response.text
    assert ticked(response.text) == ["UZ"]


def test_security_headers(client: TestClient, tmp_path: Path, bot: Bot,
                          previewed: Path) -> None:
    add_active(bot, "lecteur@example.org")
    reader = subscriber(tmp_path, "lecteur@example.org")
    unsubscribe = f"/unsubscribe/{token('unsubscribe', reader)}"
    for response in (client.get("/"), client.get(unsubscribe), client.get("/archive/"),
                     client.get("/archive/2025-W14/"), client.get("/nowhere"),
                     client.put("/subscribe"), client.post("/subscribe", json={})):
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "form-action 'self'" in policy and "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "<script" not in response.text
    assert client.get(unsubscribe).headers["cache-control"] == "no-store"


# -- logs ---------------------------------------------------------------------------------

def test_no_token_link_or_address_reaches_a_log_line(
        tmp_path: Path, bot: Bot, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """The whole flow through a real uvicorn, as `bot serve` runs it, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    address = "lecteur.discret@example.org"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with live_site(tmp_path, clock) as base:
        assert fetch(base, "POST", "/subscribe", b"email=lecteur.discret%40example.org"
                     b"&countries=KZ", form).status == 200
        reader = subscriber(tmp_path, address)
        tokens = [token(p, reader) for p in ("confirm", "unsubscribe", "preferences")]
        confirm, unsubscribe, preferences = (f"/{p}/{t}" for p, t in zip(
            ("confirm", "unsubscribe", "preferences"), tokens, strict=True))
        for method, path, body in [
                ("GET", confirm, b""), ("GET", preferences, b""),
                ("POST", preferences, b"countries=UZ"), ("POST", preferences, b"countries=XX"),
                ("GET", unsubscribe, b""), ("POST", unsubscribe, b"List-Unsubscribe=One-Click"),
                ("POST", unsubscribe, b"List-Unsubscribe=One-Click"),
                ("GET", confirm[:-3] + "abc", b""), ("POST", unsubscribe + "x", b""),
                ("PUT", unsubscribe, b""), ("POST", preferences, b"x" * 11_000),
                ("GET", f"/archive/..%2F{tokens[1]}/", b""),
                ("POST", "/subscribe", b"email=" + address.encode() + b"%0D%0ABcc:x@y.org")]:
            assert fetch(base, method, path, body, form).status < 500
        time.sleep(0.2)  # the server thread's last log lines
    assert subscriber(tmp_path, address).status is Status.UNSUBSCRIBED
    secrets = [*tokens, *(t.partition(".")[2] for t in tokens), address,
               f"{base}/unsubscribe", "lecteur.discret"]
    records = caplog.records
    assert any(r.name.startswith("bot.web") and f"subscriber {reader.id}" in r.getMessage()
               for r in records), "the flow logged nothing about the subscriber"
    assert any("/unsubscribe/{token}" in r.getMessage() for r in records)
    for record in records:
        logged = record.getMessage() + (record.exc_text or "")
        leaked = [s for s in secrets if s.lower() in logged.lower()]
        assert leaked == [], f"{record.name} {record.levelname}: {logged}"


# -- bot serve ----------------------------------------------------------------------------

@pytest.mark.slow
def test_bot_serve_serves_until_stopped(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BOT_", "SMTP_", "MAIL_", "TELEGRAM_"))}
    env.update(BOT_DATABASE=str(tmp_path / "bot.sqlite3"), BOT_WEB_HOST="127.0.0.1",
               BOT_WEB_PORT=str(port), BOT_PUBLIC_URL="https://lettre.example.fr",
               BOT_OUTBOX=str(tmp_path / "outbox"))
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path,
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = fetch(f"http://127.0.0.1:{port}", "GET", "/")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "bot serve did not answer"
                time.sleep(0.1)
        assert page.status == 200 and "Recevez la lettre chaque lundi" in page.text
        assert "server" not in page.headers
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=20)
    assert server.returncode == 0, stderr
    assert f"serving the readers' pages on http://127.0.0.1:{port}/ (links in mails point " \
           "at https://lettre.example.fr/)" in stderr
    assert "GET / 200" in stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
