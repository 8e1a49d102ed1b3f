"""Connects routing to the domain events: route what starts, refill what frees.

Receivers are connected once per process, at import, and act on whichever
app is current when the event is sent (the sender has committed by then).
"""

from __future__ import annotations

import logging

from flask import has_app_context

from app.domain import events
from app.extensions import db
from app.routing.assignment import after_close, route_new_conversation

logger = logging.getLogger(__name__)


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


events.conversation_started.connect(_route_started)
events.conversation_closed.connect(_refill_after_close)
