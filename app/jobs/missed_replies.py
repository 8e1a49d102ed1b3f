"""Emailing agents' replies to a visitor who left before reading them."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from app.domain.missed import render_missed_replies
from app.extensions import db, presence
from app.jobs import job
from app.mail import send_email
from app.models import AuthorKind, Conversation, Message, User, Workspace

logger = logging.getLogger(__name__)


@job
def email_missed_replies(conversation_id: int) -> bool:
    """Email the replies a visitor has not read, once; True if an email went out.

    Nothing is sent while the visitor is online (they see replies live), when
    they left no email, or when every reply was read or emailed already.
    """
    session = db.session
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not conversation.visitor.email:
        return False
    if presence.is_online(
        "visitor", conversation.workspace_id, conversation.visitor_id
    ):
        logger.info("Visitor of conversation %s is online; no email", conversation_id)
        return False

    after = max(conversation.visitor_read_seq, conversation.emailed_seq)
    replies = list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.author_kind == AuthorKind.AGENT,
                Message.seq > after,
            )
            .order_by(Message.seq)
        )
    )
    if not replies:
        return False

    names = dict(
        session.execute(
            select(User.id, User.name).where(
                User.id.in_({m.author_id for m in replies})
            )
        ).all()
    )
    workspace = session.get(Workspace, conversation.workspace_id)
    email = render_missed_replies(workspace, conversation, replies, names)
    send_email(
        current_app.config["SETTINGS"],
        to=email.recipient,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )
    # Only forward: a concurrent run that got further keeps its mark.
    if conversation.emailed_seq < replies[-1].seq:
        conversation.emailed_seq = replies[-1].seq
    session.commit()
    return True
