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
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from bot.errors import BotError, ConfigError

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
    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise `DeliveryError` (or `TransportError`)."""

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where mail goes, for logs: never a password."""


class Outbox:
    """One `.eml` file per message, named after its Message-ID: a message resent after a
    crash replaces its own file rather than adding a copy."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", str(message["Message-ID"]).strip("<>")) + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            Path(temp).replace(self.folder / name)
        except OSError as exc:
            raise TransportError(f"{self.folder}: cannot write the outbox ({exc.strerror})") \
                from None

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"the outbox folder {self.folder}"


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
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
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

    def send(self, message: EmailMessage) -> None:
        smtp = self.connection()
        try:
            refused = smtp.send_message(message)
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
