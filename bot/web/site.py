"""The readers' web pages, in French: subscribe (double opt-in), confirm, unsubscribe (RFC 8058
one-click), preferences, and the archive: the handlers of the app `bot.web.server` builds.

No session and no cookie: the signed token in a reader's link is the only credential, so
there is nothing to forge across sites. The answer to a subscription request is the same
whatever the address's standing, and is sent before the confirmation mail goes out, so that
neither its text nor its timing tells whether an address is subscribed. Tokens, reader links
and addresses never reach a log line: subscribers are logged by id, requests by route.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.archive import WEEK_NAME, render_index
from bot.config import Settings
from bot.delivery.mail_transport import DeliveryError, Transport, TransportError
from bot.errors import InputError, NotFound
from bot.links import reader_links
from bot.mail import Sender, confirmation_message
from bot.model import Channel, Country, Status, Subscriber
from bot.render.environment import environment
from bot.render.i18n import translate
from bot.store import Store, open_store
from bot.subscribers import MAX_ADDRESS, NewSubscriber, normalize_email
from bot.tokens import sign, subscriber_of, verify
from bot.web.forms import (
    FORM_TYPES,
    SECTIONS,
    boxes,
    followed,
    media_type,
    read_body,
    read_form,
    ticked_sections,
)
from bot.web.guard import SECURITY_HEADERS, route_of

log = logging.getLogger(__name__)

LOCALE = "fr"  # the pages' language; readers' mails go out in each reader's own
RESEND_AFTER = dt.timedelta(minutes=5)  # one confirmation per address per 5 minutes at most


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A confirmation mail to send once the answer has left."""

    subscriber_id: int
    message: EmailMessage


