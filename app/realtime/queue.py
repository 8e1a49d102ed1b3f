"""The Redis message queue between web processes, with resync after outages."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from socketio import RedisManager

from app.realtime import rooms

logger = logging.getLogger(__name__)

#: Longest pause between attempts to reach Redis again.
MAX_RETRY_SECONDS = 30


class ResyncingRedisManager(RedisManager):
    """A Redis client manager that tells clients to sync after an outage.

    While this process cannot hear Redis, events published by other
    processes are lost to its clients. The messages themselves are safe in
    the database, so once the subscription is back every local client is
    asked to ``resync``, and catch-up brings what it missed.

    Emits made inside :meth:`batch` are published together, in order, in
    one round trip to Redis.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by thread, which is the green thread once monkey-patched.
        self._batches: dict[int, list[Any]] = {}

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold this thread's publishes until the block ends, then send them."""
        key = threading.get_ident()
        if key in self._batches:
            yield
            return
        self._batches[key] = []
        try:
            yield
        finally:
            self._publish_all(self._batches.pop(key))

    def _publish(self, data: Any) -> Any:
        held = self._batches.get(threading.get_ident())
        if held is None:
            return super()._publish(data)
        held.append(data)
        return None

    def _publish_all(self, items: list[Any]) -> None:
        if len(items) <= 1:
            for data in items:
                super()._publish(data)
            return
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for data in items:
                    pipe.publish(self.channel, self.json.dumps(data))
                pipe.execute()
                return
            except Exception as error:
                logger.warning(
                    "Cannot publish to Redis (%s), attempt %d", error, attempt
                )
                self.connected = False

    def _listen(self) -> Iterator[Any]:
        """Yield what the channel carries, but this process's own events.

        Every process hears its own publishes back. python-socketio has
        delivered those to the local clients already and drops them once
        decoded; matching the end of the raw text, where it puts the sender's
        id, drops them without decoding. A callback addressed to this
        process ends otherwise and still comes through.
        """
        own = self.json.dumps({"host_id": self.host_id})[1:].encode()
        for data in super()._listen():
            if isinstance(data, bytes) and data.endswith(own):
                continue
            yield data

    def _redis_listen_with_retries(self):  # noqa: D401 - generator override
        retry_sleep = 1
        had_outage = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if had_outage:
                    logger.warning("Redis is back; asking local clients to resync")
                    self._ask_clients_to_resync()
                    had_outage = False
                retry_sleep = 1
                yield from self.pubsub.listen()
            except Exception as error:
                logger.warning("Lost Redis (%s); retrying in %ss", error, retry_sleep)
                had_outage = True
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, MAX_RETRY_SECONDS)

    def _ask_clients_to_resync(self) -> None:
        for namespace in (rooms.WIDGET, rooms.AGENT):
            self.server.emit("resync", {}, namespace=namespace, ignore_queue=True)
