"""Rendering a conversation's transcript for the visitor."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.conversations import transcript_messages
from app.domain.emails import Email, render
from app.models import AuthorKind, Conversation, User, Workspace


def render_transcript(session: Session, conversation: Conversation) -> Email | None:
    """Render ``conversation`` as text and HTML; None when nobody can receive it."""
    visitor = conversation.visitor
    if not visitor.email:
        return None

    workspace = session.get(Workspace, conversation.workspace_id)
    messages = transcript_messages(session, conversation.id)
    agent_ids = {m.author_id for m in messages if m.author_kind == AuthorKind.AGENT}
    agents = {
        user.id: user.name
        for user in session.scalars(select(User).where(User.id.in_(agent_ids)))
    }
    lines = [
        {
            "author": _author(message.author_kind, message.author_id, agents, visitor),
            "system": message.author_kind == AuthorKind.SYSTEM,
            "body": message.body,
            "at": message.created_at,
        }
        for message in messages
    ]
    context = {
        "workspace": workspace.name,
        "visitor": visitor.display_name,
        "conversation": conversation,
        "lines": lines,
    }
    return render(
        "transcript",
        recipient=visitor.email,
        subject=f"Your conversation with {workspace.name}",
        context=context,
    )


def _author(kind: AuthorKind, author_id: int | None, agents: dict, visitor) -> str:
    if kind == AuthorKind.VISITOR:
        return visitor.name or "You"
    if kind == AuthorKind.AGENT:
        return agents.get(author_id, "Agent")
    return ""
