"""Emailing agents' replies to a visitor who left before reading them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.db import utcnow
from app.domain.missed import render_missed_replies
from app.extensions import db, jobs, presence
from app.jobs import job
from app.mail import send_email
from app.models import AuthorKind, Conversation, Message, User, Workspace

logger = logging.getLogger(__name__)


@job
def email_missed_replies(conversation_id: int) -> bool:
    """Email the replies a visitor has not read, once; True if an email went out.

    Nothing is sent while the visitor is online (they see replies live), when
    they left no email, or when every reply was read or emailed already.
    Replies younger than the delay are left to a later run, which this one
    queues, so one run can stand for every reply of a busy conversation.
    """
    session = db.session
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not conversation.visitor.email:
        return False
    delay = timedelta(
        seconds=current_app.config["SETTINGS"].missed_reply_email_delay_seconds
    )
    # A reply is due once it has waited the delay (a second early is close
    # enough); younger ones get a run of their own later.
    due_by = utcnow() - delay + timedelta(seconds=1)
    replies = _unread_replies(session, conversation)
    if replies and replies[0].created_at > due_by:
        _run_again(conversation_id, replies[0].created_at + delay)
        return False
    if presence.is_online(
        "visitor", conversation.workspace_id, conversation.visitor_id
    ):
        logger.info("Visitor of conversation %s is online; no email", conversation_id)
        younger = [reply for reply in replies if reply.created_at > due_by]
        if younger:
            _run_again(conversation_id, younger[0].created_at + delay)
        return False
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


def _unread_replies(session: Any, conversation: Conversation) -> list[Message]:
    after = max(conversation.visitor_read_seq, conversation.emailed_seq)
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation.id,
                Message.author_kind == AuthorKind.AGENT,
                Message.seq > after,
            )
            .order_by(Message.seq)
        )
    )


def _run_again(conversation_id: int, at: datetime) -> None:
    wait = max((at - utcnow()).total_seconds(), 0)
    jobs.defer("email_missed_replies", delay=wait, conversation_id=conversation_id)
