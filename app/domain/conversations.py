"""Conversations and messages: starting, posting, reading, closing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.expression import ClauseElement

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


@dataclass(frozen=True, slots=True)
class MessageView:
    """A stored message as broadcast: plain values, safe to hand anywhere."""

    id: int
    workspace_id: int
    conversation_id: int
    seq: int
    prev_visible_seq: int
    author_kind: AuthorKind
    author_id: int | None
    author_name: str | None
    body: str
    client_msg_id: str | None
    created_at: datetime

    @property
    def visible_to_visitor(self) -> bool:
        """False for internal notes."""
        return self.author_kind != AuthorKind.NOTE


def view_of(
    message: Message, author_name: str | None = None, prev: int = 0
) -> MessageView:
    """Snapshot a Message row."""
    return MessageView(
        id=message.id,
        workspace_id=message.workspace_id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        prev_visible_seq=prev,
        author_kind=message.author_kind,
        author_id=message.author_id,
        author_name=author_name,
        body=message.body,
        client_msg_id=message.client_msg_id,
        created_at=message.created_at,
    )


def start_conversation(
    tenant: Tenant,
    visitor: Visitor,
    *,
    team_id: int | None = None,
    context: dict[str, Any] | None = None,
    commit: bool = True,
) -> Conversation:
    """Open a new conversation for ``visitor``; with ``commit``, commit and announce."""
    if visitor.workspace_id != tenant.workspace_id:
        raise NotFound("No such visitor in this workspace.")
    conversation = tenant.add(
        Conversation(
            visitor_id=visitor.id,
            team_id=team_id,
            last_seq=0,
            last_visible_seq=0,
            context=context or {},
        )
    )
    tenant.session.flush()
    if commit:
        tenant.session.commit()
        events.announce(events.conversation_started, conversation_id=conversation.id)
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


def check_client_id(client_msg_id: object) -> str | None:
    """Return a valid client message id (or None), else raise ValidationError."""
    if client_msg_id is None:
        return None
    if (
        not isinstance(client_msg_id, str)
        or not 0 < len(client_msg_id) <= MAX_CLIENT_ID
    ):
        raise ValidationError(
            f"A client message id is text of 1 to {MAX_CLIENT_ID} characters.",
            code="invalid_client_id",
        )
    return client_msg_id


def append_message(
    session: Session,
    conversation_id: int,
    *,
    author_kind: AuthorKind,
    author_id: int | None,
    body: object,
    client_msg_id: str | None = None,
) -> tuple[Message, bool]:
    """Add a message to the caller's transaction, as :func:`post_message` does.

    The message is broadcast when the caller commits.
    """
    text = clean_body(body)
    client_msg_id = check_client_id(client_msg_id)

    # Taking the next number locks the conversation's row until commit, so
    # concurrent writers queue here and the numbers stay gapless. On SQLite
    # the UPDATE takes the database's write lock, to the same effect.
    claimed = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1)
        .returning(
            Conversation.last_seq,
            Conversation.last_visible_seq,
            Conversation.workspace_id,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if claimed is None:
        raise NotFound(f"No conversation {conversation_id}.")
    seq, prev_visible, workspace_id = claimed
    _set_loaded(session, conversation_id, last_seq=seq)

    if client_msg_id is not None:
        earlier = _find_retry(
            session, conversation_id, author_kind, author_id, client_msg_id
        )
        if earlier is not None:
            # Hand the number back; the row is still locked by us.
            _set_counters(session, conversation_id, last_seq=seq - 1)
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
        _set_counters(
            session,
            conversation_id,
            last_visible_seq=seq,
            first_response_at=func.coalesce(
                Conversation.first_response_at, message.created_at
            ),
        )
    elif author_kind != AuthorKind.NOTE:
        _set_counters(session, conversation_id, last_visible_seq=seq)
    session.flush()

    author_name = None
    if author_kind in (AuthorKind.AGENT, AuthorKind.NOTE) and author_id is not None:
        author = session.get(User, author_id)
        author_name = author.name if author else None
    events.after_commit(
        session,
        events.message_posted,
        message=view_of(message, author_name, prev_visible),
    )
    return message, True


def _set_counters(session: Session, conversation_id: int, **values: Any) -> None:
    """Store counter values on a conversation whose row this transaction holds."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    _set_loaded(session, conversation_id, **values)


