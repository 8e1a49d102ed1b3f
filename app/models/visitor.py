"""The people who chat through the widget."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


def new_public_id() -> str:
    """Return an opaque id for a visitor, safe to hand to a browser."""
    return uuid.uuid4().hex


class Visitor(Base):
    """A website visitor: anonymous, or identified by the company's own id."""

    __tablename__ = "visitors"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=new_public_id
    )
    external_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(120))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The page the visitor was last seen on: url, title, referrer.
    last_page: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    locale: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def display_name(self) -> str:
        """Name to show agents: the visitor's name, email, or a short id."""
        return self.name or self.email or f"Visitor {self.public_id[:6]}"
