"""Visitors' comings and goings reach agents gathered, at most once an interval."""

import time

from app.realtime import broadcast
from tests.support.services import wait_until


def test_changes_are_gathered_per_workspace_with_the_latest_status(app, monkeypatch):
    """A burst is one event per workspace; a visitor who came and went is offline."""
    sent = []
    monkeypatch.setattr(
        broadcast, "_send_visitor_changes", lambda w, changes: sent.append((w, changes))
    )
    changes = broadcast.VisitorChanges(interval=0.2)
    for visitor in range(1, 1001):
        changes.add(1, visitor, "online")
    changes.add(1, 7, "offline")
    changes.add(2, 9, "online")

    wait_until(lambda: len(sent) == 2, timeout=5, what="one event per workspace")
    by_workspace = dict(sent)
    assert by_workspace[2] == {9: "online"}
    assert len(by_workspace[1]) == 1000 and by_workspace[1][7] == "offline"

    # Nothing pending: the sender ends, and a later change starts it again.
    time.sleep(0.5)
    assert len(sent) == 2
    changes.add(1, 3, "offline")
    wait_until(lambda: len(sent) == 3, timeout=5, what="a later change")
    assert sent[-1] == (1, {3: "offline"})


def test_the_event_lists_who_came_and_who_went(app, monkeypatch):
    """The payload: sorted ids of visitors now online and now offline."""
    emitted = []

    def emit(*args, **kwargs):
        emitted.append((args, kwargs))

    monkeypatch.setattr(broadcast.socketio, "emit", emit)
    broadcast._send_visitor_changes(4, {3: "online", 1: "online", 2: "offline"})
    [((event, payload), kwargs)] = emitted
    assert event == "presence:visitors"
    assert payload == {"online": [1, 3], "offline": [2]}
    assert kwargs["to"] == broadcast.rooms.workspace_agents(4)
    assert kwargs["namespace"] == broadcast.rooms.AGENT
