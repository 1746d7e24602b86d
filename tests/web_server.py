"""The readers' site on a real uvicorn, configured as `bot serve` configures it, on a free
loopback port in a thread; and a plain HTTP client that sends paths exactly as written (no
`..` folding, no logging of its own)."""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from bot.config import Settings
from bot.delivery.mail_transport import Outbox
from bot.web import create_app, server_config

SECRET = "a-test-secret-that-is-long-enough"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def site_settings(folder: Path, public_url: str) -> Settings:
    """Settings for a site whose store, archive and outbox live in `folder`."""
    return Settings.from_environ({
        "BOT_DATABASE": str(folder / "bot.sqlite3"), "BOT_DIGESTS_DIR": str(folder / "digests"),
        "BOT_OUTBOX": str(folder / "outbox"), "BOT_PUBLIC_URL": public_url,
        "BOT_SECRET_KEY": SECRET})


class RecordingOutbox(Outbox):
    """The outbox, also keeping each message sent in a list (a resent confirmation replaces
    its own file, so the folder alone does not count sends)."""

    def __init__(self, folder: Path, sent: list[EmailMessage]) -> None:
        super().__init__(folder)
        self.sent = sent

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        self.sent.append(message)


def site_app(folder: Path, public_url: str, clock: Callable[[], dt.datetime],
             sent: list[EmailMessage] | None = None) -> Starlette:
    settings = site_settings(folder, public_url)
    record = sent if sent is not None else []
    return create_app(settings, SECRET, clock, lambda: RecordingOutbox(settings.outbox, record))


@contextmanager
def live_site(folder: Path, clock: Callable[[], dt.datetime],
              sent: list[EmailMessage] | None = None) -> Iterator[str]:
    """The site served on 127.0.0.1 until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here on: no race for it
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(server_config(site_app(folder, base, clock, sent), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fetch(base: str, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> Answer:
    """One request with `path` sent byte for byte as given."""
    host, _, port = base.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        conn.close()
