"""Everything that depends on the async mode, in one place.

The web process runs on eventlet by default or on gevent by one setting
(``ASYNC_MODE``). Both need the standard library patched before anything opens
a socket, and psycopg2 given a wait callback so that PostgreSQL queries yield
to other green threads instead of stalling the whole process.
"""

from __future__ import annotations

import gc
import logging
import socket
import time
import warnings
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

_patched: str | None = None


def patch(mode: str) -> None:
    """Monkey-patch the standard library and psycopg2 for ``mode``.

    Call it first thing in the process, before Flask, SQLAlchemy or redis are
    imported. Calling it again with the same mode does nothing.
    """
    global _patched
    if _patched == mode:
        return
    if _patched is not None:
        raise RuntimeError(f"Already patched for {_patched}; cannot switch to {mode}.")

    if mode == "eventlet":
        with warnings.catch_warnings():
            # Chosen knowingly; docs/performance.md compares it with gevent.
            warnings.simplefilter("ignore")
            import eventlet

        eventlet.monkey_patch()
        from psycogreen.eventlet import patch_psycopg
    elif mode == "gevent":
        import gevent
        from gevent import monkey

        # gevent keeps each greenlet's spawning stack for debugging tools: a
        # dozen objects per connection that every full collection walks.
        gevent.config.track_greenlet_tree = False
        monkey.patch_all()
        from psycogreen.gevent import patch_psycopg
    else:
        raise ValueError(f"Unknown async mode {mode!r}; use eventlet or gevent.")

    patch_psycopg()
    _patched = mode


def run_blocking(function, *args):
    """Run a CPU-heavy call (password hashing) off the event loop.

    Under eventlet or gevent, a long C call in the loop's thread stalls every
    connection of the process; a real OS thread does not. Unpatched, the
    call simply runs here.
    """
    if _patched == "eventlet":
        from eventlet import tpool

        return tpool.execute(function, *args)
    if _patched == "gevent":
        from gevent import get_hub

        return get_hub().threadpool.apply(function, args)
    return function(*args)


def patched_mode() -> str | None:
    """Return the async mode this process was patched for, if any."""
    return _patched


class StripDeflate:
    """WSGI middleware that declines permessage-deflate on WebSocket upgrades.

    Browsers offer compression on every WebSocket. Accepting it keeps a zlib
    stream per direction per connection (about 90 KB each, measured), which
    dominates the memory of an idle connection; chat frames are too small to
    gain much from it. Neither eventlet nor gevent-websocket has a switch, so
    the offer is removed from the request before the upgrade is answered.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


def unmask(data: bytes, mask: bytes, length: int | None = None, offset: int = 0):
    """Return WebSocket ``data`` XORed with the 4-byte ``mask`` from ``offset``.

    Every frame a client sends is masked. eventlet and gevent-websocket undo
    the mask one byte at a time in Python, which took an eighth of the web
    process's CPU under chat traffic (py-spy, docs/performance.md); one XOR
    of two big integers gives the same bytes.
    """
    length = len(data) if length is None else length
    if not length:
        return b""
    start = offset % 4
    key = (mask[start:] + mask[:start]) * (length // 4 + 1)
    value = int.from_bytes(data[:length], "big") ^ int.from_bytes(key[:length], "big")
    return value.to_bytes(length, "big")


def _speed_up_websockets(mode: str) -> None:
    """Replace the WebSocket server's byte-by-byte unmasking with ``unmask``."""
    if mode == "eventlet":
        from eventlet.websocket import RFC6455WebSocket

        RFC6455WebSocket._apply_mask = staticmethod(unmask)
    elif mode == "gevent":
        from geventwebsocket.websocket import Header

        def unmask_payload(header: Header, payload: bytes) -> bytearray:
            return bytearray(unmask(payload, bytes(header.mask), header.length))

        Header.mask_payload = Header.unmask_payload = unmask_payload


def _freeze_start_up_objects() -> None:
    """Keep the objects built at start-up out of every later collection.

    Delivery pauses for as long as a full collection takes, and that grows
    with every object the collector tracks. The app, its modules and its
    models live as long as the process, so they are collected once here and
    then frozen (about 150,000 objects in Parley).
    """
    gc.collect()
    gc.freeze()
    logger.debug("Froze %d start-up objects", gc.get_freeze_count())


#: How often the collector looks for a finished full collection to follow.
COLLECTOR_TICK_SECONDS = 1.0
#: How often everything, frozen objects included, is collected once.
SWEEP_SECONDS = 900.0


