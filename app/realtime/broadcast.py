"""Delivering committed changes to the clients that should see them.

The receivers here run after a commit (see app/domain/events.py). With Redis
configured, ``socketio.emit`` publishes to every web process; each delivers
to its own clients in the room.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain import events
from app.domain.conversations import MessageView
from app.extensions import db, presence, socketio
from app.models import Conversation
from app.realtime import payloads, rooms
from app.routing.queue import queued_conversations

logger = logging.getLogger(__name__)


def deliver_message(_sender: object, message: MessageView) -> None:
    """Send a new message to the conversation's agents, and visitor if visible."""
    with _batch():
        _deliver_message(message)


def _batch() -> AbstractContextManager[None]:
    """Publish the emits of the block together when the queue can."""
    batch = getattr(socketio.server.manager, "batch", None)
    return batch() if batch is not None else nullcontext()


def _deliver_message(message: MessageView) -> None:
    socketio.emit(
        "message",
        payloads.message(message, for_visitor=False),
        to=rooms.agent_side(message.conversation_id),
        namespace=rooms.AGENT,
    )
    if message.visible_to_visitor:
        socketio.emit(
            "message",
            payloads.message(message, for_visitor=True),
            to=rooms.visitor_side(message.conversation_id),
            namespace=rooms.WIDGET,
        )
    socketio.emit(
        "conversation",
        {
            "id": message.conversation_id,
            "last_seq": message.seq,
            "last_message": {
                "author": {
                    "kind": message.author_kind.value,
                    "name": message.author_name,
                },
                "body": message.body[:200],
                "created_at": message.created_at.isoformat(),
            },
        },
        to=rooms.workspace_agents(message.workspace_id),
        namespace=rooms.AGENT,
    )


def deliver_conversations(_sender: object, conversation_ids: set[int]) -> None:
    """Send fresh summaries of changed conversations to agents and visitors.

    A conversation leaving or joining a queue moves everyone behind it, so
    the visitors still waiting in those teams' queues hear their new place.
    """
    with db.new_session() as session:
        changed = _load(session, conversation_ids)
        for conversation in changed:
            socketio.emit(
                "conversation",
                payloads.conversation(conversation),
                to=rooms.workspace_agents(conversation.workspace_id),
                namespace=rooms.AGENT,
            )
            _tell_visitor(session, conversation)
        for team_id in {c.team_id for c in changed if c.team_id is not None}:
            waiting = queued_conversations(session, team_id)
            peers = {c.id: c for c in _load(session, set(waiting) - conversation_ids)}
            for position, conversation_id in enumerate(waiting, start=1):
                if conversation_id in peers:
                    _tell_visitor(session, peers[conversation_id], position)


def _load(session: Session, ids: set[int]) -> list[Conversation]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(ids))
            .options(
                selectinload(Conversation.assignee), selectinload(Conversation.team)
            )
        )
    )


def _tell_visitor(
    session: Session, conversation: Conversation, position: int | None = None
) -> None:
    # Every tab of the visitor is in their own room.
    socketio.emit(
        "conversation",
        payloads.conversation_for_visitor(conversation, session, position),
        to=rooms.visitor(conversation.visitor_id),
        namespace=rooms.WIDGET,
    )


def deliver_presence(kind: str, workspace_id: int, member_id: int, status: str) -> None:
    """Tell a workspace's agents that a visitor or agent came or went.

    An agent's change goes out at once. Visitors' are gathered and sent
    together (see :class:`VisitorChanges`).
    """
    if kind == "visitor":
        visitor_changes.add(workspace_id, member_id, status)
        return
    socketio.emit(
        "presence",
        {"kind": kind, "id": member_id, "status": status},
        to=rooms.workspace_agents(workspace_id),
        namespace=rooms.AGENT,
    )


class VisitorChanges:
    """Visitors' comings and goings, sent to agents at most once an interval.

    Announced one by one, a restart that brings 10,000 widgets back would
    send every agent of the workspace 10,000 events (with 50 agents, half a
    million frames, a third of the time the process took to take the
    connections back). Gathered, each agent gets one ``presence:visitors``
    event an interval from each web process, with each visitor's latest
    status. A green thread sends them while there are any, then ends.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._pending: dict[int, dict[int, str]] = {}
        self._lock = threading.Lock()
        self._sending = False

    def add(self, workspace_id: int, visitor_id: int, status: str) -> None:
        """Queue a visitor's new status for the next event to its workspace."""
        with self._lock:
            self._pending.setdefault(workspace_id, {})[visitor_id] = status
            start, self._sending = not self._sending, True
        if start:
            socketio.start_background_task(self._send_while_pending)

    def _send_while_pending(self) -> None:
        while True:
            socketio.sleep(self.interval)
            with self._lock:
                pending, self._pending = self._pending, {}
                if not pending:
                    self._sending = False
                    return
            for workspace_id, changes in pending.items():
                try:
                    _send_visitor_changes(workspace_id, changes)
                except Exception:
                    logger.exception("Visitor presence for %s not sent", workspace_id)


def _send_visitor_changes(workspace_id: int, changes: dict[int, str]) -> None:
    socketio.emit(
        "presence:visitors",
        {
            "online": sorted(v for v, status in changes.items() if status == "online"),
            "offline": sorted(v for v, status in changes.items() if status != "online"),
        },
        to=rooms.workspace_agents(workspace_id),
        namespace=rooms.AGENT,
    )


#: Seconds between two ``presence:visitors`` events of a web process.
VISITOR_PRESENCE_INTERVAL = 1.0
visitor_changes = VisitorChanges(VISITOR_PRESENCE_INTERVAL)


# Connected once per process; they act on whichever app is current.
events.message_posted.connect(deliver_message)
events.conversation_changed.connect(deliver_conversations)
presence.listen(deliver_presence)
