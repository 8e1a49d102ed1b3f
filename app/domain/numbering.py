"""Numbering and storing a message: the SQL on the hot path of every send.

A send takes its conversation's next sequence number under the row's lock,
if the row is one the message may go to (its :class:`Guard`), looks for an
earlier copy (a retry), stores the message and moves the conversation's
counters, all in the connection's transaction. The statements
are built once and run on the session's connection, with the ORM's
bookkeeping kept out: a statement built per call spends more time
computing its cache key than the database spends running it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    bindparam,
    column,
    func,
    insert,
    select,
    text,
    update,
)

from app.errors import NotFound
from app.models import Conversation, ConversationStatus, Message, Team, User


class Counters(enum.Enum):
    """Which of the conversation's counters a new message moves."""

    #: An internal note: seen by agents only.
    NONE = "none"
    #: The last message the visitor can see.
    VISIBLE = "visible"
    #: That, and the first response's time if this is the first reply.
    REPLIED = "replied"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A conversation's row as taking the next sequence number found it."""

    id: int
    workspace_id: int
    visitor_id: int
    status: ConversationStatus
    team_id: int | None
    assignee_id: int | None
    queued_at: datetime | None
    #: The conversation's counters as the send leaves them (the visible
    #: one as it was before the message, when it comes from :func:`store`).
    last_seq: int
    last_visible_seq: int
    visitor_read_seq: int
    agent_read_seq: int


class Guard(NamedTuple):
    """The conversation a message may go to, checked once its row is locked.

    None in a field admits anything.
    """

    workspace_id: int | None = None
    visitor_id: int | None = None
    statuses: frozenset[ConversationStatus] | None = None

    def admits(self, claimed: Claimed) -> bool:
        """Whether the message may go to the conversation ``claimed`` shows."""
        return (
            self.workspace_id in (None, claimed.workspace_id)
            and self.visitor_id in (None, claimed.visitor_id)
            and (self.statuses is None or claimed.status in self.statuses)
        )


#: Admits every conversation.
ANYWHERE = Guard()


_conversations = Conversation.__table__
_messages = Message.__table__
_c = _conversations.c
_m = _messages.c

#: The conversation's columns a claim returns: the fields of Claimed.
_CLAIMED = [_c[field.name] for field in fields(Claimed)]

_CLAIM = (
    update(_conversations)
    .where(_c.id == bindparam("conversation"))
    .values(last_seq=_c.last_seq + 1)
    .returning(*_CLAIMED)
)
_HAND_BACK = (
    update(_conversations)
    .where(_c.id == bindparam("conversation"))
    .values(last_seq=_c.last_seq - 1)
)
_FIND_RETRY = select(_messages).where(
    _m.conversation_id == bindparam("conversation"),
    _m.author_kind == bindparam("kind"),
    _m.author_id == bindparam("author"),
    _m.client_msg_id == bindparam("client_msg_id"),
)
_INSERT = insert(_messages).values(
    {name: bindparam(f"m_{name}", type_=_m[name].type) for name in Message.FIELDS}
)
_SET_VISIBLE = (
    update(_conversations)
    .where(_c.id == bindparam("conversation"))
    .values(last_visible_seq=bindparam("m_seq"))
)
_SET_REPLIED = _SET_VISIBLE.values(
    first_response_at=func.coalesce(
        _c.first_response_at, bindparam("m_created_at", type_=_c.created_at.type)
    )
)


_STORE = _INSERT.returning(_m.id)
_COUNT = {Counters.VISIBLE: _SET_VISIBLE, Counters.REPLIED: _SET_REPLIED}
_FIND_MESSAGE = select(_messages).where(_m.id == bindparam("id"))

# On PostgreSQL the claim, the look for a retry, the insert and the counters
# are one call of a function (migrations 0006 to 0008): one round trip
# instead of three, and statements whose plans the database keeps. The
# function checks the guard itself, so that a send may be a statement alone.
_APPEND_CALL = (
    text(
        "SELECT * FROM parley_append_message(:conversation, :kind, :author,"
        " :client_msg_id, :body, :created_at, :visible, :replied, :answering,"
        " :workspace, :visitor, CAST(:statuses AS varchar[]))"
    )
    .bindparams(
        bindparam("kind", type_=_m.author_kind.type),
        bindparam("created_at", type_=_m.created_at.type),
    )
    .columns(
        *(column(f"c_{claimed.name}", claimed.type) for claimed in _CLAIMED),
        column("message_id", _m.id.type),
        column("earlier_id", _m.id.type),
        column("a_online", Integer()),
        column("a_assignee", User.__table__.c.name.type),
        column("a_team", Team.__table__.c.name.type),
        column("a_hours", Team.__table__.c.business_hours.type),
    )
)


