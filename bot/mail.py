"""Email messages: the weekly digest for one reader, and the confirmation of a subscription.
Pure: values in, `EmailMessage` out (headers checked; no CR or LF ever reaches one)."""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr

from bot.errors import InputError
from bot.render.email import RenderedEmail
from bot.render.i18n import translate


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends, from settings: `MAIL_FROM`, the newsletter's name, `MAIL_UNSUBSCRIBE`."""

    mail_from: str
    newsletter_name: str
    mail_unsubscribe: str | None = None

    @property
    def domain(self) -> str:
        return parseaddr(self.mail_from)[1].rpartition("@")[2] or "localhost"


def message_id(week: str, subscriber_id: int, address: str, domain: str) -> str:
    """The same Message-ID every time this reader is sent this week's digest, so that a
    message resent after a crash is recognised as the same one."""
    tag = hashlib.sha256(f"{week}\x00{subscriber_id}\x00{address}".encode()).hexdigest()[:12]
    return f"<digest.{week}.{subscriber_id}.{tag}@{domain}>"


@dataclass(frozen=True, slots=True)
class Wire:
    """A message as it goes out: its envelope and its bytes (CRLF line ends)."""

    mail_from: str
    to: str
    message_id: str
    data: bytes


def wire(message: EmailMessage) -> Wire:
    """A built message flattened as `smtplib.send_message` would send it (headers in UTF-8
    when an address is not ASCII: the relay must then offer SMTPUTF8)."""
    mail_from = getaddresses([str(message["From"])])[0][1]
    to = getaddresses([str(message["To"])])[0][1]
    policy = message.policy.clone(linesep="\r\n",
                                  utf8=not (mail_from + to).isascii())  # type: ignore[call-arg]
    return Wire(mail_from, to, str(message["Message-ID"]), message.as_bytes(policy=policy))


def digest_message(rendered: RenderedEmail, sender: Sender, to: str, week: str,
                   subscriber_id: int, unsubscribe_url: str, preferences_url: str,
                   now: dt.datetime) -> EmailMessage:
    """One reader's copy of the week's email: text first, HTML last; RFC 8058 one-click."""
    html, text = rendered.personalize(unsubscribe_url, preferences_url)
    message = _base(sender, to, rendered.subject, now)
    message["Message-ID"] = message_id(week, subscriber_id, to, sender.domain)
    message["List-Id"] = _header(f"{sender.newsletter_name} <digest.{sender.domain}>")
    targets = [f"<{unsubscribe_url}>"]
    if sender.mail_unsubscribe:
        targets.append(f"<mailto:{sender.mail_unsubscribe}?subject=unsubscribe>")
    message["List-Unsubscribe"] = _header(", ".join(targets))
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    # base64 is encoded in C: three times faster to build than quoted-printable for the
    # long, minified HTML, for 15 % more bytes on the wire (Gmail clips on decoded size).
    message.add_alternative(html, subtype="html", cte="base64")
    return message


def confirmation_message(sender: Sender, to: str, confirm_url: str, locale: str,
                         now: dt.datetime) -> EmailMessage:
    """The double opt-in mail: one link, nothing sent to this address before it is used."""
    subject = translate(locale, "Confirmez votre abonnement à %(name)s",
                        name=sender.newsletter_name)
    body = translate(locale, "Bonjour,\n\nPour recevoir chaque lundi %(name)s, confirmez votre "
                     "abonnement en ouvrant ce lien :\n\n%(url)s\n\nSi vous n’avez rien "
                     "demandé, ignorez ce message : vous ne recevrez rien d’autre.",
                     name=sender.newsletter_name, url=confirm_url)
    message = _base(sender, to, subject, now)
    message["Message-ID"] = f"<confirm.{hashlib.sha256(confirm_url.encode()).hexdigest()[:16]}" \
                            f"@{sender.domain}>"
    message.set_content(body)
    return message


