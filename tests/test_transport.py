"""Email transports: the SMTP relay against a real server on 127.0.0.1 (tests/fakes/smtp.py)
told to refuse, fail or hang up; the outbox folder; and the messages bot.mail builds.

Long because each way a relay fails (refusals, hang-ups, timeouts, logins, SMTPUTF8) is a
case against the same misbehaving server fixture.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import traceback
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.delivery.mail_transport import DeliveryError, Outbox, Smtp, TransportError
from bot.digest import Digest, IsoWeek, Item, Section
from bot.errors import InputError
from bot.mail import (
    DigestMail,
    Sender,
    Wire,
    confirmation_message,
    digest_message,
    message_id,
    wire,
)
from bot.model import Country
from bot.render.email import Masthead, RenderedEmail, render_email
from tests.fakes.smtp import SmtpServer

NAME = "Nouvelles d’Asie centrale"
WEEK = IsoWeek(2025, 34)
NOW = dt.datetime(2025, 8, 25, 6, 0, tzinfo=dt.UTC)
SENDER = Sender(f"{NAME} <lettre@lettre.example.fr>", NAME, "desabonnement@lettre.example.fr")
MASTHEAD = Masthead(NAME, "https://lettre.example.fr/archive/2025-W34/",
                    "Rédaction, 12 rue de l’Exemple, 75011 Paris")
UNSUBSCRIBE = "https://lettre.example.fr/desabonnement?r=7&t=c2lnbmF0dXJl"
PREFERENCES = "https://lettre.example.fr/preferences?r=7&t=c2lnbmF0dXJl"
READER = "lectrice@example.org"
INJECTIONS = ["\r\nBcc: x@y.z", "\nBcc: x@y.z", "\rBcc: x@y.z"]


def _digest() -> Digest:
    day = dt.date(2025, 8, 21)
    kz = Item(1, "Astana inaugure un pont sur l’Ichim", "Le pont relie les deux rives.",
              "https://www.example.fr/kz/pont", day, Country.KZ)
    uz = Item(2, "Tachkent : la foire d’été", "Des artisans de tout l’Ouzbékistan.",
              "https://www.example.fr/uz/foire?a=1&b=2", day, Country.UZ)
    return Digest(WEEK, (), (Section(Country.KZ, (kz,)), Section(Country.UZ, (uz,))))


@pytest.fixture(scope="module")
def rendered() -> RenderedEmail:
    return render_email(_digest(), MASTHEAD)


def digest_for(rendered: RenderedEmail, to: str = READER, subscriber_id: int = 7,
               now: dt.datetime = NOW) -> EmailMessage:
    return digest_message(rendered, SENDER, to, str(WEEK), subscriber_id, UNSUBSCRIBE,
                          PREFERENCES, now)


def note(to: str, n: int = 0) -> EmailMessage:
    """A small message, cheaper than a digest, for the tests that send many."""
    message = EmailMessage()
    message["From"] = "lettre@lettre.example.fr"
    message["To"] = to
    message["Subject"] = f"Message {n}"
    message["Message-ID"] = f"<note.{n}.{to}@lettre.example.fr>"
    message.set_content(f"Bonjour n° {n}")
    return message


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[Smtp]:
    transport = Smtp(smtp_server.url, timeout=5)
    yield transport
    transport.close()


def crlf(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


# -- SMTP: delivery ----------------------------------------------------------------------

def test_a_digest_arrives_byte_for_byte_with_its_headers(smtp_server: SmtpServer, smtp: Smtp,
                                                        rendered: RenderedEmail) -> None:
    message = digest_for(rendered)
    expected = crlf(message)  # also fixes the MIME boundary the transport will send

    smtp.send(message)

    [got] = smtp_server.messages
    assert got.raw == expected
    assert got.mail_from == "lettre@lettre.example.fr"
    assert got.recipients == (READER,)
    assert got.message_id == message_id(str(WEEK), 7, READER, "lettre.example.fr")
    assert got.to == READER
    assert got.subject == rendered.subject
    parsed = got.parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    html, text = rendered.personalize(UNSUBSCRIBE, PREFERENCES)
    assert parts[0].get_content().replace("\r\n", "\n").strip() == text.strip()
    assert parts[1].get_content().replace("\r\n", "\n").strip() == html.strip()
    assert parsed["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}>, <mailto:desabonnement@lettre.example.fr?subject=unsubscribe>")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == f"{NAME} <digest.lettre.example.fr>"
    assert parsed["From"] == SENDER.mail_from


def test_lines_starting_with_a_period_arrive_intact(smtp_server: SmtpServer,
                                                   smtp: Smtp) -> None:
    message = note(READER)
    message.set_content(".\n.. deux points\n.\r\nfin\n.")
    smtp.send(message)
    smtp.send(wire(message))  # the same bytes, given ready-made
    assert [m.raw for m in smtp_server.messages] == [crlf(message)] * 2
    assert "\r\n.. deux points\r\n" in smtp_server.messages[0].parsed().get_content()


def test_one_thread_sends_everything_on_one_connection(smtp_server: SmtpServer,
                                                       smtp: Smtp) -> None:
    messages = [note(f"lecteur{n}@example.org", n) for n in range(20)]
    for message in messages:
        smtp.send(message)

    assert smtp_server.connections == 1
    assert smtp_server.received_ids() == [m["Message-ID"] for m in messages]
    assert set(smtp_server.count_by_recipient().values()) == {1}
    assert len(smtp_server.count_by_recipient()) == 20


def test_each_sending_thread_keeps_its_own_connection(smtp_server: SmtpServer,
                                                      smtp: Smtp) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        start.wait()
        try:
            for n in range(5):
                smtp.send(note(f"lecteur{worker}.{n}@example.org", worker * 10 + n))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert smtp_server.connections == 4
    assert len(smtp.opened) == 4
    assert len(smtp_server.messages) == 20
    assert {m.connection for m in smtp_server.messages} == {1, 2, 3, 4}


def test_a_login_with_the_right_password_delivers(smtp_server: SmtpServer) -> None:
    smtp_server.user, smtp_server.password = "lettre", "p@ss:w/rd%20"  # quoted in the url
    transport = Smtp(smtp_server.url, timeout=5)
    try:
        transport.send(note(READER))
    finally:
        transport.close()
    [got] = smtp_server.messages
    assert got.login == "lettre"
    assert "p@ss" not in transport.describe()


# -- SMTP: failures ----------------------------------------------------------------------

def test_a_550_is_permanent_and_the_connection_goes_on(smtp_server: SmtpServer,
                                                       smtp: Smtp) -> None:
    smtp_server.reject = {"Parti@Example.org"}

    with pytest.raises(DeliveryError) as refused:
        smtp.send(note("parti@example.org"))
    smtp.send(note(READER))

    assert refused.value.temporary is False
    assert "550" in refused.value.reason
    assert smtp_server.count_by_recipient() == {READER: 1}
    assert smtp_server.connections == 1
    assert [(r.command, r.code) for r in smtp_server.refusals] == [("RCPT", 550)]


@pytest.mark.parametrize("command", ["RCPT", "DATA"])
@pytest.mark.parametrize("code", [421, 451])
def test_421_and_451_are_temporary(smtp_server: SmtpServer, smtp: Smtp, command: str,
                                   code: int) -> None:
    smtp_server.failure_codes = (code,)
    if command == "RCPT":
        smtp_server.rcpt_failure_rate = 1.0
    else:
        smtp_server.data_failure_rate = 1.0

    with pytest.raises(DeliveryError) as failed:
        smtp.send(note(READER, 1))
    smtp_server.rcpt_failure_rate = smtp_server.data_failure_rate = 0.0
    smtp.send(note(READER, 2))

    assert failed.value.temporary is True
    assert str(code) in failed.value.reason
    assert [(r.command, r.code) for r in smtp_server.refusals] == [(command, code)]
    assert smtp_server.received_ids() == [note(READER, 2)["Message-ID"]]
    # after a 421 the server hangs up, and the transport opens a new connection
    assert smtp_server.connections == (2 if code == 421 else 1)


def test_a_connection_dropped_mid_message_is_temporary_then_reconnects(
        smtp_server: SmtpServer, smtp: Smtp, rendered: RenderedEmail) -> None:
    smtp_server.drop_rate = 1.0
    with pytest.raises(DeliveryError) as lost:
        smtp.send(digest_for(rendered))
    smtp_server.drop_rate = 0.0
    smtp.send(digest_for(rendered))

    assert lost.value.temporary is True
    assert "connection lost" in lost.value.reason
    assert [(r.command, r.code) for r in smtp_server.refusals] == [("DATA", None)]
    assert len(smtp_server.messages) == 1
    assert smtp_server.connections == 2


def test_random_failures_are_reproducible_and_retries_deliver_each_message_once() -> None:
    def run() -> tuple[list[tuple[str, int | None, tuple[str, ...]]], dict[str, int]]:
        with SmtpServer(seed=34, rcpt_failure_rate=0.2, data_failure_rate=0.2,
                        drop_rate=0.1) as server:
            transport = Smtp(server.url, timeout=5)
            try:
                for n in range(30):
                    for _attempt in range(20):
                        try:
                            transport.send(note(f"lecteur{n}@example.org", n))
                            break
                        except DeliveryError as exc:
                            assert exc.temporary
            finally:
                transport.close()
            return ([(r.command, r.code, r.recipients) for r in server.refusals],
                    dict(server.count_by_recipient()))

    refusals, counts = run()
    assert counts == {f"lecteur{n}@example.org": 1 for n in range(30)}
    assert {code for _, code, _ in refusals} == {421, 451, None}
    assert run() == (refusals, counts)


def test_a_server_down_is_temporary_cannot_connect_until_it_is_back(
        smtp_server: SmtpServer, smtp: Smtp) -> None:
    url = smtp_server.url
    smtp_server.stop()

    with pytest.raises(DeliveryError) as down:
        smtp.send(note(READER, 1))
    smtp_server.start()
    smtp.send(note(READER, 2))

    assert down.value.temporary is True
    assert "cannot connect" in down.value.reason
    assert smtp_server.url == url
    assert smtp_server.received_ids() == [note(READER, 2)["Message-ID"]]


def test_a_server_restarted_under_an_open_connection_costs_one_temporary_failure(
        smtp_server: SmtpServer, smtp: Smtp) -> None:
    smtp.send(note(READER, 1))
    smtp_server.stop()
    smtp_server.start()

    with pytest.raises(DeliveryError) as stale:
        smtp.send(note(READER, 2))
    smtp.send(note(READER, 3))

    assert stale.value.temporary is True
    assert smtp_server.received_ids() == [note(READER, n)["Message-ID"] for n in (1, 3)]


def test_a_wrong_password_stops_the_transport_without_showing_it(
        smtp_server: SmtpServer) -> None:
    smtp_server.user, smtp_server.password = "lettre", "le-bon-mot-de-passe"
    wrong = "Mauvais-Secret-42"
    transport = Smtp(f"smtp://lettre:{wrong}@127.0.0.1:{smtp_server.port}", timeout=5)

    with pytest.raises(TransportError) as refused:
        transport.send(note(READER))
    transport.close()

    told = "".join(traceback.format_exception(refused.value)) + repr(refused.value)
    assert wrong not in told
    assert "535" in str(refused.value)
    assert wrong not in transport.describe()
    assert smtp_server.messages == []
    assert {r.command for r in smtp_server.refusals} == {"AUTH"}


def test_without_the_password_the_server_refuses_the_mail(smtp_server: SmtpServer) -> None:
    smtp_server.user, smtp_server.password = "lettre", "le-bon-mot-de-passe"
    transport = Smtp(f"smtp://127.0.0.1:{smtp_server.port}", timeout=5)
    with pytest.raises(DeliveryError) as refused:
        transport.send(note(READER))
    transport.close()
    assert "530" in refused.value.reason
    assert smtp_server.messages == []


# -- the outbox --------------------------------------------------------------------------

def test_the_outbox_writes_one_file_per_message_id_and_replaces_it(
        tmp_path: Path, rendered: RenderedEmail) -> None:
    folder = tmp_path / "outbox"
    first = digest_for(rendered)
    again = digest_for(rendered, now=NOW + dt.timedelta(hours=1))  # same Message-ID
    assert first["Message-ID"] == again["Message-ID"]
    name = first["Message-ID"].strip("<>") + ".eml"

    Outbox(folder).send(first)
    assert [p.name for p in folder.iterdir()] == [name]
    assert (folder / name).read_bytes() == first.as_bytes()
    Outbox(folder).send(again)
    Outbox(folder).send(note(READER))

    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [name, note(READER)["Message-ID"].strip("<>") + ".eml"])
    assert (folder / name).read_bytes() == again.as_bytes()
    assert (folder / name).read_bytes() != first.as_bytes()


def test_an_outbox_that_cannot_be_written_stops_the_transport(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    outbox = Outbox(tmp_path / "a-file" / "outbox")
    with pytest.raises(TransportError) as failed:
        outbox.send(note(READER))
    assert "cannot write the outbox" in str(failed.value)
    assert str(tmp_path / "a-file" / "outbox") in str(failed.value)


# -- the messages ------------------------------------------------------------------------

def _same_boundary(data: bytes) -> bytes:
    return re.sub(rb"===============\d+==", b"BOUNDARY", data)


SPLICE_CASES = {
    "a reader": (READER, UNSUBSCRIBE, PREFERENCES),
    "atext in the address": ("o'brien+lettre_1~x@sous.domaine.example.org", UNSUBSCRIBE,
                             PREFERENCES),
    "a 254-character address": ("l" * 64 + "@" + ".".join(["d" * 60] * 3) + ".example",
                                UNSUBSCRIBE, PREFERENCES),
    "a non-ASCII address": ("josé@exemple.fr", UNSUBSCRIBE, PREFERENCES),
    "links of 1,500 characters": (READER, UNSUBSCRIBE + "x" * 1500, PREFERENCES + "y" * 1500),
    "links with & and <": (READER, UNSUBSCRIBE + "&a=<b>", PREFERENCES + "&c='d'"),
}


@pytest.mark.parametrize("case", SPLICE_CASES)
def test_a_spliced_copy_is_the_message_digest_message_builds(rendered: RenderedEmail,
                                                             case: str) -> None:
    to, unsubscribe, preferences = SPLICE_CASES[case]
    mail = DigestMail(rendered, SENDER, str(WEEK))
    assert mail.spliceable
    for subscriber_id, now in ((7, NOW), (123456, NOW + dt.timedelta(days=3, seconds=7))):
        spliced = mail.message(to, subscriber_id, unsubscribe, preferences, now)
        built = wire(digest_message(rendered, SENDER, to, str(WEEK), subscriber_id,
                                    unsubscribe, preferences, now))
        assert _same_boundary(spliced.data) == _same_boundary(built.data)
        assert (spliced.mail_from, spliced.to, spliced.message_id) == (
            built.mail_from, built.to, built.message_id)


def test_the_sample_week_splices_for_every_language(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from bot.archive import digest_for_week
    from bot.ingest import load
    from bot.store import open_store
    from tests.conftest import SAMPLE
    paris, week = ZoneInfo("Europe/Paris"), IsoWeek(2025, 14)
    with open_store(tmp_path / "store.db") as store:
        store.insert_articles(list(load(str(SAMPLE), None, paris, NOW.date()).articles()), NOW)
        digest = digest_for_week(store, week, NOW, paris).digest
    for locale in ("fr", "en", "ru"):
        variant = render_email(digest, MASTHEAD, locale)
        mail = DigestMail(variant, SENDER, str(week))
        spliced = mail.message(READER, 3, UNSUBSCRIBE, PREFERENCES, NOW)
        built = wire(digest_message(variant, SENDER, READER, str(week), 3, UNSUBSCRIBE,
                                    PREFERENCES, NOW))
        assert mail.spliceable and _same_boundary(spliced.data) == _same_boundary(built.data)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_spliced_copy_takes_no_line_break(rendered: RenderedEmail, injection: str) -> None:
    mail = DigestMail(rendered, SENDER, str(WEEK))
    with pytest.raises(InputError, match="line break"):
        mail.message(READER + injection, 7, UNSUBSCRIBE, PREFERENCES, NOW)
    with pytest.raises(InputError, match="line break"):
        mail.message(READER, 7, UNSUBSCRIBE + injection, PREFERENCES, NOW)


def test_a_non_ascii_address_goes_out_with_smtputf8(smtp_server: SmtpServer, smtp: Smtp,
                                                    rendered: RenderedEmail) -> None:
    to = "josé@exemple.fr"
    message = DigestMail(rendered, SENDER, str(WEEK)).message(to, 7, UNSUBSCRIBE,
                                                               PREFERENCES, NOW)
    assert isinstance(message, Wire)
    smtp.send(message)
    [got] = smtp_server.messages
    assert got.recipients == (to,)
    assert got.to == to
    assert got.raw == message.data


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("where", ["subject", "to", "mail_from", "newsletter_name",
                                   "mail_unsubscribe", "unsubscribe_url"])
def test_no_header_takes_a_line_break(rendered: RenderedEmail, where: str,
                                      injection: str) -> None:
    sender, to, unsubscribe = SENDER, READER, UNSUBSCRIBE
    if where == "subject":
        rendered = dataclasses.replace(rendered, subject=rendered.subject + injection)
    elif where == "to":
        to = READER + injection
    elif where == "unsubscribe_url":
        unsubscribe = UNSUBSCRIBE + injection
    else:
        sender = dataclasses.replace(sender, **{where: getattr(sender, where) + injection})
    with pytest.raises(InputError, match="line break"):
        digest_message(rendered, sender, to, str(WEEK), 7, unsubscribe, PREFERENCES, NOW)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_the_confirmation_takes_no_line_break_either(injection: str) -> None:
    with pytest.raises(InputError, match="line break"):
        confirmation_message(SENDER, READER + injection, "https://lettre.example.fr/c?t=1",
                             "fr", NOW)
    with pytest.raises(InputError, match="line break"):
        confirmation_message(dataclasses.replace(SENDER, newsletter_name=NAME + injection),
                             READER, "https://lettre.example.fr/c?t=1", "fr", NOW)


class Anchors(HTMLParser):
    """The links of the body, each with the text a reader sees on it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.href: str | None = None
        self.text = ""
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
        elif tag == "a" and not self.in_head:
            self.href, self.text = dict(attrs).get("href") or "", ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        elif tag == "a" and self.href is not None:
            self.links.append((self.href, " ".join(self.text.split())))
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.text += data


def test_a_digest_is_text_first_html_last_in_utf8_with_an_unsubscribe_link_in_both(
        rendered: RenderedEmail) -> None:
    message = digest_for(rendered)

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    assert parts[-1].get_content_type() == "text/html"
    assert [p.get_content_charset() for p in parts] == ["utf-8"] * len(parts)
    text, html = parts[0].get_content(), parts[-1].get_content()
    assert "Ouzbékistan" in text
    assert "Ouzbékistan" in html

    lines = [line.strip() for line in text.splitlines()]
    assert UNSUBSCRIBE in lines  # on a line of its own, so that it stays clickable
    assert "désabonner" in lines[lines.index(UNSUBSCRIBE) - 1]
    anchors = Anchors()
    anchors.feed(html)
    assert (UNSUBSCRIBE, "Se désabonner") in anchors.links
    assert "%%UNSUBSCRIBE" not in text + html
    assert "%%PREFERENCES" not in text + html
    assert message["Message-ID"] == digest_for(rendered)["Message-ID"]
    assert message["Message-ID"] != digest_for(rendered, subscriber_id=8)["Message-ID"]
