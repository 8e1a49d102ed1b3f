"""Rate limits: Redis counters in production, process memory when embedded."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app

from app.errors import RateLimited

logger = logging.getLogger(__name__)


class MemoryWindows:
    """Fixed-window counters in this process (embedded mode: one process)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        """Count one hit; return the count in this window."""
        now = time.monotonic()
        with self._lock:
            count, ends = self._counts.get(key, (0, 0.0))
            if now >= ends:
                count, ends = 0, now + window
                if len(self._counts) > 100_000:
                    self._forget_expired(now)
            count += 1
            self._counts[key] = (count, ends)
        return count

    def remaining(self, key: str, window: int) -> float:
        """Return the seconds left in ``key``'s window."""
        _, ends = self._counts.get(key, (0, 0.0))
        return max(0.0, ends - time.monotonic()) or float(window)

    def _forget_expired(self, now: float) -> None:
        for stale in [k for k, (_, ends) in self._counts.items() if ends <= now]:
            del self._counts[stale]


class RedisWindows:
    """Fixed-window counters in Redis, shared by every process."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def hit(self, key: str, window: int) -> int:
        """Count one hit; return the count in this window (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(f"rl:{key}")
        pipe.expire(f"rl:{key}", window, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def remaining(self, key: str, window: int) -> float:
        """Return the seconds left in ``key``'s window."""
        ttl = self.client.ttl(f"rl:{key}")
        return float(ttl if ttl and ttl > 0 else window)


class RateLimiter:
    """Bound to the app: ``limiter.check(key, limit, window)`` raises RateLimited."""

    def init_app(self, app: Any) -> None:
        """Use Redis when configured, else memory."""
        client = app.extensions["redis"]
        app.extensions["ratelimit"] = (
            RedisWindows(client) if client else MemoryWindows()
        )

    def check(
        self, key: str, limit: int, window: int, message: str | None = None
    ) -> None:
        """Count a hit on ``key``; raise RateLimited past ``limit`` per ``window`` s."""
        windows = current_app.extensions["ratelimit"]
        try:
            if windows.hit(key, window) <= limit:
                return
            remaining = windows.remaining(key, window)
        except Exception:
            # A rate limiter that is down must not take the chat down with it.
            logger.warning(
                "Rate limiter unavailable for %s; allowing", key, exc_info=True
            )
            return
        raise RateLimited(
            message or "Too many requests. Wait a few seconds and try again.",
            retry_after=max(1, math.ceil(remaining)),
        )


class InFlightLimit:
    """Refuses work past a number of calls running at once in this process.

    Past the rate a process can store, sends would queue for the database
    and the event loop, and every message would arrive seconds late.
    Refusing the excess at once with a rate-limit error keeps the rest
    fast; clients retry with the same client message id.
    """

    def __init__(self) -> None:
        self.limit = 0
        self.running = 0

    def init_app(self, app: Any) -> None:
        """Take the limit from the settings (0: no limit)."""
        self.limit = app.config["SETTINGS"].sends_in_flight

    @contextmanager
    def admit(self, message: str) -> Iterator[None]:
        """Run the block, or raise RateLimited if the process is full."""
        if self.limit and self.running >= self.limit:
            logger.info("Refused work: %d calls already running", self.running)
            raise RateLimited(message, retry_after=1)
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
