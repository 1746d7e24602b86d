"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd), that can be told to misbehave.

Long because it is one server: its fault injection, TLS and the record of what it received
share one state.

    with SmtpServer(seed=1) as server:          # or the `smtp_server` fixture
        server.data_failure_rate = 0.2          # 421/451 after the body of 1 DATA in 5
        server.reject = {"gone@example.org"}    # 550 at RCPT
        server.drop_rate = 0.1                  # cut the connection during 1 DATA in 10
        ... Smtp(server.url).send(message) ...
        assert server.received_ids() == [...]

Every setting is an attribute that may be changed while the server runs; it applies to the
next command (AUTH settings: to the next connection). Random choices come from one seeded
`random.Random`, so a single-threaded run misbehaves the same way every time. `stop()` and
`start()` again keep the same port (a server that is down, then back).

How it misbehaves, as a real relay would:
- `reject`: RCPT of one of these addresses (compared case-insensitively) → 550.
- `rcpt_failure_rate`: that fraction of the other RCPTs → a code drawn from `failure_codes`.
- `drop_rate`: that fraction of DATA commands get their 354, then the server reads the
  message's first line and closes the connection without a word.
- `data_failure_rate`: that fraction of the other DATAs, after the whole body, → a code drawn
  from `failure_codes` instead of 250; the message is not recorded.
- A 421 is followed by the server closing the connection; other refusals keep it open.
- `user`/`password`: AUTH PLAIN/LOGIN offered on the plain connection and required before
  MAIL; without them AUTH is not offered at all (as on a relay that wants TLS first).

TLS, when asked for (`tls` and a server-side `tls_context`, both read at start()):
- `tls="starttls"`: STARTTLS offered and required before anything but EHLO/HELO/NOOP/QUIT
  (530 otherwise); AUTH offered and accepted only after it (538 before). `url` is
  smtp+starttls://.
- `tls="implicit"`: TLS from the first byte (as on port 465); `url` is smtps://.
Each accepted message records the TLS version of its connection (`Received.tls`), and each
successful AUTH the TLS version at that moment (`logins`), so a test can show the login came
after the handshake. A client whose handshake fails sends no command at all."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
TEMPORARY_CODES = (421, 451)
REPLIES = {
    421: "421 4.3.2 Service not available, closing transmission channel",
    451: "451 4.3.0 Requested action aborted: local error in processing",
    550: "550 5.1.1 Mailbox unavailable",
}


@dataclass(frozen=True)
class Received:
    """One message the server accepted (250 after DATA)."""

    mail_from: str  # the envelope sender (MAIL FROM)
    recipients: tuple[str, ...]  # the envelope recipients (RCPT TO), as accepted
    message_id: str | None  # the Message-ID header, as sent (with its <>)
    to: str | None  # the To header, decoded
    subject: str | None  # the Subject header, decoded
    raw: bytes  # the message as received, CRLF line ends, dot-stuffing undone
    login: str | None  # the AUTH user of the connection, None without AUTH
    connection: int  # the number of the connection it came on (1, 2, …)
    tls: str | None = None  # the TLS version of that connection ("TLSv1.3"), None in clear

    def parsed(self) -> EmailMessage:
        """The message parsed with the modern email policy."""
        message = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class Refusal:
    """One command the server refused, or the connection it dropped."""

    command: str  # "RCPT", "DATA" or "AUTH"
    code: int | None  # 421, 451, 550, 535; None for a dropped connection
    recipients: tuple[str, ...]  # the RCPT address, or the envelope's recipients for DATA
    connection: int


@dataclass(frozen=True)
class Login:
    """One successful AUTH."""

    user: str
    tls: str | None  # the TLS version of the connection when it logged in, None in clear
    connection: int


