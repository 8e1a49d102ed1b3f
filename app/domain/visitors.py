"""Visitor sessions: who is chatting, proven by a signed token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import NotFound, ValidationError
from app.models import Conversation, ConversationStatus, Visitor, Workspace

#: A visitor token lasts a year; the widget renews it on every session.
TOKEN_MAX_AGE_SECONDS = 365 * 24 * 3600

PAGE_FIELDS = {"url": 2048, "title": 512, "referrer": 2048}


@dataclass(frozen=True)
class VisitorIdentity:
    """Whose token it is: a visitor of a workspace."""

    workspace_id: int
    visitor_id: int


class VisitorTokens:
    """Signs and checks visitor tokens with the app's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="parley-visitor")

    def issue(self, visitor: Visitor) -> str:
        """Return a token proving the bearer is ``visitor``."""
        return self._serializer.dumps({"w": visitor.workspace_id, "v": visitor.id})

    def read(self, token: object) -> VisitorIdentity | None:
        """Return the identity in a valid token, or None for anything else."""
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            data = self._serializer.loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        workspace_id, visitor_id = data.get("w"), data.get("v")
        if not isinstance(workspace_id, int) or not isinstance(visitor_id, int):
            return None
        return VisitorIdentity(workspace_id, visitor_id)


def workspace_by_key(session: Session, key: object) -> Workspace:
    """Return the workspace whose widget key this is, or raise NotFound."""
    if not isinstance(key, str) or not 0 < len(key) <= 64:
        raise NotFound("No workspace has this widget key.", code="unknown_key")
    workspace = session.scalar(select(Workspace).where(Workspace.widget_key == key))
    if workspace is None:
        raise NotFound("No workspace has this widget key.", code="unknown_key")
    return workspace


def origin_allowed(workspace: Workspace, origin: str | None) -> bool:
    """True if a page at ``origin`` may use this workspace's widget.

    An empty allowlist allows any origin (the admin pages warn about it).
    """
    allowed = (workspace.settings or {}).get("allowed_origins") or []
    if not allowed:
        return True
    return origin is not None and origin.rstrip("/") in {o.rstrip("/") for o in allowed}


def clean_page(page: object) -> dict[str, str]:
    """Return the page fields a client sent, trimmed to size; refuse bad shapes."""
    if page is None:
        return {}
    if not isinstance(page, dict):
        raise ValidationError("page must be an object with url, title, referrer.")
    cleaned = {}
    for name, limit in PAGE_FIELDS.items():
        value = page.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(f"page.{name} must be text.")
        cleaned[name] = value[:limit]
    return cleaned


def open_session(
    session: Session,
    tokens: VisitorTokens,
    workspace: Workspace,
    token: object,
    *,
    page: dict[str, str],
    user_agent: str | None,
    locale: str | None,
) -> tuple[Visitor, str]:
    """Return the token's visitor (or a new one) and a fresh token. Commits.

    A token of another workspace, or a bad or expired one, never joins an
    existing visitor: the bearer becomes a new, anonymous visitor.
    """
    identity = tokens.read(token)
    visitor = None
    if identity is not None and identity.workspace_id == workspace.id:
        visitor = session.get(Visitor, identity.visitor_id)
        if visitor is not None and visitor.workspace_id != workspace.id:
            visitor = None
    if visitor is None:
        visitor = Visitor(workspace_id=workspace.id, attributes={}, last_page={})
        session.add(visitor)

    if page:
        visitor.last_page = page
    if user_agent:
        visitor.user_agent = user_agent[:512]
    if locale:
        visitor.locale = locale[:35]
    visitor.last_seen_at = utcnow()
    session.commit()
    return visitor, tokens.issue(visitor)


def open_conversations(session: Session, visitor_id: int) -> list[Conversation]:
    """Return the visitor's conversations that are not closed, newest last."""
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.visitor_id == visitor_id,
                Conversation.status != ConversationStatus.CLOSED,
            )
            .order_by(Conversation.id)
        )
    )


def public_profile(visitor: Visitor) -> dict[str, Any]:
    """What the widget may know about its own visitor."""
    return {"id": visitor.public_id, "name": visitor.name, "email": visitor.email}