class Answering(NamedTuple):
    """Who can answer the conversation, as its claimed row names them."""

    #: Active agents online in its team, or its workspace without a team.
    agents_online: int
    assignee_name: str | None
    team_name: str | None
    team_hours: dict[str, Any] | None


class Stored(NamedTuple):
    """What :func:`store` did.

    ``message_id`` is the new message's; for a retry it is None and
    ``earlier`` is the first copy's row. When the guard refused the
    conversation both are None, ``claimed`` is its row as found, and
    nothing was claimed or stored. ``answering`` is there when it was asked
    for and the database could read it in the same call.
    """

    claimed: Claimed
    message_id: int | None
    earlier: Row | None
    answering: Answering | None = None

    @property
    def refused(self) -> bool:
        """Whether the guard kept the message out."""
        return self.message_id is None and self.earlier is None


def store(
    connection: Connection,
    row: dict[str, Any],
    counters: Counters,
    guard: Guard = ANYWHERE,
    *,
    answering: bool = False,
) -> Stored:
    """Number and store the message ``row`` in the connection's transaction.

    ``row`` holds the message's fields but its workspace and number, which
    come from the conversation. A conversation ``guard`` does not admit is
    left as it was and the result says it was refused. A retry (the same
    author and client message id) stores nothing and gives the first copy
    back. With ``answering``, PostgreSQL also reads who can answer the
    conversation; SQLite leaves that to the caller. On PostgreSQL nothing is
    written before the guard passes, so the connection may be in autocommit:
    the send is then one statement and one round trip.
    """
    if connection.dialect.name == "postgresql":
        return _in_one_call(connection, row, counters, guard, answering)
    return _in_steps(connection, row, counters, guard)


def _in_one_call(
    connection: Connection,
    row: dict[str, Any],
    counters: Counters,
    guard: Guard,
    answering: bool,
) -> Stored:
    """Check, claim, look for a retry, store and count in one call (PostgreSQL)."""
    found = connection.execute(
        _APPEND_CALL,
        {
            "conversation": row["conversation_id"],
            "kind": row["author_kind"],
            "author": row["author_id"],
            "client_msg_id": row["client_msg_id"],
            "body": row["body"],
            "created_at": row["created_at"],
            "visible": counters is not Counters.NONE,
            "replied": counters is Counters.REPLIED,
            "answering": answering,
            "workspace": guard.workspace_id,
            "visitor": guard.visitor_id,
            "statuses": None
            if guard.statuses is None
            else sorted(status.value for status in guard.statuses),
        },
    ).first()
    if found is None:
        raise NotFound(f"No conversation {row['conversation_id']}.")
    claimed = Claimed(*found[: len(_CLAIMED)])
    if found.message_id is None and found.earlier_id is None:
        return Stored(claimed, None, None)
    who = (
        Answering(found.a_online, found.a_assignee, found.a_team, found.a_hours)
        if answering
        else None
    )
    if found.earlier_id is not None:
        earlier = connection.execute(_FIND_MESSAGE, {"id": found.earlier_id}).one()
        return Stored(claimed, None, earlier, who)
    return Stored(claimed, found.message_id, None, who)


def _in_steps(
    connection: Connection, row: dict[str, Any], counters: Counters, guard: Guard
) -> Stored:
    """Claim, check, look for a retry, store and count, one statement each."""
    conversation_id = row["conversation_id"]
    found = connection.execute(_CLAIM, {"conversation": conversation_id}).first()
    if found is None:
        raise NotFound(f"No conversation {conversation_id}.")
    claimed = Claimed(*found)
    if not guard.admits(claimed):
        # The database is locked for writing by us (SQLite): hand it back.
        connection.execute(_HAND_BACK, {"conversation": conversation_id})
        return Stored(replace(claimed, last_seq=claimed.last_seq - 1), None, None)
    if row["client_msg_id"] is not None and row["author_id"] is not None:
        earlier = connection.execute(
            _FIND_RETRY,
            {
                "conversation": conversation_id,
                "kind": row["author_kind"],
                "author": row["author_id"],
                "client_msg_id": row["client_msg_id"],
            },
        ).first()
        if earlier is not None:
            # Hand the number back; the row is still locked by us.
            connection.execute(_HAND_BACK, {"conversation": conversation_id})
            return Stored(
                replace(claimed, last_seq=claimed.last_seq - 1), None, earlier
            )
    params = {f"m_{name}": value for name, value in row.items()}
    params.update(
        m_workspace_id=claimed.workspace_id,
        m_seq=claimed.last_seq,
        conversation=conversation_id,
    )
    message_id = connection.execute(_STORE, params).scalar_one()
    if counters is not Counters.NONE:
        connection.execute(_COUNT[counters], params)
    return Stored(claimed, message_id, None)
