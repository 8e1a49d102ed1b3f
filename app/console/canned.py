"""Canned replies: the workspace's list, kept by its agents."""

from __future__ import annotations

from flask import jsonify, render_template, request, url_for
from flask_login import login_required

from app.console import bp
from app.console.common import current_tenant, done
from app.console.views import chrome
from app.domain import console


@bp.get("/canned")
@login_required
def canned():
    """List the workspace's canned replies with a form to add one."""
    replies = console.canned_replies(current_tenant())
    return render_template("console/canned.html", replies=replies, **chrome())


@bp.get("/canned.json")
@login_required
def canned_json():
    """Return the canned replies for the reply box's / menu."""
    replies = console.canned_replies(current_tenant())
    return jsonify(
        {"replies": [{"shortcut": r.shortcut, "body": r.body} for r in replies]}
    )


@bp.post("/canned")
@login_required
def add_canned():
    """Add a canned reply."""
    reply = console.add_canned_reply(
        current_tenant(), request.form.get("shortcut"), request.form.get("body")
    )
    return _back(f"Added /{reply.shortcut}.")


@bp.post("/canned/<int:reply_id>/delete")
@login_required
def delete_canned(reply_id: int):
    """Delete a canned reply."""
    console.delete_canned_reply(current_tenant(), reply_id)
    return _back("Canned reply deleted.")


def _back(message: str):
    return done(message, target=url_for("console.canned"))
