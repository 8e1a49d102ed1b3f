"""Who is online: visitors and agents, true across web processes.

Each web process records the visitors and agents connected to it and renews
those records with a heartbeat. A record that is not renewed expires after
the grace period, so a crashed process's connections go offline by
themselves, and a page reload (a disconnect followed at once by a connect)
never shows as offline. Backends: Redis in production, memory when embedded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from app.presence.memory import MemoryPresence
from app.presence.redis import RedisPresence

logger = logging.getLogger(__name__)

#: Records are renewed three times per grace period (PRESENCE_GRACE_SECONDS),
#: so one late heartbeat never makes a connected member look offline.
BEATS_PER_GRACE = 3

Listener = Callable[[str, int, int, str], None]


class Presence:
    """Facade over the app's presence backend; bound by :meth:`init_app`."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._chores: list[Callable[[], None]] = []

    def init_app(self, app: Flask) -> None:
        """Choose the backend and remember this process's connections."""
        client = app.extensions["redis"]
        grace = app.config["SETTINGS"].presence_grace_seconds
        backend = RedisPresence(client, grace) if client else MemoryPresence(grace)
        app.extensions["presence"] = _State(backend, grace / BEATS_PER_GRACE)

    def every_beat(self, chore: Callable[[], None]) -> None:
        """Run ``chore`` (in an app context) after each heartbeat of this process."""
        self._chores.append(chore)

    def listen(self, listener: Listener) -> None:
        """Call ``listener(kind, workspace_id, id, status)`` on every change."""
        self._listeners.append(listener)

    @staticmethod
    def _state() -> _State:
        return current_app.extensions["presence"]

    def connected(self, kind: str, workspace_id: int, member_id: int, sid: str) -> None:
        """Record a new connection; announce ``online`` if it is the first."""
        state = self._state()
        with state.lock:
            state.local[sid] = (kind, workspace_id, member_id)
        if state.backend.renew(kind, workspace_id, member_id):
            # A visitor has no status but online; an agent's is asked for.
            status = "online" if kind == "visitor" else None
            self._announce(kind, workspace_id, member_id, status)
        self._start_heartbeat(state)

    def disconnected(self, sid: str) -> None:
        """Forget a connection; its record lapses after the grace period."""
        state = self._state()
        with state.lock:
            state.local.pop(sid, None)

    def is_online(self, kind: str, workspace_id: int, member_id: int) -> bool:
        """True while any process holds a live record of this member."""
        return self._state().backend.is_online(kind, workspace_id, member_id)

    def online(self, kind: str, workspace_id: int) -> set[int]:
        """Return the ids of the members of ``kind`` online in a workspace."""
        return self._state().backend.online(kind, workspace_id)

    def online_among(
        self, kind: str, workspace_id: int, member_ids: list[int]
    ) -> set[int]:
        """Return which of ``member_ids`` are online, in one look-up."""
        return self._state().backend.online_among(kind, workspace_id, member_ids)

    def set_status(self, workspace_id: int, agent_id: int, status: str) -> str:
        """Set an agent's chosen status (online or away) and announce it."""
        if status not in ("online", "away"):
            raise ValueError(status)
        self._state().backend.set_status(workspace_id, agent_id, status)
        self._announce("agent", workspace_id, agent_id)
        return status

    def status(self, kind: str, workspace_id: int, member_id: int) -> str:
        """Return online, away or offline."""
        backend = self._state().backend
        if not backend.is_online(kind, workspace_id, member_id):
            return "offline"
        if kind == "agent":
            return backend.get_status(workspace_id, member_id)
        return "online"

    def stop(self) -> None:
        """Stop this app's heartbeat (an app being thrown away, as in tests)."""
        self._state().stopped = True

    def beat(self) -> None:
        """Renew this process's records and announce members whose records lapsed."""
        state = self._state()
        with state.lock:
            members = set(state.local.values())
        state.backend.renew_many(members)
        for kind, workspace_id, member_id in state.backend.sweep():
            self._announce(kind, workspace_id, member_id, "offline")
        for chore in self._chores:
            try:
                chore()
            except Exception:
                logger.exception("Presence chore %s failed", chore.__name__)

    def _announce(
        self, kind: str, workspace_id: int, member_id: int, status: str | None = None
    ) -> None:
        status = status or self.status(kind, workspace_id, member_id)
        for listener in self._listeners:
            try:
                listener(kind, workspace_id, member_id, status)
            except Exception:
                logger.exception("Presence listener failed for %s %s", kind, member_id)

    def _start_heartbeat(self, state: _State) -> None:
        if state.heartbeat_started:
            return
        state.heartbeat_started = True
        from app.extensions import socketio

        app = current_app._get_current_object()
        socketio.start_background_task(_heartbeat_loop, app, self)


class _State:
    """One app's presence backend and this process's connections."""

    def __init__(self, backend: Any, heartbeat: float) -> None:
        self.backend = backend
        self.heartbeat = heartbeat
        self.local: dict[str, tuple[str, int, int]] = {}
        self.lock = threading.Lock()
        self.heartbeat_started = False
        self.stopped = False


def _heartbeat_loop(app: Flask, presence: Presence) -> None:
    """Renew records and sweep lapsed ones for as long as the process lives."""
    from app.extensions import socketio

    state = app.extensions["presence"]
    while not state.stopped:
        socketio.sleep(state.heartbeat)
        if state.stopped:
            return
        try:
            with app.app_context():
                presence.beat()
        except Exception:
            logger.warning("Presence heartbeat failed; retrying", exc_info=True)