def _set_loaded(session: Session, conversation_id: int, **values: Any) -> None:
    """Give a loaded Conversation the values an UPDATE just stored.

    SQLAlchemy's own synchronizing of each UPDATE ("fetch") took a tenth of
    a send's CPU. A value known only to the database is expired instead, and
    reloads if it is read.
    """
    loaded = session.identity_map.get(identity_key(Conversation, conversation_id))
    if loaded is None:
        return
    for name, value in values.items():
        if isinstance(value, ClauseElement):
            session.expire(loaded, [name])
        else:
            set_committed_value(loaded, name, value)


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


def visitor_send(
    session: Session,
    tenant: Tenant,
    visitor_id: int,
    conversation_id: int | None,
    *,
    body: object,
    client_msg_id: str,
    context: dict[str, Any] | None = None,
) -> tuple[Conversation, Message, bool]:
    """Store a visitor's message, starting a conversation when none is given.

    Returns the conversation, the message and whether the message is new. A
    retry of a first message (no conversation id) finds the conversation the
    first attempt started instead of starting another. Commits.
    """
    clean_body(body)
    if check_client_id(client_msg_id) is None:
        raise ValidationError("client_msg_id is required.", code="invalid_client_id")

    started = woke = False
    if conversation_id is None:
        # Lock the visitor's row: two tabs retrying the same first message
        # must not both start a conversation.
        session.execute(
            update(Visitor)
            .where(
                Visitor.id == visitor_id, Visitor.workspace_id == tenant.workspace_id
            )
            .values(last_seen_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        earlier = session.scalar(
            select(Message).where(
                Message.workspace_id == tenant.workspace_id,
                Message.author_kind == AuthorKind.VISITOR,
                Message.author_id == visitor_id,
                Message.client_msg_id == client_msg_id,
            )
        )
        if earlier is not None:
            session.rollback()
            return tenant.get(Conversation, earlier.conversation_id), earlier, False
        visitor = tenant.get(Visitor, visitor_id)
        conversation = start_conversation(
            tenant, visitor, context=context, commit=False
        )
        started = True
    else:
        conversation = _visitors_conversation(tenant, visitor_id, conversation_id)
        if conversation.status == ConversationStatus.CLOSED:
            raise Conflict(
                "This conversation is closed; start a new one.",
                code="conversation_closed",
            )
        if conversation.status == ConversationStatus.SNOOZED:
            conversation.status = ConversationStatus.OPEN
            woke = True

    message, created = append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.VISITOR,
        author_id=visitor_id,
        body=body,
        client_msg_id=client_msg_id,
    )
    queued = False
    if woke:
        # A snoozed conversation did not count against its agent's capacity.
        # Routing imports this module, hence the import here.
        from app.routing.assignment import settle_reopened

        queued = settle_reopened(session, conversation.id)
    session.commit()
    if started:
        events.announce(events.conversation_started, conversation_id=conversation.id)
    if queued:
        from app.routing.assignment import assign_next

        assign_next(session, conversation.team_id)
    return conversation, message, created


def _visitors_conversation(
    tenant: Tenant, visitor_id: int, conversation_id: int
) -> Conversation:
    conversation = tenant.find(Conversation, conversation_id)
    if conversation is None or conversation.visitor_id != visitor_id:
        raise NotFound("You have no such conversation.")
    return conversation


def agent_send(
    tenant: Tenant,
    agent: User,
    conversation_id: int,
    *,
    body: object,
    client_msg_id: str | None,
    note: bool = False,
) -> tuple[Message, bool]:
    """Store an agent's reply or internal note in their workspace's conversation."""
    conversation = tenant.get(Conversation, conversation_id)
    if conversation.status == ConversationStatus.CLOSED and not note:
        raise Conflict(
            "This conversation is closed; reopen it to reply.",
            code="conversation_closed",
        )
    return post_message(
        tenant.session,
        conversation.id,
        author_kind=AuthorKind.NOTE if note else AuthorKind.AGENT,
        author_id=agent.id,
        body=body,
        client_msg_id=client_msg_id,
    )


def mark_read(
    session: Session, conversation: Conversation, side: str, seq: object
) -> int:
    """Record that ``side`` (visitor or agent) has read up to ``seq``. Commits.

    Read marks only move forward and never past the last message. Returns
    the mark now stored.
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValidationError("seq must be a whole number of 0 or more.")
    column = {
        "visitor": Conversation.visitor_read_seq,
        "agent": Conversation.agent_read_seq,
    }[side]
    target = min(seq, conversation.last_seq)
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, column < target)
        .values({column: target})
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(conversation)
    return getattr(conversation, column.key)


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
    events.announce(events.conversation_closed, conversation_id=conversation.id)
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
