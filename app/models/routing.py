"""Routing: the rules that send a new conversation to a team, and its vocabulary."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.workspace import Team


def _values(enum_class: type[enum.Enum]) -> list[str]:
    """Return the stored values of an enum's members."""
    return [member.value for member in enum_class]


def enum_column(enum_class: type[enum.Enum]) -> Enum:
    """Return a portable (non-native) enum type storing the members' values."""
    return Enum(enum_class, native_enum=False, length=16, values_callable=_values)


class Availability(enum.StrEnum):
    """Whether an agent can take conversations right now."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Strategy(enum.StrEnum):
    """How a team hands its conversations to its agents."""

    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"


class RuleKind(enum.StrEnum):
    """What a routing rule looks at."""

    PAGE_URL = "page_url"
    LANGUAGE = "language"
    PRECHAT = "prechat"
    ATTRIBUTE = "attribute"


class RoutingRule(Base):
    """One ordered rule: conversations whose visitor matches go to ``team``."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        Index("ix_routing_rules_workspace_position", "workspace_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    # Rules are tried in ascending position; the first match wins.
    position: Mapped[int]
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[RuleKind] = mapped_column(enum_column(RuleKind))
    # The pre-chat question or visitor attribute a rule reads; empty for
    # page and language rules.
    key: Mapped[str | None] = mapped_column(String(120))
    pattern: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship()
