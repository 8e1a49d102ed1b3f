"""The agent console."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app.domain.conversations import close_conversation, messages_after
from app.domain.tenancy import Tenant
from app.extensions import db
from app.models import Conversation, ConversationStatus

bp = Blueprint("console", __name__, url_prefix="/console")


def current_tenant() -> Tenant:
    """Return the signed-in user's workspace scope."""
    return Tenant(db.session, current_user.workspace_id)


@bp.get("/")
@login_required
def inbox():
    """List the workspace's open conversations, longest waiting first."""
    tenant = current_tenant()
    conversations = db.session.scalars(
        tenant.select(Conversation)
        .where(Conversation.status != ConversationStatus.CLOSED)
        .options(joinedload(Conversation.assignee))
        .order_by(Conversation.created_at)
        .limit(50)
    ).all()
    return render_template("console/inbox.html", conversations=conversations)


@bp.get("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    """Show one conversation with its messages, notes included."""
    tenant = current_tenant()
    found = tenant.get(Conversation, conversation_id)
    messages = messages_after(db.session, found.id, 0, include_notes=True)
    return render_template(
        "console/conversation.html", conversation=found, messages=messages
    )


@bp.post("/conversations/<int:conversation_id>/close")
@login_required
def close(conversation_id: int):
    """Close a conversation; the visitor gets the transcript by email."""
    close_conversation(current_tenant(), conversation_id, by=current_user)
    flash("Conversation closed.", "info")
    return redirect(url_for("console.conversation", conversation_id=conversation_id))
