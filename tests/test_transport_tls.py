"""The SMTP relay's two TLS schemes against real TLS on 127.0.0.1, with the certificate
checked: smtp+starttls:// and smtps:// deliver, and log in only once the connection is
encrypted; a certificate the client cannot verify stops the connection before any command,
and says why; smtp+starttls:// never falls back to clear text; no error shows the password.

The certificates are made once per session with the `openssl` command line: a throwaway CA,
and server certificates it signs. The client trusts that CA the way an operator would, with
SSL_CERT_FILE: `ssl.create_default_context()` loads OpenSSL's default verify paths, which
read that variable each time a context is built (checked on 3.11 / OpenSSL 3.0: set after
import, it is honoured; unset again, the system bundle is back). Nothing in bot/ is patched.
"""

from __future__ import annotations

import logging
import shutil
import smtplib
import ssl
import subprocess
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import pytest

from bot.delivery.mail_transport import DeliveryError, Smtp, TransportError
from tests.fakes.smtp import Login, SmtpServer

USER = "lettre@relay.example.fr"
PASSWORD = "S3cret:mot/de@passe%TLS"  # needs quoting in a URL
SCHEMES: dict[str, Literal["starttls", "implicit"]] = {"smtp+starttls": "starttls",
                                                       "smtps": "implicit"}
READER = "lectrice@example.org"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the `openssl` command makes the test certificates")


# -- certificates ------------------------------------------------------------------------

CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = {san}
"""


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path  # the throwaway CA's certificate: what SSL_CERT_FILE points to
    other_ca: Path  # a second throwaway CA that signed nothing here
    server: KeyPair  # for IP:127.0.0.1, signed by `ca`
    elsewhere: KeyPair  # signed by `ca` too, but for 127.0.0.2 and localhost only


def _openssl(folder: Path, *args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)}:\n{done.stderr}"


def _new_key(name: str) -> list[str]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key"]


def _make_ca(folder: Path, name: str) -> KeyPair:
    _openssl(folder, "req", "-x509", "-config", "openssl.cnf", "-extensions", "ca",
             *_new_key(name), "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/O=Test/CN=Throwaway test CA {name}")
    return KeyPair(folder / f"{name}.pem", folder / f"{name}.key")


def _make_leaf(folder: Path, name: str, ca: KeyPair, san: str, serial: int) -> KeyPair:
    (folder / f"{name}.ext").write_text(LEAF.format(san=san), encoding="utf-8")
    _openssl(folder, "req", "-new", "-config", "openssl.cnf", *_new_key(name),
             "-out", f"{name}.csr", "-subj", f"/O=Test/CN={name}")
    _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", str(ca.cert),
             "-CAkey", str(ca.key), "-set_serial", str(serial), "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return KeyPair(folder / f"{name}.pem", folder / f"{name}.key")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    (folder / "openssl.cnf").write_text(CONFIG, encoding="utf-8")
    ca = _make_ca(folder, "ca")
    other = _make_ca(folder, "other-ca")
    server = _make_leaf(folder, "server", ca, "IP:127.0.0.1", 1001)
    elsewhere = _make_leaf(folder, "elsewhere", ca, "IP:127.0.0.2, DNS:localhost", 1002)
    return Pki(ca.cert, other.cert, server, elsewhere)


def server_context(pair: KeyPair) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    return context


# -- servers and trust -------------------------------------------------------------------

@pytest.fixture(params=list(SCHEMES))
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tls_server(scheme: str, pair: KeyPair) -> SmtpServer:
    return SmtpServer(user=USER, password=PASSWORD, tls=SCHEMES[scheme],
                      tls_context=server_context(pair))


@pytest.fixture
def server(scheme: str, pki: Pki) -> Iterator[SmtpServer]:
    """A TLS relay for `scheme`, with the certificate for 127.0.0.1, AUTH required."""
    with tls_server(scheme, pki.server) as running:
        yield running


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> Path:
    """The client trusts the throwaway CA, and only it (as a private relay's operator
    would set it up)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return pki.ca


@pytest.fixture
def transports() -> Iterator[list[Smtp]]:
    opened: list[Smtp] = []
    yield opened
    for transport in opened:
        transport.close()


def open_smtp(url: str, transports: list[Smtp]) -> Smtp:
    transport = Smtp(url, timeout=5)
    transports.append(transport)
    return transport


def note(n: int = 0) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "lettre@lettre.example.fr"
    message["To"] = READER
    message["Subject"] = f"Message {n} par TLS"
    message["Message-ID"] = f"<tls.{n}@lettre.example.fr>"
    message.set_content(f"Bonjour n° {n}, à travers TLS")
    return message


def told(exc: BaseException, transport: Smtp, caplog: pytest.LogCaptureFixture) -> str:
    """Everything a user or a log could be shown about this failure."""
    bot_logs = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    return "\n".join(["".join(traceback.format_exception(exc)), repr(exc), str(exc),
                      getattr(exc, "reason", ""), transport.describe(), *bot_logs])


