"""The JSON shapes of docs/protocol.md, built from domain objects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.content import render_html
from app.domain.conversations import MessageView, view_of
from app.domain.numbering import Answering, Claimed
from app.models import (
    AuthorKind,
    Availability,
    Conversation,
    ConversationStatus,
    Message,
    Team,
    TeamMembership,
    User,
)
from app.routing import hours
from app.routing.queue import estimated_wait, queue_position, team_is_open


def message(
    view: MessageView, *, for_visitor: bool, live: bool = True
) -> dict[str, Any]:
    """Return a message event for one side; ``live`` adds ``prev_seq``."""
    payload: dict[str, Any] = {
        "id": view.id,
        "conversation_id": view.conversation_id,
        "seq": view.seq,
        "author": {
            "kind": view.author_kind.value,
            "id": None if view.author_kind == AuthorKind.VISITOR else view.author_id,
            "name": view.author_name,
        },
        "body": view.body,
        "html": render_html(view.body),
        "created_at": view.created_at.isoformat(),
    }
    if live:
        payload["prev_seq"] = view.prev_visible_seq if for_visitor else view.seq - 1
    own_side = (view.author_kind == AuthorKind.VISITOR) == for_visitor
    if own_side and view.client_msg_id is not None:
        payload["client_msg_id"] = view.client_msg_id
    return payload


def stored_messages(
    rows: list[Message], names: dict[int, str], *, for_visitor: bool
) -> list[dict[str, Any]]:
    """Return catch-up messages (no ``prev_seq``: the list is complete)."""
    return [
        message(
            view_of(
                row,
                names.get(row.author_id)
                if row.author_kind != AuthorKind.VISITOR
                else None,
            ),
            for_visitor=for_visitor,
            live=False,
        )
        for row in rows
    ]


def conversation(conv: Conversation) -> dict[str, Any]:
    """Return a conversation summary."""
    return {
        **_state(conv),
        "assignee": (
            {"id": conv.assignee.id, "name": conv.assignee.name}
            if conv.assignee
            else None
        ),
        "team": {"id": conv.team.id, "name": conv.team.name} if conv.team else None,
        "visitor": {
            "id": conv.visitor.public_id,
            "name": conv.visitor.display_name,
            "email": conv.visitor.email,
        },
    }


def _state(conv: Claimed | Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "status": conv.status.value,
        "last_seq": conv.last_seq,
        "visitor_read_seq": conv.visitor_read_seq,
        "agent_read_seq": conv.agent_read_seq,
    }


def conversation_for_visitor(
    conv: Conversation, session: Session | None = None, position: int | None = None
) -> dict[str, Any]:
    """A summary without the ids of agents and teams, or notes in ``last_seq``.

    With a session it also says where the visitor stands: their place in
    the queue while nobody has taken the conversation, and whether its team
    can answer now.
    """
    summary = {
        **_state(conv),
        "last_seq": conv.last_visible_seq,
        "assignee": {"name": conv.assignee.name} if conv.assignee else None,
        "team": {"name": conv.team.name} if conv.team else None,
    }
    if session is not None:
        summary["queue"] = queue(session, conv, position)
        summary["availability"] = availability(session, conv.workspace_id, conv.team_id)
    return summary


def sent_summary(
    session: Session, state: Claimed | Conversation, answering: Answering | None
) -> dict[str, Any]:
    """The visitor's summary in a send's ack, from the state the send left.

    Every send answers with it. Who can answer comes from the store when it
    read that in the same call (PostgreSQL), else from one prebuilt query
    instead of a load per relationship.
    """
    if answering is None:
        answering = _answering(session, state)
    online, assignee, team_name, team_hours = answering
    team_open = state.team_id is None or (
        team_name is not None and hours.is_open(team_hours, utcnow())
    )
    return {
        **_state(state),
        "last_seq": state.last_visible_seq,
        "assignee": None if assignee is None else {"name": assignee},
        "team": None if team_name is None else {"name": team_name},
        "queue": queue(session, state),
        "availability": _available(team_open, online),
    }


def _answering(session: Session, state: Claimed | Conversation) -> Answering:
    has_assignee, has_team = state.assignee_id is not None, state.team_id is not None
    found = (
        session.connection()
        .execute(
            _SUMMARY[has_assignee, has_team],
            {
                "workspace": state.workspace_id,
                "assignee": state.assignee_id,
                "team": state.team_id,
            },
        )
        .one()
        ._mapping
    )
    return Answering(
        found["online"], found.get("assignee"), found.get("team"), found.get("hours")
    )


def _summary_statement(has_assignee: bool, has_team: bool) -> Select:
    team_id = bindparam("team") if has_team else None
    columns = [
        _online_agents(bindparam("workspace"), team_id)
        .scalar_subquery()
        .label("online")
    ]
    if has_assignee:
        assignee = select(User.name).where(User.id == bindparam("assignee"))
        columns.append(assignee.scalar_subquery().label("assignee"))
    if has_team:
        team = select(Team.name).where(Team.id == team_id)
        columns.append(team.scalar_subquery().label("team"))
        hours_stored = team.with_only_columns(Team.business_hours)
        columns.append(hours_stored.scalar_subquery().label("hours"))
    return select(*columns)


def _online_agents(workspace_id: Any, team_id: Any) -> Select:
    online = select(func.count(User.id)).where(
        User.workspace_id == workspace_id,
        User.is_active.is_(True),
        User.availability == Availability.ONLINE,
    )
    if team_id is not None:
        online = online.join(TeamMembership, TeamMembership.user_id == User.id).where(
            TeamMembership.team_id == team_id
        )
    return online


_SUMMARY = {
    (has_assignee, has_team): _summary_statement(has_assignee, has_team)
    for has_assignee in (False, True)
    for has_team in (False, True)
}


def queue(
    session: Session, conv: Claimed | Conversation, position: int | None = None
) -> dict[str, Any] | None:
    """Return ``{position, estimated_wait_seconds}`` while the conversation waits."""
    if conv.assignee_id is not None or conv.queued_at is None:
        return None
    if conv.status not in (ConversationStatus.OPEN, ConversationStatus.PENDING):
        return None
    if position is None:
        position = queue_position(session, conv.id)
    if position is None:
        return None
    wait = estimated_wait(session, conv.team_id) if conv.team_id is not None else None
    return {
        "position": position,
        "estimated_wait_seconds": None if wait is None else int(wait.total_seconds()),
    }


def availability(
    session: Session, workspace_id: int, team_id: int | None
) -> dict[str, Any]:
    """Return ``{online, reason}``: can the team (or workspace) answer now?"""
    if team_id is not None and not team_is_open(session, team_id):
        return _available(team_open=False, agents_online=0)
    return _available(True, session.scalar(_online_agents(workspace_id, team_id)))


def _available(team_open: bool, agents_online: int) -> dict[str, Any]:
    if not team_open:
        return {"online": False, "reason": "outside_hours"}
    if agents_online:
        return {"online": True, "reason": None}
    return {"online": False, "reason": "no_agents"}
