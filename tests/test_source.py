"""Reading an input from a URL: a real HTTP server on 127.0.0.1, with its limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.errors import InputError
from bot.ingest.source import read_source


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<rss>" + b"x" * 5_000 + b"</rss>")
        else:  # answers nothing for longer than the client waits
            time.sleep(3)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_server_that_never_answers_times_out(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_source(f"{server}/slow", timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert str(caught.value).startswith(f"{server}/slow: unreachable (")
    assert "timed out" in str(caught.value)


def test_a_download_over_the_size_cap_is_refused(server: str) -> None:
    with pytest.raises(InputError) as caught:
        read_source(f"{server}/big", max_bytes=1_024)
    assert str(caught.value) == f"{server}/big: larger than 1,024 bytes; refusing it"
    assert read_source(f"{server}/big", max_bytes=10_000).data.startswith(b"<rss>")


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputError, match=r"^http://127\.0\.0\.1:\d+/x: unreachable \("):
        read_source(f"http://127.0.0.1:{port}/x")