def assert_no_password(text: str) -> None:
    for form in {PASSWORD, quote(PASSWORD, safe=""), "S3cret"}:
        assert form not in text


# -- delivery ----------------------------------------------------------------------------

def test_a_message_is_delivered_with_a_login_made_only_after_the_handshake(
        scheme: str, server: SmtpServer, trusted: Path, transports: list[Smtp]) -> None:
    assert server.url.startswith(f"{scheme}://")
    transport = open_smtp(server.url, transports)

    transport.send(note(1))
    transport.send(note(2))  # the same encrypted, logged-in connection

    first, second = server.messages
    assert server.received_ids() == [note(1)["Message-ID"], note(2)["Message-ID"]]
    assert first.login == second.login == USER
    assert first.tls in {"TLSv1.2", "TLSv1.3"}
    assert second.tls == first.tls
    assert first.parsed()["Subject"] == "Message 1 par TLS"
    assert "à travers TLS" in first.parsed().get_content()
    # one login, once the connection was already encrypted
    assert server.logins == [Login(USER, first.tls, 1)]
    assert server.connections == 1
    assert server.refusals == []
    assert_no_password(transport.describe())


def test_the_starttls_relay_takes_nothing_but_ehlo_and_starttls_in_clear(pki: Pki) -> None:
    """The fake itself: so the delivery above could not have logged in before the
    handshake."""
    with tls_server("smtp+starttls", pki.server) as server, \
            smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.docmd("AUTH", "PLAIN")[0] == 530
        assert client.docmd("MAIL", "FROM:<a@example.org>")[0] == 530
    assert server.logins == []
    assert server.messages == []


# -- a certificate that cannot be verified -----------------------------------------------

@pytest.mark.parametrize("case", ["system store only", "another CA", "another address"])
def test_a_certificate_the_client_cannot_verify_stops_before_any_command(
        scheme: str, case: str, pki: Pki, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        transports: list[Smtp]) -> None:
    caplog.set_level(logging.DEBUG)
    pair = pki.server
    if case == "system store only":  # the throwaway CA is in no system bundle
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    elif case == "another CA":
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca))
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # empty: nothing else trusted
    else:  # a trusted CA, but the certificate names another host
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        pair = pki.elsewhere

    with tls_server(scheme, pair) as server:
        transport = open_smtp(server.url, transports)
        with pytest.raises((DeliveryError, TransportError)) as failed:
            transport.send(note())

    message = str(failed.value)
    assert "certificate verify failed" in message.lower(), message
    if case == "another address":
        assert "IP address mismatch" in message
    else:
        assert "unable to get local issuer certificate" in message
    assert server.messages == []
    assert server.logins == []
    assert server.refusals == []  # not even a wrong AUTH: the client said nothing
    assert_no_password(told(failed.value, transport, caplog))


def test_once_the_ca_is_trusted_the_same_transport_delivers(
        scheme: str, server: SmtpServer, pki: Pki, monkeypatch: pytest.MonkeyPatch,
        transports: list[Smtp]) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    transport = open_smtp(server.url, transports)
    with pytest.raises((DeliveryError, TransportError)):
        transport.send(note(1))

    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    transport.send(note(2))

    assert server.received_ids() == [note(2)["Message-ID"]]
    assert [login.user for login in server.logins] == [USER]


# -- no fall back to clear text, no password shown ---------------------------------------

def test_starttls_url_against_a_relay_without_starttls_never_logs_in_in_clear(
        trusted: Path, caplog: pytest.LogCaptureFixture, transports: list[Smtp]) -> None:
    caplog.set_level(logging.DEBUG)
    # a plain relay that would take this very login in clear text
    with SmtpServer(user=USER, password=PASSWORD) as plain:
        url = plain.url.replace("smtp://", "smtp+starttls://", 1)
        transport = open_smtp(url, transports)
        with pytest.raises((DeliveryError, TransportError)) as failed:
            transport.send(note())

    assert "STARTTLS" in str(failed.value)
    assert plain.logins == []
    assert plain.messages == []
    assert_no_password(told(failed.value, transport, caplog))


def test_a_wrong_password_over_tls_stops_the_transport_without_showing_it(
        scheme: str, server: SmtpServer, trusted: Path, caplog: pytest.LogCaptureFixture,
        transports: list[Smtp]) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "S3cret-mais-faux"
    url = server.url.replace(quote(PASSWORD, safe=""), quote(wrong, safe=""), 1)
    assert wrong in url
    transport = open_smtp(url, transports)

    with pytest.raises(TransportError) as refused:
        transport.send(note())

    assert "535" in str(refused.value)
    text = told(refused.value, transport, caplog)
    assert wrong not in text
    assert_no_password(text)
    assert {(r.command, r.code) for r in server.refusals} == {("AUTH", 535)}  # PLAIN, LOGIN
    assert server.messages == []