class DigestMail:
    """One variant of the week's email, built once; each reader's copy is spliced into its
    bytes. A copy is byte for byte what `digest_message` flattens to (but for the MIME
    boundary, random there): tests compare the two. The `email` package's header machinery
    then runs once per variant instead of once per reader, about a millisecond each.

    What changes per reader: the `To`, `Date`, `Message-ID` and `List-Unsubscribe` headers,
    the two links in the text part, and the HTML part, base64-encoded again with its links.
    A reader whose values could change how the package would fold or encode (non-ASCII
    address, very long links) gets `digest_message` itself."""

    EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def __init__(self, rendered: RenderedEmail, sender: Sender, week: str) -> None:
        self.rendered = rendered
        self.sender = sender
        self.week = week
        mark = secrets.token_hex(8)
        self.to = f"reader.{mark}@placeholder.invalid"
        self.unsubscribe = f"https://placeholder.invalid/u/{mark}"
        self.preferences = f"https://placeholder.invalid/p/{mark}"
        self.domain = sender.domain  # parsed once
        self.message_id = message_id(week, 0, self.to, self.domain)
        self.date = format_datetime(self.EPOCH)
        template = digest_message(rendered, sender, self.to, week, 0, self.unsubscribe,
                                  self.preferences, self.EPOCH)
        data = template.as_bytes()
        html_body = _base64_body(rendered.personal_html(self.unsubscribe, self.preferences))
        at = data.find(html_body)
        end = data.find(b"\r\n\r\n")
        self.spliceable = at > end > 0 and data.count(html_body) == 1 and data.find(
            self.to.encode(), end) == -1
        self.head, self.text = data[:end], data[end:at]
        self.tail = data[at + len(html_body):]
        self.mail_from = wire(template).mail_from
        # How much longer than its placeholder a value may be before a line is too long.
        self.head_room = LINE_LIMIT - max(map(len, self.head.split(b"\r\n")))
        self.text_room = LINE_LIMIT - max(map(len, self.text.split(b"\r\n")))

    def message(self, to: str, subscriber_id: int, unsubscribe_url: str,
                preferences_url: str, now: dt.datetime) -> Wire:
        """This reader's copy, ready to send."""
        head_growth = max(len(to) - len(self.to), len(unsubscribe_url) - len(self.unsubscribe))
        text_growth = len(unsubscribe_url) + len(preferences_url) - len(self.unsubscribe) - \
            len(self.preferences)
        values = to + unsubscribe_url + preferences_url
        if not (self.spliceable and values.isascii() and head_growth <= self.head_room
                and text_growth <= self.text_room and "@" in to):
            return wire(digest_message(self.rendered, self.sender, to, self.week,
                                       subscriber_id, unsubscribe_url, preferences_url, now))
        _header(values)  # the same refusal as digest_message's
        mid = message_id(self.week, subscriber_id, to, self.domain)
        head = self.head.replace(self.to.encode(), to.encode()).replace(
            self.message_id.encode(), mid.encode()).replace(
            self.date.encode(), format_datetime(now).encode()).replace(
            self.unsubscribe.encode(), unsubscribe_url.encode())
        text = self.text.replace(self.unsubscribe.encode(), unsubscribe_url.encode()).replace(
            self.preferences.encode(), preferences_url.encode())
        html = _base64_body(self.rendered.personal_html(unsubscribe_url, preferences_url))
        return Wire(self.mail_from, to, mid, b"".join((head, text, html, self.tail)))


def _base64_body(html: str) -> bytes:
    """The HTML part's body as `email.contentmanager` encodes it under POLICY: its lines
    ended with CRLF, then base64 in lines of 996 characters, also ended with CRLF."""
    data = b"\r\n".join(html.encode("utf-8").splitlines()) + b"\r\n"
    step = LINE_LIMIT // 4 * 3
    return b"".join(binascii.b2a_base64(data[i:i + step]) for i in
                    range(0, len(data), step)).replace(b"\n", b"\r\n")


# Long ASCII headers (List-Unsubscribe's signed URL) are not folded into encoded words, which
# some mail clients would not read; RFC 5322 allows lines up to 998 characters.
LINE_LIMIT = 998
POLICY = SMTP.clone(max_line_length=LINE_LIMIT)


def _base(sender: Sender, to: str, subject: str, now: dt.datetime) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = _header(sender.mail_from)
    local, _, domain = to.rpartition("@")
    # A non-ASCII local part (RFC 6531) is no `Address`: the header keeps it as written and
    # `wire` flattens it in UTF-8 for a relay that offers SMTPUTF8.
    message["To"] = Address(addr_spec=_header(to)) if local and domain and local.isascii() \
        else _header(to)
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(now)
    return message


def _header(value: str) -> str:
    """A header value, refused if it holds a line break (header injection)."""
    if any(c in value for c in "\r\n\x00"):
        raise InputError(f"refusing a header value with a line break: {value[:60]!r}")
    return value
