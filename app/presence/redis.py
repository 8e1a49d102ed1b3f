"""Presence in Redis, shared by every web process.

Per workspace and kind, a sorted set maps member ids to the time their
record expires. Connecting or a heartbeat pushes the expiry forward; a sweep
removes expired members, and only the process whose removal succeeds
announces them offline, so each transition is announced once.
"""

from __future__ import annotations

import time
from typing import Any

WORKSPACES = "presence:workspaces"
#: Members renewed by one ZADD.
RENEW_CHUNK = 1000

# Remove a member only if its record is still expired: a reconnect between
# the scan and the removal must win.
_REMOVE_IF_EXPIRED = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


def _key(kind: str, workspace_id: int) -> str:
    return f"presence:{kind}:{workspace_id}"


class RedisPresence:
    """Members' record expiry times in Redis sorted sets."""

    def __init__(self, client: Any, grace: float) -> None:
        self.client = client
        self.grace = grace
        self._remove = client.register_script(_REMOVE_IF_EXPIRED)

    def renew(self, kind: str, workspace_id: int, member_id: int) -> bool:
        """Extend a member's record; True if they were not online before."""
        now = time.time()
        key = _key(kind, workspace_id)
        pipe = self.client.pipeline()
        pipe.zscore(key, member_id)
        pipe.zadd(key, {member_id: now + self.grace}, gt=True)
        pipe.sadd(WORKSPACES, f"{kind}:{workspace_id}")
        previous, _, _ = pipe.execute()
        return previous is None or float(previous) <= now

    def renew_many(self, members: set[tuple[str, int, int]]) -> None:
        """Extend the records of many members, a thousand per round trip.

        One ZADD per sorted set (in chunks), not one per member: a web
        process renews every connected visitor each heartbeat, and building
        ten thousand commands held its event loop for a tenth of a second.
        Each chunk is sent on its own, so that the event loop serves other
        work between the packing of two chunks (the whole renewal took 35 to
        85 ms with 10,000 visitors, part of it packing without a pause).
        """
        if not members:
            return
        until = time.time() + self.grace
        by_key: dict[str, list[int]] = {}
        for kind, workspace_id, member_id in members:
            by_key.setdefault(_key(kind, workspace_id), []).append(member_id)
        for key, ids in by_key.items():
            for start in range(0, len(ids), RENEW_CHUNK):
                chunk = ids[start : start + RENEW_CHUNK]
                self.client.zadd(key, dict.fromkeys(chunk, until), gt=True)

    def is_online(self, kind: str, workspace_id: int, member_id: int) -> bool:
        """True while the member's record has not expired."""
        score = self.client.zscore(_key(kind, workspace_id), member_id)
        return score is not None and float(score) > time.time()

    def online(self, kind: str, workspace_id: int) -> set[int]:
        """Ids of the members of ``kind`` whose records are live."""
        members = self.client.zrangebyscore(
            _key(kind, workspace_id), time.time(), "+inf"
        )
        return {int(m) for m in members}

    def online_among(
        self, kind: str, workspace_id: int, member_ids: list[int]
    ) -> set[int]:
        """Which of ``member_ids`` have live records: one round trip."""
        if not member_ids:
            return set()
        scores = self.client.zmscore(_key(kind, workspace_id), member_ids)
        now = time.time()
        return {
            member
            for member, score in zip(member_ids, scores, strict=True)
            if score is not None and float(score) > now
        }

    def sweep(self) -> list[tuple[str, int, int]]:
        """Remove and return the members whose records expired."""
        now = time.time()
        gone = []
        for entry in self.client.smembers(WORKSPACES):
            kind, workspace = entry.decode().split(":")
            key = _key(kind, int(workspace))
            for member in self.client.zrangebyscore(key, "-inf", now):
                if self._remove(keys=[key], args=[member, now]):
                    gone.append((kind, int(workspace), int(member)))
        return gone

    def set_status(self, workspace_id: int, agent_id: int, status: str) -> None:
        """Remember an agent's chosen status."""
        self.client.hset(f"presence:status:{workspace_id}", agent_id, status)

    def get_status(self, workspace_id: int, agent_id: int) -> str:
        """Return an agent's chosen status (online unless they chose away)."""
        value = self.client.hget(f"presence:status:{workspace_id}", agent_id)
        return value.decode() if value else "online"
