"""Visitor sessions: who is chatting, proven by a signed token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain import events
from app.domain.accounts import normalise_email
from app.errors import Forbidden, NotFound, ValidationError
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


def allowed_origins(workspace: Workspace) -> list[str]:
    """Return the origins whose pages may embed the widget; empty means any."""
    return list((workspace.settings or {}).get("allowed_origins") or [])


def origin_allowed(workspace: Workspace, origin: str | None) -> bool:
    """True if a page at ``origin`` may use this workspace's widget.

    An empty allowlist allows any origin (the admin pages warn about it).
    """
    allowed = allowed_origins(workspace)
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
    claimed: object = None,
) -> tuple[Visitor, str]:
    """Return the token's visitor (or a new one) and a fresh token. Commits.

    A token of another workspace, or a bad or expired one, never joins an
    existing visitor: the bearer becomes a new, anonymous visitor. ``claimed``
    is what ``Parley.identify`` said (see :func:`identify`).
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

    if claimed is not None:
        session.flush()
        visitor = identify(session, workspace, visitor, claimed)
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


#: Attributes a company may set on a visitor: few, flat and small.
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 1024


def clean_prechat(answers: object) -> dict[str, str]:
    """Return pre-chat answers (text by field name), or raise ValidationError."""
    if not isinstance(answers, dict) or len(answers) > 20:
        raise ValidationError("prechat must be an object of at most 20 answers.")
    cleaned = {}
    for key, value in answers.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise ValidationError(
                "Pre-chat field names are text of 1 to 64 characters."
            )
        if not isinstance(value, str):
            raise ValidationError(f"The pre-chat answer {key!r} must be text.")
        cleaned[key] = value.strip()[:500]
    return cleaned


def clean_attributes(attributes: object) -> dict[str, Any]:
    """Return flat custom attributes, or raise ValidationError."""
    if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError(
            f"attributes must be an object of at most {MAX_ATTRIBUTES} fields."
        )
    cleaned: dict[str, Any] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise ValidationError("Attribute names are text of 1 to 64 characters.")
        if isinstance(value, str):
            value = value[:MAX_ATTRIBUTE_TEXT]
        elif not isinstance(value, bool | int | float) and value is not None:
            raise ValidationError(
                f"Attribute {key!r} must be text, a number or a boolean."
            )
        cleaned[key] = value
    return cleaned


def update_profile(
    session: Session,
    visitor: Visitor,
    *,
    name: object = None,
    email: object = None,
    attributes: object = None,
) -> Visitor:
    """Set what a visitor told about themselves; agents see it. Commits."""
    if name is not None:
        if not isinstance(name, str) or len(name.strip()) > 120:
            raise ValidationError("name must be text of at most 120 characters.")
        visitor.name = name.strip() or None
    if email is not None:
        visitor.email = _email(email)
    if attributes is not None:
        visitor.attributes = {
            **(visitor.attributes or {}),
            **clean_attributes(attributes),
        }
    for conversation in open_conversations(session, visitor.id):
        events.conversation_touched(session, conversation.id)
    session.commit()
    return visitor


def _email(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("email must be text.")
    try:
        return normalise_email(value)
    except ValidationError:
        raise ValidationError(f"{value!r} is not an email address.") from None


def new_identity_secret() -> str:
    """Return a fresh identity secret: 32 random bytes, in hex."""
    return secrets.token_hex(32)


def identity_secret(session: Session, workspace: Workspace) -> str:
    """Return the workspace's identity secret, creating it on first use. Commits."""
    settings = dict(workspace.settings or {})
    if not settings.get("identity_secret"):
        settings["identity_secret"] = new_identity_secret()
        workspace.settings = settings
        session.commit()
    return settings["identity_secret"]


def identity_hash(secret: str, external_id: str) -> str:
    """Return the hex HMAC-SHA256 a company's server makes for ``external_id``."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def identify(
    session: Session, workspace: Workspace, visitor: Visitor, identity: object
) -> Visitor:
    """Apply ``Parley.identify``: return the visitor the browser now speaks for.

    With a valid hash of the company's user id, that is the visitor with this
    external id (made if new), whose history follows them across browsers.
    Without one, the name and email go on the current, anonymous visitor and
    nothing is joined; a workspace that enforces verification refuses it.
    Commits.
    """
    if not isinstance(identity, dict):
        raise ValidationError("identity must be an object with an id.")
    external_id = identity.get("id")
    if not isinstance(external_id, str | int) or not 0 < len(str(external_id)) <= 255:
        raise ValidationError("identity.id must be text of 1 to 255 characters.")
    external_id = str(external_id)
    given = identity.get("hash")
    secret = (workspace.settings or {}).get("identity_secret")
    verified = (
        isinstance(given, str)
        and bool(secret)
        and hmac.compare_digest(
            identity_hash(secret, external_id), given.strip().lower()
        )
    )
    if not verified and (workspace.settings or {}).get("enforce_identity"):
        raise Forbidden(
            "This identity could not be verified; the chat stays anonymous.",
            code="identity_invalid",
        )
    if verified:
        known = session.scalar(
            select(Visitor).where(
                Visitor.workspace_id == workspace.id, Visitor.external_id == external_id
            )
        )
        if known is not None:
            visitor = known
        elif visitor.external_id not in (None, external_id):
            visitor = Visitor(workspace_id=workspace.id, attributes={}, last_page={})
            session.add(visitor)
        visitor.external_id = external_id
    return update_profile(
        session, visitor, name=identity.get("name"), email=identity.get("email")
    )
