"""The Redis message queue between web processes, with resync after outages."""

from __future__ import annotations

import logging
import time

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
    """

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
