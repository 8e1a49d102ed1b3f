"""Connects routing to the application: events, and the offline sweep.

Receivers are connected once per process, at import, and act on whichever
app is current when the event is sent (the sender has committed by then).
Each web process also runs a loop, started by its first request (so CLI
commands and workers start none), that requeues the conversations of agents
offline past their team's grace period. Several processes may sweep at once.
"""

from __future__ import annotations

import logging

from flask import Flask, has_app_context, request_started

from app.domain import events
from app.extensions import db, socketio
from app.routing.assignment import (
    after_close,
    route_new_conversation,
    sweep_offline_agents,
)

logger = logging.getLogger(__name__)

#: Seconds between offline sweeps: a requeue comes at most this long after
#: the grace period ends, and a sweep costs one indexed query when idle.
SWEEP_SECONDS = 30

_STARTED = "routing.offline_sweeper"


def _route_started(_sender: object, conversation_id: int, **_extra: object) -> None:
    """Route a conversation a visitor just started."""
    if not has_app_context():
        logger.debug("No app for conversation %s; not routed here", conversation_id)
        return
    try:
        route_new_conversation(db.session, conversation_id)
    except Exception:
        # The visitor's message is stored either way; an unrouted
        # conversation still shows in the inbox for an agent to take.
        db.session.rollback()
        logger.exception("Routing conversation %s failed", conversation_id)


def _refill_after_close(
    _sender: object, conversation_id: int, **_extra: object
) -> None:
    """Hand the room a closed conversation left to the longest-waiting one."""
    if not has_app_context():
        return
    try:
        after_close(db.session, conversation_id)
    except Exception:
        db.session.rollback()
        logger.exception(
            "Refilling after conversation %s closed failed", conversation_id
        )


def sweep_once(app: Flask) -> list[int]:
    """Requeue the conversations of agents offline past grace; return their ids."""
    with app.app_context():
        try:
            return sweep_offline_agents(db.session)
        finally:
            db.session.remove()


def _start_sweeper(sender: Flask, **_extra: object) -> None:
    """Start this process's offline sweep loop once, outside tests."""
    if sender.testing or sender.extensions.get(_STARTED):
        return
    sender.extensions[_STARTED] = True
    socketio.start_background_task(_sweep_loop, sender)
    logger.info("Offline sweeper started")


def _sweep_loop(app: Flask) -> None:
    """Sweep every SWEEP_SECONDS for as long as the process lives."""
    while True:
        socketio.sleep(SWEEP_SECONDS)
        try:
            requeued = sweep_once(app)
        except Exception:
            logger.warning("Offline sweep failed; trying again later", exc_info=True)
        else:
            if requeued:
                logger.info("Offline sweep requeued conversations %s", requeued)


events.conversation_started.connect(_route_started)
events.conversation_closed.connect(_refill_after_close)
request_started.connect(_start_sweeper)
