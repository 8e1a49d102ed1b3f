"""Delivering committed changes to the clients that should see them.

The receivers here run after a commit (see app/domain/events.py). With Redis
configured, ``socketio.emit`` publishes to every web process; each delivers
to its own clients in the room.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.domain import events
from app.domain.conversations import MessageView
from app.extensions import db, presence, socketio
from app.models import Conversation
from app.realtime import payloads, rooms

logger = logging.getLogger(__name__)


def deliver_message(_sender: object, message: MessageView) -> None:
    """Send a new message to the conversation's agents, and visitor if visible."""
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
    """Send fresh summaries of changed conversations to agents and visitors."""
    with db.new_session() as session:
        conversations = session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(conversation_ids))
            .options(
                selectinload(Conversation.assignee), selectinload(Conversation.team)
            )
        ).all()
        for conversation in conversations:
            socketio.emit(
                "conversation",
                payloads.conversation(conversation),
                to=rooms.workspace_agents(conversation.workspace_id),
                namespace=rooms.AGENT,
            )
            # Every tab of the visitor is in their own room.
            socketio.emit(
                "conversation",
                payloads.conversation_for_visitor(conversation),
                to=rooms.visitor(conversation.visitor_id),
                namespace=rooms.WIDGET,
            )


def deliver_presence(kind: str, workspace_id: int, member_id: int, status: str) -> None:
    """Tell a workspace's agents that a visitor or agent came or went."""
    socketio.emit(
        "presence",
        {"kind": kind, "id": member_id, "status": status},
        to=rooms.workspace_agents(workspace_id),
        namespace=rooms.AGENT,
    )


# Connected once per process; they act on whichever app is current.
events.message_posted.connect(deliver_message)
events.conversation_changed.connect(deliver_conversations)
presence.listen(deliver_presence)
