"""The Redis message queue: emits published together after a batch."""

import json
import time

import redis

from app.realtime.queue import ResyncingRedisManager


def _next(pubsub, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = pubsub.get_message(timeout=0.1)
        if item is not None and item["type"] == "message":
            return json.loads(item["data"])
    return None


def test_a_batch_holds_its_publishes_and_sends_them_in_order(redis_url):
    """Nothing leaves before the block ends; then everything, in order."""
    channel = f"parley-test-{time.monotonic_ns()}"
    manager = ResyncingRedisManager(redis_url, channel=channel, write_only=True)
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(channel)
    assert listener.get_message(timeout=2)["type"] == "subscribe"

    with manager.batch():
        for n in range(3):
            manager._publish({"method": "emit", "n": n})
        with manager.batch():  # a nested batch joins the outer one
            manager._publish({"method": "emit", "n": 3})
        assert _next(listener, timeout=0.3) is None
    assert [_next(listener)["n"] for _ in range(4)] == [0, 1, 2, 3]

    manager._publish({"method": "emit", "n": 4})  # outside a batch: at once
    assert _next(listener)["n"] == 4
    assert manager._batches == {}
    listener.close()
