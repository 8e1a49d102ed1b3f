"""The Redis message queue: emits published together after a batch."""

import json
import threading
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


def test_the_listener_passes_other_processes_events_and_skips_its_own(redis_url):
    """Its own emits were delivered when sent; others' and callbacks come in."""
    channel = f"parley-test-{time.monotonic_ns()}"
    here = ResyncingRedisManager(redis_url, channel=channel)
    there = ResyncingRedisManager(redis_url, channel=channel, write_only=True)
    for manager in (here, there):
        manager._handle_emit = lambda _message: None  # no server to deliver to
    heard: list[dict] = []
    done = threading.Event()

    def listen() -> None:
        for data in here._listen():
            if done.is_set():
                return
            heard.append(json.loads(data))

    listening = threading.Thread(target=listen, daemon=True)
    listening.start()
    deadline = time.monotonic() + 5
    while not here.pubsub or not here.pubsub.subscribed:
        assert time.monotonic() < deadline, "the listener never subscribed"
        time.sleep(0.01)

    here.emit("message", {"body": "mine"}, namespace="/agent", room="a")
    there.emit("message", {"body": "theirs"}, namespace="/agent", room="a")
    # An ack from a client of "there" to an emit "here" made: addressed here.
    there._publish(
        {"method": "callback", "host_id": here.host_id, "sid": "s",
         "namespace": "/agent", "id": 1, "args": [{"ok": True}]}
    )  # fmt: skip
    with here.batch():
        here.emit("conversation", {"id": 1}, namespace="/agent", room="b")
    there.emit("message", {"body": "last"}, namespace="/agent", room="a")

    while len(heard) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # anything more would have arrived by now
    assert [(m["method"], m.get("data")) for m in heard] == [
        ("emit", [{"body": "theirs"}]),
        ("callback", None),
        ("emit", [{"body": "last"}]),
    ]
    # Stop listening (one more event wakes the listener), so that no thread
    # is left retrying once this session's Redis has gone.
    done.set()
    there.emit("message", {"body": "bye"}, namespace="/agent", room="a")
    listening.join(timeout=5)
    assert not listening.is_alive()
