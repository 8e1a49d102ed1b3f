"""Signing agents and admins in and out of the console."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from app.db import utcnow
from app.domain.accounts import authenticate, normalise_email
from app.errors import RateLimited
from app.extensions import db, limiter, login_manager
from app.models import User
from app.models.console import SignOut

#: Sign-in attempts allowed per client address, and per email, per window.
#: Enough for a person who mistypes; far too few to guess a password.
ATTEMPTS_PER_ADDRESS = 30
ATTEMPTS_PER_EMAIL = 10
ATTEMPT_WINDOW_SECONDS = 300

#: Where the session keeps when it was signed in, for "sign out everywhere".
SIGNED_IN_AT = "signed_in_at"

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


class SignInForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the signed-in user from the session, if still active."""
    if not user_id.isdigit():
        return None
    # One query: every console request and agent socket event comes here.
    row = db.session.execute(
        select(User, SignOut.at)
        .outerjoin(SignOut, SignOut.user_id == User.id)
        .where(User.id == int(user_id))
    ).one_or_none()
    if row is None:
        return None
    user, signed_out_at = row
    if not user.is_active or _signed_out_since(signed_out_at):
        return None
    return user


def _signed_out_since(signed_out_at: datetime | None) -> bool:
    """True when the user signed out everywhere after this session began."""
    if signed_out_at is None:
        return False
    began = session.get(SIGNED_IN_AT)
    return not isinstance(began, int | float) or began < signed_out_at.timestamp()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("console.inbox"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            _count_attempt(form.email.data)
        except RateLimited as error:
            flash(error.message, "error")
            return render_template("auth/login.html", form=form), 429
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            session[SIGNED_IN_AT] = utcnow().timestamp()
            login_user(user)
            logger.info("User %s signed in", user.id)
            return redirect(_safe_next(request.args.get("next")))
        logger.info("Failed sign-in for %r", form.email.data)
        flash("That email and password do not match an account.", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Sign the user out."""
    logger.info("User %s signed out", current_user.id)
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """Sign the user out of every browser and device at once."""
    user_id = current_user.id
    mark = db.session.get(SignOut, user_id)
    if mark is None:
        db.session.add(SignOut(user_id=user_id, at=utcnow()))
    else:
        mark.at = utcnow()
    db.session.commit()
    logout_user()
    logger.info("User %s signed out everywhere", user_id)
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


def _count_attempt(email: str) -> None:
    """Count a sign-in attempt; raise RateLimited past either limit."""
    message = "Too many sign-in attempts. Wait a few minutes, then try again."
    address = request.remote_addr or "unknown"
    limiter.check(
        f"signin:addr:{address}",
        ATTEMPTS_PER_ADDRESS,
        ATTEMPT_WINDOW_SECONDS,
        message,
    )
    limiter.check(
        f"signin:email:{normalise_email(email)}",
        ATTEMPTS_PER_EMAIL,
        ATTEMPT_WINDOW_SECONDS,
        message,
    )


def _safe_next(target: str | None) -> str:
    """Follow ``next`` only to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("console.inbox")
