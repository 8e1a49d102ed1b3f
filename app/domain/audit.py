"""Recording actions in the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent


def record(
    session: Session,
    workspace_id: int,
    *,
    actor: tuple[str, int | None],
    action: str,
    obj: tuple[str, int | None],
    **data: Any,
) -> AuditEvent:
    """Add an audit event to the session; it is written with the caller's commit."""
    actor_kind, actor_id = actor
    object_type, object_id = obj
    event = AuditEvent(
        workspace_id=workspace_id,
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data,
    )
    session.add(event)
    return event
