"""Conversations and the numbered messages in them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.visitor import Visitor
from app.models.workspace import Team, User


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


class ConversationStatus(enum.StrEnum):
    """Where a conversation is in its life."""

    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    CLOSED = "closed"


class AuthorKind(enum.StrEnum):
    """Who wrote a message. Notes are agents' words that visitors never see."""

    VISITOR = "visitor"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"


class Conversation(Base):
    """One thread between a visitor and a workspace's agents."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_workspace_status", "workspace_id", "status"),
        Index("ix_conversations_team_queue", "team_id", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    visitor_id: Mapped[int] = mapped_column(
        ForeignKey("visitors.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ConversationStatus] = mapped_column(
        Enum(
            ConversationStatus,
            native_enum=False,
            length=16,
            values_callable=_values,
        ),
        default=ConversationStatus.OPEN,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transcript_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The sequence number of the newest message; the next one gets last_seq + 1
    # inside the same transaction that stores it, so numbers have no gaps.
    last_seq: Mapped[int] = mapped_column(default=0)
    # The newest message a visitor may see (notes skipped), so that live
    # events can tell visitors which seq came before without a query.
    last_visible_seq: Mapped[int] = mapped_column(default=0)
    visitor_read_seq: Mapped[int] = mapped_column(default=0)
    agent_read_seq: Mapped[int] = mapped_column(default=0)
    # The newest agent reply already emailed to a visitor who was away.
    emailed_seq: Mapped[int] = mapped_column(default=0)
    # Where the visitor was when the conversation started: url, title, referrer.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Routing: when the conversation entered its team's queue (empty while
    # an agent has it) and when an agent last got it.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    visitor: Mapped[Visitor] = relationship(lazy="joined")
    team: Mapped[Team | None] = relationship()
    assignee: Mapped[User | None] = relationship()


class Message(Base):
    """One message, numbered within its conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # A retried send carries the same client message id; this makes the
        # retry find the first copy instead of storing a second one.
        UniqueConstraint(
            "conversation_id", "author_kind", "author_id", "client_msg_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    author_kind: Mapped[AuthorKind] = mapped_column(
        Enum(AuthorKind, native_enum=False, length=16, values_callable=_values)
    )
    # A user id for agent messages and notes, a visitor id for visitor
    # messages, empty for system messages.
    author_id: Mapped[int | None]
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: The columns a new message is stored with (all but its id).
    FIELDS = (
        "workspace_id",
        "conversation_id",
        "seq",
        "author_kind",
        "author_id",
        "body",
        "client_msg_id",
        "created_at",
    )

    @property
    def visible_to_visitor(self) -> bool:
        """False for internal notes, which only agents may see."""
        return self.author_kind != AuthorKind.NOTE