class Site:
    """The pages' handlers, and what they share: settings, secret, clock and transport."""

    def __init__(self, settings: Settings, secret: str, clock: Callable[[], dt.datetime],
                 transport_factory: Callable[[], Transport]) -> None:
        self.settings = settings
        self.secret = secret
        self.clock = clock
        self.transport_factory = transport_factory
        self.sender = Sender(settings.mail_from, settings.newsletter_name,
                             settings.mail_unsubscribe)

    # -- pages --------------------------------------------------------------------------

    async def front_page(self, request: Request) -> Response:
        """The subscription form."""
        return self.page(request, "subscribe", email="", error=None, sections=boxes(set()))

    async def subscribe(self, request: Request) -> Response:
        """A subscription request: the same answer for every valid address."""
        fields = await read_form(request)
        values = fields.get("email", [])
        typed = values[0] if len(values) == 1 and len(values[0]) <= MAX_ADDRESS \
            and values[0].isprintable() else ""
        try:
            ticked = ticked_sections(fields)
        except InputError:
            return self.page(request, "subscribe", 400, email=typed, sections=boxes(set()),
                             error=translate(LOCALE, "Choisissez vos rubriques dans la liste."))
        address, error = checked_address(values)
        if address is None:
            return self.page(request, "subscribe", 400, email=typed, error=error,
                             sections=boxes(ticked))
        countries = followed(ticked)
        outgoing = await run_in_threadpool(self.request_subscription, address, countries)
        background = BackgroundTask(self.send, outgoing) if outgoing else None
        return self.page(request, "check_inbox", background=background)

    async def confirm(self, request: Request) -> Response:
        """A confirm link: activates a pending subscriber; idempotent."""
        reader = await run_in_threadpool(self.confirm_reader, request.path_params["token"])
        return self.page(request, "confirm", active=reader.status is Status.ACTIVE,
                         preferences_href=self.link(reader, "preferences"))

    async def unsubscribe(self, request: Request) -> Response:
        """GET: one button. POST (RFC 8058 one-click, or that button): unsubscribed before
        the answer, which is 200 every time."""
        token = request.path_params["token"]
        if request.method == "POST":
            body = await read_body(request)
            if body and media_type(request) not in FORM_TYPES:
                raise HTTPException(400, "unsubscribe: a body that is not a form")
            await run_in_threadpool(self.unsubscribe_reader, token)
            return self.page(request, "unsubscribe", done=True)
        reader = await run_in_threadpool(self.find_reader, "unsubscribe", token)
        return self.page(request, "unsubscribe", done=reader.status is Status.UNSUBSCRIBED)

    async def preferences(self, request: Request) -> Response:
        """The sections a reader follows: GET shows them, POST saves them."""
        token = request.path_params["token"]
        reader = await run_in_threadpool(self.find_reader, "preferences", token)
        saved, error = False, None
        if request.method == "POST":
            fields = await read_form(request)
            try:
                wanted = followed(ticked_sections(fields))
            except InputError:
                error = translate(LOCALE, "Choisissez vos rubriques dans la liste.")
            else:
                reader = await run_in_threadpool(self.save_sections, reader, wanted)
                saved = True
        return self.page(request, "preferences", 400 if error else 200, saved=saved,
                         error=error, active=reader.status is Status.ACTIVE,
                         sections=boxes(reader.countries or SECTIONS),
                         unsubscribe_href=self.link(reader, "unsubscribe"))

    async def archive(self, request: Request) -> Response:
        """Every archived week, newest first."""
        html = await run_in_threadpool(render_index, self.settings.digests_dir,
                                       self.settings.newsletter_name, LOCALE, "",
                                       home_of(request), self.settings.templates_dir)
        return HTMLResponse(html, headers={"cache-control": "public, max-age=300"})

    async def archive_week(self, request: Request) -> Response:
        """A week's web version, `digests/<week>/email.html`, and nothing else."""
        week = request.path_params["week"]
        if not WEEK_NAME.fullmatch(week):
            raise HTTPException(404, "archive: not a week")
        content = await run_in_threadpool(read_archived_email, self.settings.digests_dir, week)
        if content is None:
            raise HTTPException(404, "archive: no such week")
        return Response(content, media_type="text/html; charset=utf-8",
                        headers={"cache-control": "public, max-age=300"})

    # -- what the pages do (in a worker thread: SQLite and SMTP block) ------------------

    def request_subscription(self, address: str, countries: frozenset[Country]
                             ) -> Outgoing | None:
        now = self.clock()
        with self.open_store() as store:
            reader, due = store.request_subscription(
                NewSubscriber(Channel.EMAIL, address, LOCALE, countries), "web", now,
                RESEND_AFTER)
        log.info("subscription request for subscriber %d (%s): %s", reader.id,
                 reader.status.value, "confirmation due" if due else "nothing to send")
        if not due:
            return None
        links = reader_links(self.settings.public_url, self.secret, reader)
        return Outgoing(reader.id, confirmation_message(self.sender, reader.address,
                                                        links.confirm, reader.locale, now))

    def send(self, outgoing: Outgoing) -> None:
        """Send a confirmation; a failure is logged (the reader may simply ask again)."""
        transport = self.transport_factory()
        try:
            transport.send(outgoing.message)
            log.info("confirmation sent to subscriber %d", outgoing.subscriber_id)
        except DeliveryError as exc:
            log.warning("confirmation to subscriber %d not sent: %s", outgoing.subscriber_id,
                        exc.reason)
        except TransportError as exc:
            log.error("confirmation to subscriber %d not sent: %s", outgoing.subscriber_id, exc)
        finally:
            transport.close()

    def confirm_reader(self, token: str) -> Subscriber:
        with self.open_store() as store:
            reader = self.reader_in(store, "confirm", token)
            if reader.status is Status.PENDING:
                reader = store.confirm_subscriber(reader.id, self.clock())
                log.info("subscriber %d confirmed (%s)", reader.id, reader.status.value)
        return reader

    def unsubscribe_reader(self, token: str) -> Subscriber:
        with self.open_store() as store:
            reader = self.reader_in(store, "unsubscribe", token)
            if reader.status is not Status.UNSUBSCRIBED:
                reader = store.set_subscriber_status(reader.id, Status.UNSUBSCRIBED,
                                                     self.clock())
                log.info("subscriber %d unsubscribed", reader.id)
        return reader

    def save_sections(self, reader: Subscriber, wanted: frozenset[Country]) -> Subscriber:
        # "Autres" is not offered here; a reader an editor gave it keeps it.
        if wanted and Country.OTHER in reader.countries:
            wanted |= {Country.OTHER}
        with self.open_store() as store:
            saved = store.set_subscriber_countries(reader.id, wanted, self.clock())
        log.info("subscriber %d now follows %s", saved.id,
                 " ".join(sorted(saved.countries)) or "every section")
        return saved

    def find_reader(self, purpose: str, token: str) -> Subscriber:
        with self.open_store() as store:
            return self.reader_in(store, purpose, token)

    def reader_in(self, store: Store, purpose: str, token: str) -> Subscriber:
        """The subscriber a token of `purpose` was signed for; 404 for any other token."""
        subscriber_id = subscriber_of(token)
        try:
            reader = store.get_subscriber(subscriber_id) if subscriber_id is not None else None
        except NotFound:
            reader = None
        if reader is None or not verify(self.secret, purpose, token, reader.id, reader.address):
            raise HTTPException(404, f"{purpose}: no such link")
        return reader

    def open_store(self) -> Store:
        return open_store(self.settings.database,
                          create_folder=self.settings.database_is_default)

    def link(self, reader: Subscriber, purpose: str) -> str:
        """A reader's page, relative to another of theirs (`/<purpose>/<token>`)."""
        return f"../{purpose}/{sign(self.secret, purpose, reader.id, reader.address)}"

    # -- answers ------------------------------------------------------------------------

    def page(self, request: Request, name: str, status_code: int = 200,
             background: BackgroundTask | None = None, **values: Any) -> HTMLResponse:
        html = environment(LOCALE, self.settings.templates_dir).get_template(
            f"web/{name}.html.j2").render(
            newsletter_name=self.settings.newsletter_name, home=home_of(request), **values)
        return HTMLResponse(html, status_code, background=background)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404, 405 and 400 as French pages (405 keeps its Allow header)."""
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        heading, message = ERROR_TEXTS.get(status, ERROR_TEXTS[400])
        if status == 400:
            log.info("%s %s answered %d: %s", request.method, route_of(request.scope), status,
                     exc.detail if isinstance(exc, HTTPException) else exc)
        response = self.page(request, "error", status, heading=translate(LOCALE, heading),
                             message=translate(LOCALE, message))
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)
        return response

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        """The store or the mail settings failed: 503, and the reason in the log."""
        log.error("%s %s failed: %s", request.method, route_of(request.scope), exc)
        heading, message = ERROR_TEXTS[503]
        return self.page(request, "error", 503, heading=translate(LOCALE, heading),
                         message=translate(LOCALE, message))

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """A bug: a French page, security headers included (the middleware is inside)."""
        heading, message = ERROR_TEXTS[500]
        response = self.page(request, "error", 500, heading=translate(LOCALE, heading),
                             message=translate(LOCALE, message))
        response.headers.update(SECURITY_HEADERS)
        response.headers["cache-control"] = "no-store"
        return response


# The French texts of error pages, marked for extraction; `translate` shows them.
def _(message: str) -> str:
    return message


ERROR_TEXTS: dict[int, tuple[str, str]] = {  # status: (heading, sentence)
    400: (_("Requête invalide"), _("Le formulaire envoyé n’a pas pu être lu (trop long, ou "
                                   "mal formé). Revenez à la page précédente et réessayez.")),
    404: (_("Page introuvable"), _("Ce lien ne mène à aucune page. S’il vient d’un courriel, "
                                   "vérifiez qu’il est complet : il a pu être coupé en deux.")),
    405: (_("Action impossible"), _("Cette page ne s’utilise pas de cette façon. Revenez à la "
                                    "page précédente et réessayez.")),
    500: (_("Erreur du service"), _("Une erreur nous empêche de répondre. Réessayez dans "
                                    "quelques minutes.")),
    503: (_("Service momentanément indisponible"), _("Réessayez dans quelques minutes.")),
}


def checked_address(values: list[str]) -> tuple[str | None, str]:
    """(the normalized address, "") or (None, what is wrong, in French)."""
    if len(values) != 1 or not values[0].strip():
        return None, translate(LOCALE, "Indiquez votre adresse électronique.")
    try:
        return normalize_email(values[0]), ""
    except InputError:
        return None, translate(LOCALE, "Cette adresse électronique n’est pas valable : "
                                       "vérifiez-la et réessayez.")


def read_archived_email(digests_dir: Path, week: str) -> bytes | None:
    """`digests_dir/<week>/email.html` if it is a file inside `digests_dir`."""
    root = digests_dir.resolve()
    path = (root / week / "email.html").resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def home_of(request: Request) -> str:
    """The front page, relative to the page asked for: correct behind a proxy that serves
    the site under a prefix too."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    depth = bytes(raw).partition(b"?")[0].count(b"/") - 1
    return "../" * depth if depth > 0 else "./"
