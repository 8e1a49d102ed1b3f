"""What the console's views share: the tenant, answers, form fields."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask_login import current_user

from app.console import bp
from app.domain.tenancy import Tenant
from app.errors import ValidationError, wants_json
from app.extensions import db


def current_tenant() -> Tenant:
    """Return the signed-in user's workspace scope."""
    return Tenant(db.session, current_user.workspace_id)


def done(
    message: str,
    conversation_id: int | None = None,
    *,
    target: str | None = None,
    **extra: Any,
):
    """Answer a successful action: JSON for fetch calls, else a redirect."""
    if wants_json():
        return jsonify({"ok": True, "message": message, **extra})
    flash(message, "info")
    if target is None and conversation_id is not None:
        target = url_for("console.conversation", conversation_id=conversation_id)
    return redirect(target or url_for("console.inbox"))


def form_int(name: str) -> int:
    """Return a whole-number form field, or raise ValidationError."""
    value = request.form.get(name, "").strip()
    if not value.isdigit() or len(value) > 18:
        raise ValidationError(f"Choose a valid {name.replace('_', ' ')}.")
    return int(value)


def arg_int(name: str, default: int | None) -> int | None:
    """Return a whole-number query argument, the default when absent."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 18:
        raise ValidationError(f"{name} must be a whole number.")
    return int(value)


#: The console loads only its own scripts, styles and sockets. 'self' in
#: connect-src covers the same origin's ws:// and wss:// in current browsers.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def _security_headers(response):
    """Send a strict Content-Security-Policy with every console page."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
