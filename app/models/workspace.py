"""Tenants and the people who work in them."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.routing import Availability, Strategy, enum_column

#: Open conversations an agent gets at most, unless an admin says otherwise.
DEFAULT_CAPACITY = 5

#: How long an agent may be offline before a team that asks for it takes
#: their open conversations back into its queue. Long enough for a reload
#: or a train tunnel, short enough that a visitor is not left talking to no one.
DEFAULT_OFFLINE_GRACE_SECONDS = 120


def new_widget_key() -> str:
    """Return a fresh public widget key (it identifies, it does not authorise)."""
    return "wk_" + secrets.token_urlsafe(18)


class Workspace(Base):
    """A tenant: one company, its widget and its settings."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    widget_key: Mapped[str] = mapped_column(
        String(64), unique=True, default=new_widget_key
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Workspace {self.id} {self.name!r}>"


class Role(enum.StrEnum):
    """What a user may do in their workspace."""

    AGENT = "agent"
    ADMIN = "admin"


class User(UserMixin, Base):
    """An agent or admin of one workspace."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=Role.AGENT,
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Routing: the most open conversations at once, whether the agent can
    # take one now (kept by the presence layer), and fairness bookkeeping.
    capacity: Mapped[int] = mapped_column(default=DEFAULT_CAPACITY)
    availability: Mapped[Availability] = mapped_column(
        enum_column(Availability), default=Availability.OFFLINE
    )
    availability_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    workspace: Mapped[Workspace] = relationship(lazy="joined")

    @property
    def is_admin(self) -> bool:
        """True for workspace admins."""
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Team(Base):
    """A group of agents that conversations are routed to."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    strategy: Mapped[Strategy] = mapped_column(
        enum_column(Strategy), default=Strategy.LEAST_BUSY
    )
    # The team that takes conversations no routing rule matched.
    is_default: Mapped[bool] = mapped_column(default=False)
    requeue_on_offline: Mapped[bool] = mapped_column(default=False)
    offline_grace_seconds: Mapped[int] = mapped_column(
        default=DEFAULT_OFFLINE_GRACE_SECONDS
    )
    # {"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]},
    # "holidays": ["2026-12-25"]}; empty means always open.
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Round-robin's place in the rotation: the member who got the last one.
    last_assigned_user_id: Mapped[int | None]

    members: Mapped[list[User]] = relationship(
        secondary="team_memberships", order_by="User.id", viewonly=True
    )


class TeamMembership(Base):
    """An agent's place in a team."""

    __tablename__ = "team_memberships"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
