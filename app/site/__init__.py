"""Public pages: the front door and the widget's demo page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Workspace

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    """Send agents to their console and everyone else to sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("console.inbox"))
    return redirect(url_for("auth.login"))


@bp.get("/demo")
def demo():
    """Show a sample company page with the first workspace's widget tag."""
    workspace = db.session.scalar(select(Workspace).order_by(Workspace.id).limit(1))
    public_url = current_app.config["SETTINGS"].public_url
    return render_template("site/demo.html", workspace=workspace, public_url=public_url)