class Collector:
    """Keeps Python's full collections short while thousands of sockets are open.

    Every open connection holds a hundred or so objects that the cyclic
    collector walks on each full collection: about 0.2 s per 2,000
    connections here, during which no message moves, every few seconds under
    traffic. Right after each full collection, what survived it is live, and
    most of it is long-lived connection state, so it is frozen: later full
    collections walk only what is newer. A frozen object that becomes
    garbage (a closed connection's cycles) is only freed by a sweep, which
    unfreezes and collects everything once every ``SWEEP_SECONDS``; that
    bounds the memory held back, and the one long pause, to a quarter hour.
    """

    def __init__(self, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.sweep_seconds = sweep_seconds
        self.full_collections = 0
        self.frozen_after = 0
        self.sweeps = 0

    def watch(self, phase: str, info: dict) -> None:
        """Count full collections (a ``gc.callbacks`` hook)."""
        if phase == "stop" and info["generation"] == 2:
            self.full_collections += 1

    def tick(self, now: float, last_sweep: float) -> float:
        """Freeze after a new full collection or sweep when due; return last sweep."""
        if now - last_sweep >= self.sweep_seconds:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.sweeps += 1
            self.frozen_after = self.full_collections
            logger.info("Swept; %d objects frozen", gc.get_freeze_count())
            return now
        if self.full_collections != self.frozen_after:
            self.frozen_after = self.full_collections
            # The young generations hold what came since; free their garbage
            # first (cheap), so that no fresh cycle waits for the sweep.
            gc.collect(1)
            gc.freeze()
        return last_sweep

    def run(self, sleep) -> None:
        """Tick for as long as the process lives, sleeping with ``sleep``."""
        gc.callbacks.append(self.watch)
        last_sweep = time.monotonic()
        while True:
            sleep(COLLECTOR_TICK_SECONDS)
            last_sweep = self.tick(time.monotonic(), last_sweep)


class Pinger:
    """Sends every connection's Engine.IO pings from one green thread.

    python-engineio starts a green thread per connection that sleeps through
    the ping interval, sends one ping and ends, and starts another after each
    pong. An idle widget is such a sleeping thread most of its life: its
    saved stack, its timer and a dozen objects that every full collection
    walks. The interval is the same for every connection, so pings fall due
    in the order they were scheduled, and a queue read by one green thread
    does the same work.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.due: deque[tuple[float, Any]] = deque()

    def schedule(self, sock: Any) -> None:
        """Stand in for ``engineio.socket.Socket.schedule_ping``.

        As there, a ping is scheduled only once the previous one was
        answered (or at connect), and ``last_ping`` is cleared meanwhile so
        that the socket is not timed out while it waits for its next ping.
        """
        if sock.last_ping:
            sock.last_ping = None
            self.due.append((time.monotonic() + self.interval, sock))

    def send_due(self, now: float) -> float:
        """Ping every open socket whose time has come; return seconds to the next."""
        from engineio import packet

        due = self.due
        while due and due[0][0] <= now:
            _, sock = due.popleft()
            if sock.closing or sock.closed:
                continue
            sock.last_ping = time.time()
            try:
                sock.send(packet.Packet(packet.PING))
            except Exception:
                logger.exception("Could not ping socket %s", sock.sid)
        return due[0][0] - now if due else self.interval

    def run(self, sleep) -> None:
        """Send pings for as long as the process lives, sleeping with ``sleep``."""
        while True:
            wait = self.send_due(time.monotonic())
            sleep(min(max(wait, PINGER_MIN_SLEEP_SECONDS), 1.0))


#: The shortest nap of the pinger between two batches of pings.
PINGER_MIN_SLEEP_SECONDS = 0.05


def _ping_from_one_thread(app: Flask) -> None:
    """Route this process's Engine.IO pings through one :class:`Pinger`."""
    from engineio.socket import Socket

    socketio = app.extensions["socketio"]
    pinger = Pinger(socketio.server.eio.ping_interval)

    def schedule_ping(sock: Socket) -> None:
        pinger.schedule(sock)

    Socket.schedule_ping = schedule_ping
    socketio.start_background_task(pinger.run, socketio.sleep)


#: The buffers of each connection's socket files. The servers allocate
#: their defaults (8 KB to read; eventlet 16 KB more to write) when a
#: connection opens and hold them while it lives, mostly idle: a sixth of an
#: idle widget's memory. A frame or response larger than this is read or
#: written past the buffer, directly.
SOCKET_BUFFER_BYTES = 2048


def _no_delay(listener: socket.socket) -> socket.socket:
    """Send each frame at once: accepted sockets inherit TCP_NODELAY on Linux.

    With Nagle's algorithm a small frame written while the previous one is
    unacknowledged waits for that ack, and a receiver with nothing to send
    back delays its ack by up to 40 ms: a live chat's every other message.
    """
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def serve(app: Flask, host: str, port: int, max_connections: int) -> None:
    """Serve ``app`` (with Socket.IO) until the process is stopped."""
    mode = app.extensions["socketio"].server.eio.async_mode
    wsgi = StripDeflate(app.wsgi_app)
    app.wsgi_app = wsgi
    _speed_up_websockets(mode)
    _ping_from_one_thread(app)
    _freeze_start_up_objects()
    app.extensions["socketio"].start_background_task(
        Collector().run, app.extensions["socketio"].sleep
    )
    logger.info("Serving on http://%s:%s with %s", host, port, mode)

    if mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        class Protocol(eventlet.wsgi.HttpProtocol):
            rbufsize = wbufsize = SOCKET_BUFFER_BYTES

        listener = _no_delay(eventlet.listen((host, port), backlog=1024))
        # eventlet's default pool holds 1,024 connections; a chat server holds
        # one per open widget, so the pool is sized by MAX_CONNECTIONS.
        eventlet.wsgi.server(
            listener,
            app,
            protocol=Protocol,
            max_size=max_connections,
            log_output=False,
            keepalive=True,
            socket_timeout=None,
        )
    elif mode == "gevent":
        from gevent.pool import Pool
        from gevent.pywsgi import WSGIServer
        from geventwebsocket.handler import WebSocketHandler

        class Handler(WebSocketHandler):
            def __init__(self, sock, address, server, rfile=None):
                rfile = rfile or sock.makefile("rb", SOCKET_BUFFER_BYTES)
                super().__init__(sock, address, server, rfile)

        server = WSGIServer(
            # The socket module is gevent's here (monkey-patched at start-up).
            _no_delay(socket.create_server((host, port), backlog=1024)),
            app,
            handler_class=Handler,
            spawn=Pool(max_connections),
            log=None,
        )
        server.serve_forever()
    else:
        raise RuntimeError(f"Cannot serve in async mode {mode!r}.")
