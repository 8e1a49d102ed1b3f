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
    yield watcher
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
