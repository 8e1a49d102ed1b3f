"""Conversations and messages: starting, posting, reading, closing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.expression import ClauseElement

from app.db import outside_transaction, utcnow
from app.domain import audit, events
from app.domain.content import clean_body
from app.domain.numbering import ANYWHERE, Answering, Claimed, Counters, Guard, store
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ParleyError, ValidationError
from app.models import (
    AuthorKind,
    Conversation,
    ConversationStatus,
    Message,
    User,
    Visitor,
)

MAX_CLIENT_ID = 64

#: The statuses a conversation takes messages in: all but closed.
_WRITABLE = frozenset(ConversationStatus) - {ConversationStatus.CLOSED}
#: Those in which a visitor's message changes nothing else (a snoozed
#: conversation reopens).
_UNSETTLED = _WRITABLE - {ConversationStatus.SNOOZED}


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
    appended = _append(
        session,
        conversation_id,
        author_kind=author_kind,
        author_id=author_id,
        body=body,
        client_msg_id=client_msg_id,
    )
    return appended.message, appended.created


#: Makes the summary a visitor's send is acknowledged with, from the state
#: the send left and, when the store could read it, who can answer.
Summarize = Callable[[Session, "Claimed | Conversation", "Answering | None"], Any]


@dataclass(frozen=True, slots=True)
class Sent:
    """What :func:`visitor_send` did."""

    conversation: Claimed | Conversation
    message: Message
    created: bool
    summary: Any = None

    @classmethod
    def of(
        cls,
        session: Session,
        conversation: Claimed | Conversation,
        message: Message,
        created: bool,
        summarize: Summarize | None,
        answering: Answering | None = None,
    ) -> Sent:
        """Gather the results, summarizing the conversation if asked."""
        summary = (
            None if summarize is None else summarize(session, conversation, answering)
        )
        return cls(conversation, message, created, summary)


class Author(Protocol):
    """An agent as a send needs it: anything with an id and a name."""

    id: int
    name: str


class Appended(NamedTuple):
    """What :func:`_append` stored, or found stored by a first attempt."""

    message: Message
    created: bool
    #: The conversation's row as the send left it.
    claimed: Claimed
    answering: Answering | None


def _no_such(claimed: Claimed) -> ParleyError:
    return NotFound(f"No conversation {claimed.id}.")


def _append(
    session: Session,
    conversation_id: int,
    *,
    author_kind: AuthorKind,
    author_id: int | None,
    body: object,
    client_msg_id: str | None = None,
    guard: Guard = ANYWHERE,
    refusal: Callable[[Claimed], ParleyError] = _no_such,
    alone: Guard | None = None,
    author_name: str | None = None,
    answering: bool = False,
) -> Appended:
    """Number and store a message in the caller's transaction.

    A conversation ``guard`` does not admit gets the error ``refusal``
    makes of its row, and nothing is stored. With ``alone``, a send that
    finds nothing else in the session's transaction and a conversation
    that guard admits (PostgreSQL) is stored in a statement of its own, in
    autocommit: the caller's commit then sends nothing. One that ``alone``
    refuses but ``guard`` admits is stored again in a transaction, for the
    caller to change more with it. The SQL is in :mod:`app.domain.numbering`;
    here a loaded Conversation is kept in step and the broadcast is queued
    for the commit. ``answering`` asks the store to read who can answer as
    well (see :func:`numbering.store`).
    """
    text = clean_body(body)
    client_msg_id = check_client_id(client_msg_id)
    session.flush()
    counters = (
        Counters.NONE
        if author_kind == AuthorKind.NOTE
        else Counters.REPLIED
        if author_kind == AuthorKind.AGENT
        else Counters.VISIBLE
    )
    row = {
        "conversation_id": conversation_id,
        "author_kind": author_kind,
        "author_id": author_id,
        "body": text,
        "client_msg_id": client_msg_id,
        "created_at": utcnow(),
    }
    stored = None
    if alone is not None and outside_transaction(session):
        stored = store(session.connection(), row, counters, alone, answering=answering)
        if stored.refused and guard.admits(stored.claimed):
            session.rollback()
            stored = None
    if stored is None:
        stored = store(session.connection(), row, counters, guard, answering=answering)
    claimed, message_id, earlier, who = stored
    if stored.refused:
        raise refusal(claimed)
    seq = claimed.last_seq
    _set_loaded(session, conversation_id, last_seq=seq)
    if earlier is not None:
        return Appended(Message(**earlier._asdict()), False, claimed, who)

    row.update(workspace_id=claimed.workspace_id, seq=seq)
    if counters is not Counters.NONE:
        _set_loaded(session, conversation_id, last_visible_seq=seq)
    if counters is Counters.REPLIED:
        first_response_at = Conversation.__table__.c.first_response_at
        _set_loaded(session, conversation_id, first_response_at=first_response_at)
    message = Message(id=message_id, **row)

    if (
        author_name is None
        and author_kind in (AuthorKind.AGENT, AuthorKind.NOTE)
        and author_id is not None
    ):
        author = session.get(User, author_id)
        author_name = author.name if author else None
    events.after_commit(
        session,
        events.message_posted,
        message=view_of(message, author_name, claimed.last_visible_seq),
    )
    if counters is not Counters.NONE:
        claimed = replace(claimed, last_visible_seq=seq)
    return Appended(message, True, claimed, who)


def _set_loaded(session: Session, conversation_id: int, **values: Any) -> None:
    """Give a loaded Conversation the values an UPDATE just stored.

    A value known only to the database (an SQL expression) is expired
    instead, and reloads if it is read.
    """
    if not session.identity_map:  # the usual case on a socket: nothing loaded
        return
    loaded = session.identity_map.get(identity_key(Conversation, conversation_id))
    if loaded is None:
        return
    for name, value in values.items():
        if isinstance(value, ClauseElement):
            session.expire(loaded, [name])
        else:
            set_committed_value(loaded, name, value)


def visitor_send(
    session: Session,
    tenant: Tenant,
    visitor_id: int,
    conversation_id: int | None,
    *,
    body: object,
    client_msg_id: str,
    context: dict[str, Any] | None = None,
    summarize: Summarize | None = None,
) -> Sent:
    """Store a visitor's message, starting a conversation when none is given.

    Returns the conversation (its state as the send left it), the message,
    whether the message is new, and what ``summarize`` made of the
    conversation's state: within the send's transaction when nothing else
    changes the conversation, so that it costs no second round of the
    connection pool. A retry of a first message (no conversation id) finds
    the conversation the first attempt started instead of starting another.
    Commits.
    """
    clean_body(body)
    if check_client_id(client_msg_id) is None:
        raise ValidationError("client_msg_id is required.", code="invalid_client_id")

    started = False
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
            conversation = tenant.get(Conversation, earlier.conversation_id)
            return Sent.of(session, conversation, earlier, False, summarize)
        visitor = tenant.get(Visitor, visitor_id)
        conversation_id = start_conversation(
            tenant, visitor, context=context, commit=False
        ).id
        started = True

    ours = Guard(workspace_id=tenant.workspace_id, visitor_id=visitor_id)

    def refused(claimed: Claimed) -> ParleyError:
        if claimed.status == ConversationStatus.CLOSED and ours.admits(claimed):
            return Conflict(
                "This conversation is closed; start a new one.",
                code="conversation_closed",
            )
        return NotFound("You have no such conversation.")

    try:
        message, created, state, answering = _append(
            session,
            conversation_id,
            author_kind=AuthorKind.VISITOR,
            author_id=visitor_id,
            body=body,
            client_msg_id=client_msg_id,
            guard=ours._replace(statuses=_WRITABLE),
            refusal=refused,
            # A message to a snoozed conversation reopens it in the same
            # transaction; a new conversation is routed after its commit.
            alone=None if started else ours._replace(statuses=_UNSETTLED),
            # A new conversation's routing runs after the commit and may
            # change who answers; its summary is read afterwards instead.
            answering=summarize is not None and not started,
        )
    except ParleyError:
        session.rollback()
        raise
    queued = False
    if state.status == ConversationStatus.SNOOZED:
        # A visitor's message ends a snooze. A snoozed conversation did not
        # count against its agent's capacity; routing imports this module,
        # hence the import here.
        from app.routing.assignment import settle_reopened

        conversation = session.get(Conversation, conversation_id)
        conversation.status = ConversationStatus.OPEN
        queued = settle_reopened(session, conversation_id)
        state = replace(
            state,
            status=conversation.status,
            assignee_id=conversation.assignee_id,
            queued_at=conversation.queued_at,
        )
    if not (started or queued):
        sent = Sent.of(session, state, message, created, summarize, answering)
        session.commit()
        return sent
    session.commit()
    if started:
        events.announce(events.conversation_started, conversation_id=conversation_id)
    if queued:
        from app.routing.assignment import assign_next

        assign_next(session, state.team_id)
    # Routing may have queued or assigned it meanwhile.
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    return Sent.of(session, conversation, message, created, summarize)


def agent_send(
    tenant: Tenant,
    agent: User | Author,
    conversation_id: int,
    *,
    body: object,
    client_msg_id: str | None,
    note: bool = False,
) -> tuple[Message, bool]:
    """Store an agent's reply or internal note in their workspace's conversation."""

    def refused(claimed: Claimed) -> ParleyError:
        if claimed.workspace_id == tenant.workspace_id:
            return Conflict(
                "This conversation is closed; reopen it to reply.",
                code="conversation_closed",
            )
        return NotFound(f"No conversation {conversation_id} in this workspace.")

    guard = Guard(
        workspace_id=tenant.workspace_id, statuses=None if note else _WRITABLE
    )
    try:
        message, created, _state, _answering = _append(
            tenant.session,
            conversation_id,
            author_kind=AuthorKind.NOTE if note else AuthorKind.AGENT,
            author_id=agent.id,
            body=body,
            client_msg_id=client_msg_id,
            guard=guard,
            refusal=refused,
            alone=guard,
            author_name=agent.name,
        )
    except ParleyError:
        tenant.session.rollback()
        raise
    tenant.session.commit()
    return message, created


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
