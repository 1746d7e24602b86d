"""Where email goes: an SMTP relay (`SMTP_URL`) or, when none is set, a local outbox folder
of `.eml` files. One `send()` for both; failures are sorted into temporary (try again later)
and permanent (this address will never take it)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote, urlsplit

from bot.errors import BotError, ConfigError
from bot.mail import Wire, wire

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typeshed's; nothing imported at run time

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30.0


class DeliveryError(Exception):
    """A message was not delivered; `temporary` says whether trying later may work."""

    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


class TransportError(BotError):
    """The transport itself cannot work (bad credentials, unwritable outbox): stop sending."""


class Transport(Protocol):
    def send(self, message: EmailMessage | Wire) -> None:
        """Deliver one message or raise `DeliveryError` (or `TransportError`)."""

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where mail goes, for logs: never a password."""


class Outbox:
    """One `.eml` file per message, named after its Message-ID: a message resent after a
    crash replaces its own file rather than adding a copy."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage | Wire) -> None:
        ready = message if isinstance(message, Wire) else wire(message)
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", ready.message_id.strip("<>")) + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(ready.data)
            Path(temp).replace(self.folder / name)
        except OSError as exc:
            raise TransportError(f"{self.folder}: cannot write the outbox ({exc.strerror})") \
                from None

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"the outbox folder {self.folder}"


# An address smtplib would send as is between < and >: it need not be parsed again.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


class _Lean(smtplib.SMTP):
    """smtplib's client, less two costs that were a quarter of a send's CPU: it parses
    every envelope address again (`email.utils.parseaddr`, about 90 µs a message) and
    dot-stuffs the data with a regular expression. Addresses that are plain (checked when
    subscribed) skip the parsing; CRLF-ended bytes are stuffed with `bytes.replace`, the
    same result. Anything else takes smtplib's own path."""

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _PLAIN_ADDRESS.fullmatch(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)
        listed = "".join(f" {o}" for o in options) if self.does_esmtp else ""
        self.putcmd("mail", f"FROM:<{sender}>{listed}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _PLAIN_ADDRESS.fullmatch(recip):
            return super().rcpt(recip, options)
        listed = "".join(f" {o}" for o in options) if self.does_esmtp else ""
        self.putcmd("rcpt", f"TO:<{recip}>{listed}")
        return self.getreply()

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes) or not msg.endswith(b"\r\n"):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        # A line that starts with a period gets a second one (RFC 5321 4.5.2).
        stuffed = msg.replace(b"\n.", b"\n..")
        self.send((b"." if stuffed.startswith(b".") else b"") + stuffed + b".\r\n")
        return self.getreply()


class _LeanSSL(_Lean, smtplib.SMTP_SSL):
    pass


class Smtp:
    """An SMTP relay; each sending thread keeps one connection open and reuses it."""

    def __init__(self, url: str, timeout: float = SMTP_TIMEOUT) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.local = threading.local()
        self.opened: list[smtplib.SMTP] = []
        self.lock = threading.Lock()

    def describe(self) -> str:
        who = f"{quote(self.user, safe='')}@" if self.user else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}"

    def connection(self) -> smtplib.SMTP:
        current: smtplib.SMTP | None = getattr(self.local, "smtp", None)
        if current is not None:
            return current
        smtp: smtplib.SMTP | None = None
        try:
            if self.scheme == "smtps":
                smtp = _LeanSSL(self.host, self.port, timeout=self.timeout,
                                context=ssl.create_default_context())
            else:
                smtp = _Lean(self.host, self.port, timeout=self.timeout)
                if self.scheme == "smtp+starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _close(smtp)
            raise TransportError(f"{self.describe()}: the server refused the login "
                                 f"({exc.smtp_code}); check SMTP_URL's user and password") \
                from None
        except ssl.SSLCertVerificationError as exc:
            _close(smtp)  # a certificate that is not trusted will not fix itself: stop
            raise TransportError(f"{self.describe()}: certificate verify failed "
                                 f"({exc.verify_message}); check SMTP_URL's host and the "
                                 "relay's certificate") from None
        except UnicodeEncodeError:
            _close(smtp)
            raise TransportError(f"{self.describe()}: SMTP logins are ASCII; SMTP_URL's user "
                                 "or password is not") from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise DeliveryError(f"cannot connect to {self.describe()}: {_why(exc)}",
                                temporary=True) from None
        self.local.smtp = smtp
        with self.lock:
            self.opened.append(smtp)
        return smtp

    def send(self, message: EmailMessage | Wire) -> None:
        ready = message if isinstance(message, Wire) else wire(message)
        # What send_message would add: SMTPUTF8 when an address is not ASCII.
        options = () if (ready.mail_from + ready.to).isascii() else ("SMTPUTF8", "BODY=8BITMIME")
        smtp = self.connection()
        try:
            if options:
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("smtputf8"):
                    raise DeliveryError("the relay does not take non-ASCII addresses "
                                        "(no SMTPUTF8)", temporary=False)
            refused = smtp.sendmail(ready.mail_from, [ready.to], ready.data, options)
        except smtplib.SMTPRecipientsRefused as exc:
            code = min(c for c, _ in exc.recipients.values())
            self.drop_on_error(code)
            raise DeliveryError(f"recipient refused ({code})", temporary=code < 500) from None
        except smtplib.SMTPResponseException as exc:
            self.drop_on_error(exc.smtp_code)
            raise DeliveryError(f"the server answered {exc.smtp_code}",
                                temporary=exc.smtp_code < 500) from None
        except (OSError, smtplib.SMTPException) as exc:  # dropped connection, timeout
            self.drop()
            raise DeliveryError(f"connection lost: {_why(exc)}", temporary=True) from None
        if refused:
            raise DeliveryError("recipient refused", temporary=False)

    def drop_on_error(self, code: int) -> None:
        """After a 421 the server closes; after other errors reset the transaction."""
        if code == 421:
            self.drop()
            return
        smtp = getattr(self.local, "smtp", None)
        try:
            if smtp is not None:
                smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def drop(self) -> None:
        smtp = getattr(self.local, "smtp", None)
        self.local.smtp = None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        with self.lock:
            opened, self.opened = self.opened, []
        for smtp in opened:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def open_transport(smtp_url: str | None, outbox: Path) -> Transport:
    if smtp_url:
        if urlsplit(smtp_url).scheme not in {"smtp", "smtp+starttls", "smtps"}:
            raise ConfigError("SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
        return Smtp(smtp_url)
    return Outbox(outbox)


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
