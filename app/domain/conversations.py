"""Conversations and messages: starting, posting, closing."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain import audit, events
from app.domain.content import clean_body
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ValidationError
from app.models import (
    AuthorKind,
    Conversation,
    ConversationStatus,
    Message,
    User,
    Visitor,
)

MAX_CLIENT_ID = 64


def start_conversation(
    tenant: Tenant, visitor: Visitor, *, team_id: int | None = None
) -> Conversation:
    """Open a new conversation for ``visitor`` and commit it."""
    if visitor.workspace_id != tenant.workspace_id:
        raise NotFound("No such visitor in this workspace.")
    conversation = tenant.add(
        Conversation(visitor_id=visitor.id, team_id=team_id, last_seq=0)
    )
    tenant.session.commit()
    return conversation


def post_message(
    session: Session,
    conversation_id: int,
    *,
    author_kind: AuthorKind,
    author_id: int | None,
    body: object,
    client_msg_id: str | None = None,
) -> tuple[Message, bool]:
    """Store a message with the conversation's next sequence number and commit.

    Returns the message and whether it was created now. A retry with a client
    message id already stored by the same author returns the first message
    and stores nothing.
    """
    message, created = append_message(
        session,
        conversation_id,
        author_kind=author_kind,
        author_id=author_id,
        body=body,
        client_msg_id=client_msg_id,
    )
    session.commit()
    return message, created


def append_message(
    session: Session,
    conversation_id: int,
    *,
    author_kind: AuthorKind,
    author_id: int | None,
    body: object,
    client_msg_id: str | None = None,
) -> tuple[Message, bool]:
    """Add a message to the caller's transaction, as :func:`post_message` does."""
    text = clean_body(body)
    if client_msg_id is not None and (
        not isinstance(client_msg_id, str)
        or not 0 < len(client_msg_id) <= MAX_CLIENT_ID
    ):
        raise ValidationError(
            f"A client message id is text of 1 to {MAX_CLIENT_ID} characters.",
            code="invalid_client_id",
        )

    # Taking the next number locks the conversation's row until commit, so
    # concurrent writers queue here and the numbers stay gapless. On SQLite
    # the UPDATE takes the database's write lock, to the same effect.
    claimed = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1)
        .returning(Conversation.last_seq, Conversation.workspace_id)
    ).one_or_none()
    if claimed is None:
        raise NotFound(f"No conversation {conversation_id}.")
    seq, workspace_id = claimed

    if client_msg_id is not None:
        earlier = _find_retry(
            session, conversation_id, author_kind, author_id, client_msg_id
        )
        if earlier is not None:
            # Hand the number back; the row is still locked by us.
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(last_seq=Conversation.last_seq - 1)
            )
            return earlier, False

    message = Message(
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        seq=seq,
        author_kind=author_kind,
        author_id=author_id,
        body=text,
        client_msg_id=client_msg_id,
        created_at=utcnow(),
    )
    session.add(message)
    if author_kind == AuthorKind.AGENT:
        session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.first_response_at.is_(None),
            )
            .values(first_response_at=message.created_at)
        )
    session.flush()
    return message, True


def _find_retry(
    session: Session,
    conversation_id: int,
    author_kind: AuthorKind,
    author_id: int | None,
    client_msg_id: str,
) -> Message | None:
    """Return the message this author already sent with ``client_msg_id``."""
    return session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.author_kind == author_kind,
            Message.author_id == author_id,
            Message.client_msg_id == client_msg_id,
        )
    )


def messages_after(
    session: Session,
    conversation_id: int,
    after_seq: int,
    *,
    include_notes: bool,
    limit: int = 500,
) -> list[Message]:
    """Return the messages numbered above ``after_seq``, oldest first."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
        .order_by(Message.seq)
        .limit(limit)
    )
    if not include_notes:
        query = query.where(Message.author_kind != AuthorKind.NOTE)
    return list(session.scalars(query))


def close_conversation(
    tenant: Tenant, conversation_id: int, *, by: User
) -> Conversation:
    """Close a conversation, leave a system message and announce it. Commits."""
    conversation = tenant.get(Conversation, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("This conversation is already closed.", code="already_closed")

    session = tenant.session
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = utcnow()
    append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        body=f"{by.name} closed the conversation.",
    )
    audit.record(
        session,
        tenant.workspace_id,
        actor=("user", by.id),
        action="conversation.close",
        obj=("conversation", conversation.id),
    )
    session.commit()
    events.conversation_closed.send(conversation_id=conversation.id)
    return conversation


def transcript_messages(session: Session, conversation_id: int) -> list[Message]:
    """Return every message a visitor may see, oldest first (notes left out)."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.author_kind != AuthorKind.NOTE,
            )
            .order_by(Message.seq)
        )
    )
