"""What agents do to a conversation: take, assign, transfer, close, reopen,
snooze, tag. Each is a form post; ``fetch`` calls get JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import request
from flask_login import current_user, login_required

from app.console import bp
from app.console.common import current_tenant, done, form_int
from app.domain import console
from app.domain.conversations import close_conversation
from app.errors import ValidationError
from app.models import Conversation
from app.routing.assignment import transfer_to_team


@bp.post("/conversations/<int:conversation_id>/take")
@login_required
def take(conversation_id: int):
    """Take an unassigned conversation; refused if another agent has it."""
    console.take(current_tenant(), conversation_id, current_user)
    return done("The conversation is yours.", conversation_id)


@bp.post("/conversations/<int:conversation_id>/assign")
@login_required
def assign(conversation_id: int):
    """Give the conversation to an agent of the workspace."""
    agent_id = form_int("agent_id")
    console.assign(current_tenant(), conversation_id, agent_id, by=current_user)
    return done("Conversation assigned.", conversation_id)


@bp.post("/conversations/<int:conversation_id>/transfer")
@login_required
def transfer(conversation_id: int):
    """Move the conversation to another team's queue."""
    team_id = form_int("team_id")
    tenant = current_tenant()
    tenant.get(Conversation, conversation_id)
    transfer_to_team(tenant.session, conversation_id, team_id, by=current_user)
    return done("Conversation transferred.", conversation_id)


@bp.post("/conversations/<int:conversation_id>/close")
@login_required
def close(conversation_id: int):
    """Close a conversation; the visitor gets the transcript by email."""
    close_conversation(current_tenant(), conversation_id, by=current_user)
    return done("Conversation closed.", conversation_id)


@bp.post("/conversations/<int:conversation_id>/reopen")
@login_required
def reopen(conversation_id: int):
    """Open a closed or snoozed conversation again."""
    console.reopen(current_tenant(), conversation_id, by=current_user)
    return done("Conversation reopened.", conversation_id)


@bp.post("/conversations/<int:conversation_id>/snooze")
@login_required
def snooze(conversation_id: int):
    """Snooze until the chosen time (the form's local time and UTC offset)."""
    until = _snooze_time()
    console.snooze(current_tenant(), conversation_id, until, by=current_user)
    return done(f"Snoozed until {until:%Y-%m-%d %H:%M}.", conversation_id)


def _snooze_time() -> datetime:
    """Read ``until`` (datetime-local) and ``tz_offset`` (minutes, as JS gives)."""
    raw = request.form.get("until", "").strip()
    offset = request.form.get("tz_offset", "0").strip()
    try:
        local = datetime.fromisoformat(raw)
        minutes = int(offset)
    except ValueError:
        raise ValidationError(
            "Choose the date and time the conversation should come back.",
            code="invalid_until",
        ) from None
    if abs(minutes) > 14 * 60:
        raise ValidationError("The time zone offset is out of range.")
    if local.tzinfo is not None:
        return local
    # getTimezoneOffset() is UTC minus local time, in minutes.
    return (local + timedelta(minutes=minutes)).replace(tzinfo=UTC)


@bp.post("/conversations/<int:conversation_id>/tags")
@login_required
def add_tag(conversation_id: int):
    """Put a tag on the conversation."""
    tag = console.add_tag(current_tenant(), conversation_id, request.form.get("name"))
    return done(f"Tagged {tag.name}.", conversation_id, tag={"id": tag.id})


@bp.post("/conversations/<int:conversation_id>/tags/<int:tag_id>/remove")
@login_required
def remove_tag(conversation_id: int, tag_id: int):
    """Take a tag off the conversation."""
    console.remove_tag(current_tenant(), conversation_id, tag_id)
    return done("Tag removed.", conversation_id)
