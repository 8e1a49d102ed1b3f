"""Rendering the email of replies a visitor missed."""

from __future__ import annotations

from app.domain.emails import Email, render
from app.models import Conversation, Message, Workspace


def render_missed_replies(
    workspace: Workspace,
    conversation: Conversation,
    replies: list[Message],
    names: dict[int, str],
) -> Email:
    """Render the replies as text and HTML, with a link back to the page."""
    page = (conversation.context or {}).get("url") or (
        conversation.visitor.last_page or {}
    ).get("url")
    context = {
        "workspace": workspace.name,
        "visitor": conversation.visitor.display_name,
        "replies": [
            {
                "author": names.get(m.author_id, "Support"),
                "body": m.body,
                "at": m.created_at,
            }
            for m in replies
        ],
        "page": page if page and page.startswith(("http://", "https://")) else None,
    }
    count = len(replies)
    return render(
        "missed_replies",
        recipient=conversation.visitor.email,
        subject=f"{workspace.name} replied to you"
        + (f" ({count} new messages)" if count > 1 else ""),
        context=context,
    )
