"""The app's Redis connection, when one is configured."""

from __future__ import annotations

from typing import Any

import redis as redis_lib
from flask import current_app


class RedisClient:
    """Holds a Redis client bound by :meth:`init_app`, or nothing in embedded mode."""

    def init_app(self, app: Any) -> None:
        """Connect lazily to ``REDIS_URL`` if it is set."""
        url = app.config["SETTINGS"].redis_url
        app.extensions["redis"] = (
            redis_lib.Redis.from_url(
                url,
                socket_connect_timeout=5,
                socket_timeout=10,
                health_check_interval=30,
            )
            if url
            else None
        )

    @property
    def client(self) -> redis_lib.Redis | None:
        """The current app's Redis client, or None in embedded mode."""
        return current_app.extensions["redis"]

    @property
    def enabled(self) -> bool:
        """True when a Redis server is configured."""
        return self.client is not None
