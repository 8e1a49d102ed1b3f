"""The web process's collector: short full collections, with a periodic sweep."""

import gc
import weakref

import pytest

from app.runtime import Collector


class Cycle:
    """An object that refers to itself, so only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector():
    """A Collector watching this process's collections; unfreezes afterwards."""
    watcher = Collector(sweep_seconds=100)
    gc.callbacks.append(watcher.watch)
    # Only the tests' own collections: one started by allocations (here or
    # in a thread an earlier test left) would count as a new full one.
    gc.disable()
    try:
        yield watcher
    finally:
        gc.enable()
        gc.callbacks.remove(watcher.watch)
        gc.unfreeze()


def test_freezes_what_survives_a_full_collection(collector):
    """After a full collection the survivors are frozen, once."""
    gc.unfreeze()
    survivor = [object() for _ in range(100)]
    gc.collect()

    assert collector.tick(now=10, last_sweep=0) == 0
    frozen = gc.get_freeze_count()
    assert frozen >= len(survivor)

    gc.collect(0)
    collector.tick(now=11, last_sweep=0)
    assert gc.get_freeze_count() == frozen


def test_no_freeze_without_a_full_collection(collector):
    """Young collections alone never freeze anything."""
    gc.unfreeze()
    gc.collect(1)
    collector.tick(now=10, last_sweep=0)
    assert gc.get_freeze_count() == 0


def test_sweep_frees_cycles_that_were_frozen(collector):
    """A frozen cycle that became garbage is freed by the next sweep."""
    gc.unfreeze()
    cycle = Cycle()
    gone = weakref.ref(cycle)
    gc.collect()
    collector.tick(now=10, last_sweep=0)
    del cycle
    gc.collect()
    assert gone() is not None, "frozen objects wait for the sweep"

    assert collector.tick(now=150, last_sweep=0) == 150
    assert gone() is None
    assert collector.sweeps == 1


def test_accepted_sockets_send_without_nagle_delay():
    """The listener's TCP_NODELAY is what every accepted connection gets."""
    import socket

    from app.runtime import _no_delay

    listener = _no_delay(socket.create_server(("127.0.0.1", 0)))
    with listener, socket.create_connection(listener.getsockname()):
        accepted, _address = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


class FakeSocket:
    """What the pinger touches of an Engine.IO socket."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.last_ping = 1.0  # engineio sets it at creation
        self.closing = self.closed = False
        self.sent: list = []

    def send(self, pkt) -> None:
        self.sent.append(pkt)


def test_pinger_pings_in_schedule_order_when_due(monkeypatch):
    """Sockets are pinged once their interval has passed, oldest first."""
    from engineio import packet

    from app import runtime

    clock = [100.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock[0])
    pinger = runtime.Pinger(interval=25)
    first, second = FakeSocket("a"), FakeSocket("b")
    pinger.schedule(first)
    clock[0] = 110.0
    pinger.schedule(second)
    assert first.last_ping is None and second.last_ping is None

    assert pinger.send_due(124.0) == pytest.approx(1.0)
    assert first.sent == [] and second.sent == []

    assert pinger.send_due(125.0) == pytest.approx(10.0)
    assert [p.packet_type for p in first.sent] == [packet.PING]
    assert first.last_ping is not None
    assert second.sent == []

    assert pinger.send_due(135.0) == 25
    assert [p.packet_type for p in second.sent] == [packet.PING]


def test_pinger_waits_for_the_pong_and_skips_closed_sockets(monkeypatch):
    """No second ping is queued before a pong; a closed socket is dropped."""
    from app import runtime

    monkeypatch.setattr(runtime.time, "monotonic", lambda: 0.0)
    pinger = runtime.Pinger(interval=25)
    waiting, gone = FakeSocket("a"), FakeSocket("b")
    pinger.schedule(waiting)
    pinger.schedule(waiting)  # a ping is already due: nothing more queued
    pinger.schedule(gone)
    assert len(pinger.due) == 2

    gone.closed = True
    pinger.send_due(25.0)
    assert len(waiting.sent) == 1
    assert gone.sent == []
    assert not pinger.due
