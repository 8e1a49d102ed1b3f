"""The JSON shapes of docs/protocol.md, built from domain objects."""

from __future__ import annotations

from typing import Any

from app.domain.content import render_html
from app.domain.conversations import MessageView, view_of
from app.models import AuthorKind, Conversation, Message


def message(
    view: MessageView, *, for_visitor: bool, live: bool = True
) -> dict[str, Any]:
    """Return a message event for one side; ``live`` adds ``prev_seq``."""
    payload: dict[str, Any] = {
        "id": view.id,
        "conversation_id": view.conversation_id,
        "seq": view.seq,
        "author": {
            "kind": view.author_kind.value,
            "id": None if view.author_kind == AuthorKind.VISITOR else view.author_id,
            "name": view.author_name,
        },
        "body": view.body,
        "html": render_html(view.body),
        "created_at": view.created_at.isoformat(),
    }
    if live:
        payload["prev_seq"] = view.prev_visible_seq if for_visitor else view.seq - 1
    own_side = (view.author_kind == AuthorKind.VISITOR) == for_visitor
    if own_side and view.client_msg_id is not None:
        payload["client_msg_id"] = view.client_msg_id
    return payload


def stored_messages(
    rows: list[Message], names: dict[int, str], *, for_visitor: bool
) -> list[dict[str, Any]]:
    """Return catch-up messages (no ``prev_seq``: the list is complete)."""
    return [
        message(
            view_of(
                row,
                names.get(row.author_id)
                if row.author_kind != AuthorKind.VISITOR
                else None,
            ),
            for_visitor=for_visitor,
            live=False,
        )
        for row in rows
    ]


def conversation(conv: Conversation) -> dict[str, Any]:
    """Return a conversation summary."""
    return {
        "id": conv.id,
        "status": conv.status.value,
        "last_seq": conv.last_seq,
        "visitor_read_seq": conv.visitor_read_seq,
        "agent_read_seq": conv.agent_read_seq,
        "assignee": (
            {"id": conv.assignee.id, "name": conv.assignee.name}
            if conv.assignee
            else None
        ),
        "team": {"id": conv.team.id, "name": conv.team.name} if conv.team else None,
    }


def conversation_for_visitor(conv: Conversation) -> dict[str, Any]:
    """A summary without the ids of agents and teams."""
    summary = conversation(conv)
    summary["last_seq"] = conv.last_visible_seq
    if summary["assignee"]:
        summary["assignee"] = {"name": summary["assignee"]["name"]}
    summary["team"] = {"name": summary["team"]["name"]} if summary["team"] else None
    return summary
