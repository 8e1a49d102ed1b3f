"""Presence in one process's memory, for the embedded mode."""

from __future__ import annotations

import threading
import time


class MemoryPresence:
    """Members' record expiry times, kept in a dict."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._expiry: dict[tuple[str, int, int], float] = {}
        self._status: dict[tuple[int, int], str] = {}
        self._lock = threading.Lock()

    def renew(self, kind: str, workspace_id: int, member_id: int) -> bool:
        """Extend a member's record; True if they were not online before."""
        key = (kind, workspace_id, member_id)
        now = time.monotonic()
        with self._lock:
            was_online = self._expiry.get(key, 0) > now
            self._expiry[key] = now + self.grace
        return not was_online

    def renew_many(self, members: set[tuple[str, int, int]]) -> None:
        """Extend the records of many members at once."""
        until = time.monotonic() + self.grace
        with self._lock:
            for key in members:
                self._expiry[key] = until

    def is_online(self, kind: str, workspace_id: int, member_id: int) -> bool:
        """True while the member's record has not expired."""
        return self._expiry.get((kind, workspace_id, member_id), 0) > time.monotonic()

    def online(self, kind: str, workspace_id: int) -> set[int]:
        """Ids of the members of ``kind`` whose records are live."""
        now = time.monotonic()
        return {
            m
            for (k, w, m), until in list(self._expiry.items())
            if k == kind and w == workspace_id and until > now
        }

    def online_among(
        self, kind: str, workspace_id: int, member_ids: list[int]
    ) -> set[int]:
        """Which of ``member_ids`` have live records."""
        now = time.monotonic()
        return {
            member
            for member in member_ids
            if self._expiry.get((kind, workspace_id, member), 0) > now
        }

    def sweep(self) -> list[tuple[str, int, int]]:
        """Remove and return the members whose records expired."""
        now = time.monotonic()
        with self._lock:
            gone = [key for key, until in self._expiry.items() if until <= now]
            for key in gone:
                del self._expiry[key]
        return gone

    def set_status(self, workspace_id: int, agent_id: int, status: str) -> None:
        """Remember an agent's chosen status."""
        self._status[(workspace_id, agent_id)] = status

    def get_status(self, workspace_id: int, agent_id: int) -> str:
        """Return an agent's chosen status (online unless they chose away)."""
        return self._status.get((workspace_id, agent_id), "online")
