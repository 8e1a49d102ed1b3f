"""The widget's HTTP API: opening a visitor session."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app.domain.visitors import (
    VisitorTokens,
    clean_page,
    open_conversations,
    open_session,
    origin_allowed,
    public_profile,
    update_profile,
    workspace_by_key,
)
from app.errors import Forbidden, ValidationError
from app.extensions import csrf, db, limiter
from app.realtime import payloads
from app.routing.queue import preview
from app.routing.rules import VisitorContext

bp = Blueprint("widget_api", __name__, url_prefix="/api/widget")
# Visitors' browsers call this from the company's site, without a session
# cookie; the origin check and the widget key stand in for CSRF protection.
csrf.exempt(bp)

#: Sessions a single address may open per minute.
SESSION_LIMIT = (30, 60)


@bp.after_request
def allow_cross_origin(response):
    """Let the company's pages read the answer (the origin was checked)."""
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    return response


@bp.route("/session", methods=["OPTIONS"])
def session_preflight():
    """Answer the browser's CORS preflight."""
    return "", 204


@bp.post("/session")
def open_visitor_session():
    """Return a signed visitor token, the visitor and their open conversations.

    Body: ``{key, token?, page?, identity?, attributes?}``; see docs/protocol.md.
    """
    limiter.check(f"session:{request.remote_addr}", *SESSION_LIMIT)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object with the widget key.")

    workspace = workspace_by_key(db.session, data.get("key"))
    if not origin_allowed(workspace, request.headers.get("Origin")):
        raise Forbidden(
            "This website is not allowed to use this workspace's chat.",
            code="origin_forbidden",
        )
    tokens = VisitorTokens(current_app.config["SECRET_KEY"])
    visitor, token = open_session(
        db.session,
        tokens,
        workspace,
        data.get("token"),
        page=clean_page(data.get("page")),
        user_agent=request.headers.get("User-Agent"),
        locale=request.accept_languages.best,
        claimed=data.get("identity"),
    )
    if data.get("attributes") is not None:
        update_profile(db.session, visitor, attributes=data["attributes"])
    settings = workspace.settings or {}
    context = VisitorContext(
        page_url=(visitor.last_page or {}).get("url", ""), language=visitor.locale or ""
    )
    reached = preview(db.session, workspace.id, context)
    return jsonify(
        token=token,
        visitor=public_profile(visitor),
        workspace={
            "name": workspace.name,
            "greeting": settings.get("greeting"),
            "color": settings.get("color"),
            "language": settings.get("language"),
            "prechat": settings.get("prechat"),
            "availability": payloads.availability(
                db.session, workspace.id, reached.team_id
            ),
        },
        conversations=[
            payloads.conversation_for_visitor(c, db.session)
            for c in open_conversations(db.session, visitor.id)
        ],
    )
