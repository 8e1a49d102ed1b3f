"""Engine.IO pings from a real server process: sent on time, and enforced."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import websocket

from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port

INTERVAL = 1
TIMEOUT = 1


@pytest.fixture(params=["eventlet", "gevent"])
def web(request, database_url):
    """One web process pinging every second and waiting a second for pongs."""
    port = free_port()
    env = base_env(
        PARLEY_ENV="development",
        DATABASE_URL=database_url,
        SECRET_KEY="ping-test-secret-key-of-enough-length",
        ASYNC_MODE=request.param,
        PING_INTERVAL_SECONDS=str(INTERVAL),
        PING_TIMEOUT_SECONDS=str(TIMEOUT),
    )
    with WebProcess(
        "parley serve", env, port, name=f"web-{request.param}"
    ).serving() as process:
        yield process


def _open(process: WebProcess) -> websocket.WebSocket:
    """An Engine.IO connection over a raw WebSocket, past its open packet."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{process.port}/socket.io/?EIO=4&transport=websocket",
        timeout=10,
    )
    opened = ws.recv()
    assert opened.startswith("0"), opened
    handshake = json.loads(opened[1:])
    assert handshake["pingInterval"] == INTERVAL * 1000
    assert handshake["pingTimeout"] == TIMEOUT * 1000
    return ws


def test_pings_keep_coming_while_answered(web):
    """A client that answers every ping is pinged about once per interval."""
    ws = _open(web)
    pings = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < 5 * INTERVAL:
            frame = ws.recv()
            if frame == "2":
                pings.append(time.monotonic() - started)
                ws.send("3")
    finally:
        ws.close()
    # Due at about 1, 2, 3 and 4 s (pings are sent within a second of due).
    assert len(pings) >= 3, pings
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert all(0.5 * INTERVAL <= gap <= 2.5 * INTERVAL for gap in gaps), pings


def test_unanswered_ping_closes_the_connection(web):
    """Pings stop being answered: the server closes the socket soon after."""
    ws = _open(web)
    started = time.monotonic()
    received = []
    closed_after = None
    try:
        while time.monotonic() - started < 15:
            try:
                frame = ws.recv()
            except (websocket.WebSocketConnectionClosedException, OSError):
                closed_after = time.monotonic() - started
                break
            if not frame:
                closed_after = time.monotonic() - started
                break
            received.append(frame)
    finally:
        ws.close()
    assert "2" in received, received
    assert closed_after is not None, f"still open after 15 s: {received}"
    # One interval to the ping, one timeout for the pong, and the check's tick.
    assert closed_after <= INTERVAL + TIMEOUT + 4, closed_after
