"""A real HTTP server on loopback that accepts what sentry-sdk sends.

It speaks just enough of Sentry's ingest API (``POST /api/<project>/envelope/``)
to keep each envelope, read with sentry-sdk's own parser, so a test can check
what an app reported.
"""

from __future__ import annotations

import gzip
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.observability import EVENTLET_WARNING
from tests.support.services import wait_until

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=EVENTLET_WARNING)
    from sentry_sdk.envelope import Envelope


def _decode(body: bytes, encoding: str) -> bytes:
    """Undo the transport's compression (gzip without the brotli module)."""
    return gzip.decompress(body) if encoding == "gzip" else body


class SentryIngest:
    """Sentry's envelope endpoint on a free loopback port, keeping every item."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.lock = threading.Lock()
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                raw = _decode(body, self.headers.get("Content-Encoding", ""))
                with ingest.lock:
                    ingest.envelopes.append(Envelope.deserialize(raw))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                """Keep the test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public@127.0.0.1:{self.server.server_port}/1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SentryIngest:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        """Return the error events received so far."""
        with self.lock:
            return [
                item.payload.json
                for envelope in self.envelopes
                for item in envelope.items
                if item.type == "event"
            ]

    def wait_for_events(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Wait until at least ``count`` events have arrived; return them."""
        wait_until(
            lambda: len(self.events()) >= count,
            timeout=timeout,
            what=f"{count} Sentry event(s)",
        )
        return self.events()
