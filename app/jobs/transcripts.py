"""Emailing a closed conversation's transcript to the visitor."""

from __future__ import annotations

import logging

from flask import current_app

from app.db import utcnow
from app.domain.transcripts import render_transcript
from app.extensions import db
from app.jobs import job
from app.mail import send_email
from app.models import Conversation, ConversationStatus

logger = logging.getLogger(__name__)


@job
def send_transcript(conversation_id: int) -> bool:
    """Email the transcript of a closed conversation once; True if sent now."""
    session = db.session
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.status != ConversationStatus.CLOSED:
        logger.info(
            "Conversation %s is gone or open again; no transcript", conversation_id
        )
        return False
    if conversation.transcript_sent_at and conversation.transcript_sent_at >= (
        conversation.closed_at or conversation.transcript_sent_at
    ):
        logger.info("Transcript of conversation %s was already sent", conversation_id)
        return False

    transcript = render_transcript(session, conversation)
    if transcript is None:
        logger.info("Visitor of conversation %s left no email", conversation_id)
        return False

    send_email(
        current_app.config["SETTINGS"],
        to=transcript.recipient,
        subject=transcript.subject,
        text=transcript.text,
        html=transcript.html,
    )
    conversation.transcript_sent_at = utcnow()
    session.commit()
    return True