class SmtpServer:
    """A loopback SMTP server recording what it accepts; see the module's docstring."""

    def __init__(self, *, seed: int = 0, port: int = 0,
                 user: str | None = None, password: str | None = None,
                 rcpt_failure_rate: float = 0.0, data_failure_rate: float = 0.0,
                 failure_codes: Iterable[int] = TEMPORARY_CODES,
                 reject: Iterable[str] = (), drop_rate: float = 0.0,
                 tls: Literal["starttls", "implicit"] | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        if (tls is None) != (tls_context is None):
            raise ValueError("tls and tls_context go together")
        self.host = HOST
        self.port = port  # 0 until the first start() picks a free one; kept afterwards
        self.random = random.Random(seed)
        self.user = user  # AUTH (PLAIN, LOGIN) required on new connections when set
        self.password = password
        self.rcpt_failure_rate = rcpt_failure_rate  # fraction of RCPT answered 421/451
        self.data_failure_rate = data_failure_rate  # fraction of DATA answered 421/451
        self.failure_codes: tuple[int, ...] = tuple(failure_codes)  # picked at random
        self.reject: set[str] = set(reject)  # RCPT of these addresses → 550 (any case)
        self.drop_rate = drop_rate  # fraction of DATA cut mid-message, no answer
        self.tls = tls  # "starttls", "implicit" or None (clear text only)
        self.tls_context = tls_context  # the server's certificate and key
        self.lock = threading.Lock()
        self._messages: list[Received] = []
        self._refusals: list[Refusal] = []
        self._logins: list[Login] = []
        self._connections = 0
        self._controller: _Controller | None = None

    # -- life ------------------------------------------------------------------------------

    def start(self) -> SmtpServer:
        """Listen (again) on `port`; a no-op when running."""
        if self._controller is None:
            controller = _Controller(self)
            controller.start()
            self.port = controller.port
            controller.armed = True
            self._controller = controller
        return self

    def stop(self) -> None:
        """Close every open connection and stop listening; a no-op when stopped."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.loop.call_soon_threadsafe(controller.close_connections)
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # -- what it saw -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """smtp://127.0.0.1:PORT (smtp+starttls://, smtps:// with `tls`), with
        user:password@ (quoted) when AUTH is required."""
        assert self.port, "start the server once before asking for its url"
        who = ""
        if self.user is not None:
            who = f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}@"
        scheme = {"starttls": "smtp+starttls", "implicit": "smtps"}.get(self.tls or "", "smtp")
        return f"{scheme}://{who}{self.host}:{self.port}"

    @property
    def messages(self) -> list[Received]:
        """A copy of the accepted messages, in the order accepted."""
        with self.lock:
            return list(self._messages)

    @property
    def refusals(self) -> list[Refusal]:
        """A copy of the refused commands and dropped connections, in order."""
        with self.lock:
            return list(self._refusals)

    @property
    def logins(self) -> list[Login]:
        """A copy of the successful AUTHs, in order."""
        with self.lock:
            return list(self._logins)

    @property
    def connections(self) -> int:
        """How many connections clients have opened since the first start (or clear())."""
        with self.lock:
            return self._connections

    def received_ids(self) -> list[str | None]:
        """The Message-ID of each accepted message, in order (duplicates kept)."""
        return [m.message_id for m in self.messages]

    def count_by_recipient(self) -> collections.Counter[str]:
        """How many accepted messages each envelope recipient got."""
        return collections.Counter(r for m in self.messages for r in m.recipients)

    def clear(self) -> None:
        """Forget the messages, refusals and connection count (settings are kept)."""
        with self.lock:
            self._messages.clear()
            self._refusals.clear()
            self._logins.clear()
            self._connections = 0

    # -- for the protocol (runs in the server's thread) ------------------------------------

    def _new_connection(self) -> int:
        with self.lock:
            self._connections += 1
            return self._connections

    def _record(self, received: Received) -> None:
        with self.lock:
            self._messages.append(received)

    def _refuse(self, refusal: Refusal) -> None:
        with self.lock:
            self._refusals.append(refusal)

    def _logged_in(self, login: Login) -> None:
        with self.lock:
            self._logins.append(login)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self.random.random() < rate

    def _temporary_code(self) -> int:
        return self.random.choice(self.failure_codes)


class _Protocol(SMTP):
    """One connection: aiosmtpd's SMTP, with the failures asked for."""

    def __init__(self, handler: _Handler, number: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.fake = handler.fake
        self.number = number
        self.auth_wanted = self.fake.user is not None
        self.closing = False  # set by handle_DATA when its answer is a 421

    async def check_auth_needed(self, caller_method: str) -> bool:
        if self.needs_auth():
            await self.push("530 5.7.0 Authentication required")
            return True
        return False

    def needs_auth(self) -> bool:
        return self.auth_wanted and not (self.session and self.session.authenticated)

    async def smtp_RCPT(self, arg: str | None) -> None:
        fake = self.fake
        ready = (self.session is not None and self.session.host_name
                 and self.envelope is not None and self.envelope.mail_from
                 and not self.needs_auth())
        rest = self._strip_command_keyword("TO:", arg) if ready and arg else None
        address = self._getaddr(rest)[0] if rest else None
        if address:  # a well-formed RCPT in a transaction: the failures apply
            code = None
            if address.lower() in {a.lower() for a in fake.reject}:
                code = 550
            elif fake._chance(fake.rcpt_failure_rate):
                code = fake._temporary_code()
            if code is not None:
                fake._refuse(Refusal("RCPT", code, (address,), self.number))
                await self.push(_reply(code))
                if code == 421:
                    self.hang_up()
                return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        fake = self.fake
        if arg or self.envelope is None or not self.envelope.rcpt_tos \
                or not fake._chance(fake.drop_rate):
            await super().smtp_DATA(arg)
            if self.closing:
                self.hang_up()
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        with contextlib.suppress(asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            await self._reader.readuntil(b"\r\n")  # the message's first line, then cut
        fake._refuse(Refusal("DATA", None, tuple(self.envelope.rcpt_tos), self.number))
        self.hang_up()

    def tls_version(self) -> str | None:
        """The TLS version of this connection now (after STARTTLS or implicit), else None."""
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        return ssl_object.version() if ssl_object is not None else None

    def hang_up(self) -> None:
        """Close the connection now, as QUIT does, without another word."""
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()
        if self.transport is not None:
            self.transport.close()


class _Handler:
    def __init__(self, fake: SmtpServer) -> None:
        self.fake = fake

    async def handle_DATA(self, server: _Protocol, session: Session,
                          envelope: Envelope) -> str:
        recipients = tuple(envelope.rcpt_tos)
        if self.fake._chance(self.fake.data_failure_rate):
            code = self.fake._temporary_code()
            self.fake._refuse(Refusal("DATA", code, recipients, server.number))
            server.closing = code == 421
            return _reply(code)
        raw = envelope.original_content or b""
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) \
            else None
        self.fake._record(Received(
            mail_from=envelope.mail_from or "",
            recipients=recipients,
            message_id=_text(headers["Message-ID"]),
            to=_text(headers["To"]),
            subject=_text(headers["Subject"]),
            raw=raw,
            login=login.decode() if login is not None else None,
            connection=server.number,
            tls=server.tls_version(),
        ))
        return "250 2.0.0 OK: queued"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        fake = self.fake
        ok = (isinstance(auth_data, LoginPassword) and fake.user is not None
              and auth_data.login == fake.user.encode()
              and auth_data.password == (fake.password or "").encode())
        number = server.number if isinstance(server, _Protocol) else 0
        if ok:
            tls = server.tls_version() if isinstance(server, _Protocol) else None
            fake._logged_in(Login(fake.user or "", tls, number))
        else:
            fake._refuse(Refusal("AUTH", 535, (), number))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _Controller(Controller):
    def __init__(self, fake: SmtpServer) -> None:
        implicit = fake.tls_context if fake.tls == "implicit" else None
        super().__init__(None, hostname=HOST, port=fake.port, loop=asyncio.new_event_loop(),
                         ssl_context=implicit)
        self.fake = fake
        self.armed = False  # False during start(): its probe connection is not counted
        self.protocols: list[_Protocol] = []

    def factory(self) -> _Protocol:
        number = self.fake._new_connection() if self.armed else 0
        handler = _Handler(self.fake)
        if self.fake.tls == "starttls":
            tls: dict[str, Any] = {"tls_context": self.fake.tls_context,
                                   "require_starttls": True, "auth_require_tls": True}
        elif self.fake.tls == "implicit":
            # aiosmtpd 1.4 counts only STARTTLS as TLS: it would refuse AUTH (538) on a
            # connection that is TLS from the first byte
            tls = {"auth_require_tls": False}
        else:
            # AUTH is offered on a plain connection only when the test asks for it
            tls = {"auth_require_tls": self.fake.user is None}
        protocol = _Protocol(
            handler, number, hostname="smtp.test", loop=self.loop, enable_SMTPUTF8=True,
            authenticator=handler.authenticate, **tls)
        self.protocols.append(protocol)  # all of them: stop() closes those still open
        return protocol

    def _trigger_server(self) -> None:
        if self.port == 0:  # bound to port 0: learn the port the system chose
            assert isinstance(self.server, asyncio.Server)
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def close_connections(self) -> None:
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()


def _reply(code: int) -> str:
    return REPLIES.get(code, f"{code} Refused as the test asked")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running `SmtpServer` (seed 0, no AUTH, no failures), stopped after the test."""
    with SmtpServer() as server:
        yield server
