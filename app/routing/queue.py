"""What routing knows without changing anything: teams, loads, queues, waits."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app.db import utcnow
from app.models import (
    AuditEvent,
    Conversation,
    ConversationStatus,
    RoutingRule,
    Team,
)
from app.routing import hours, rules
from app.routing.rules import VisitorContext

#: Statuses that count against an agent's capacity.
OPEN_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)

#: How many recent first waits the wait estimate is drawn from.
WAIT_SAMPLE = 20


@dataclass(frozen=True)
class QueueStatus:
    """What a waiting visitor is told: their place, the likely wait, the mode."""

    position: int | None
    estimated_wait: timedelta | None
    team_open: bool


@dataclass(frozen=True)
class RoutePreview:
    """Which team a visitor would reach, by which rule, and whether it is open."""

    team_id: int | None
    team_name: str | None
    rule_id: int | None
    team_open: bool


def context_of(conversation: Conversation) -> VisitorContext:
    """Build the routing context from a conversation and its visitor.

    Attributes count only for identified visitors: an anonymous visitor's
    attributes come from the page and could be anything.
    """
    visitor = conversation.visitor
    context = conversation.context or {}
    prechat = context.get("prechat")
    identified = visitor.external_id is not None
    return VisitorContext(
        page_url=str(context.get("url") or (visitor.last_page or {}).get("url") or ""),
        language=str(context.get("language") or visitor.locale or ""),
        prechat=prechat if isinstance(prechat, dict) else {},
        attributes=(visitor.attributes or {}) if identified else {},
    )


def preview(
    session: Session,
    workspace_id: int,
    context: VisitorContext,
    now: datetime | None = None,
) -> RoutePreview:
    """Say which team ``context`` would reach now, without changing anything."""
    ordered = list(
        session.scalars(
            select(RoutingRule)
            .where(RoutingRule.workspace_id == workspace_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )
    rule = rules.first_match(ordered, context)
    team = rule.team if rule is not None else default_team(session, workspace_id)
    if team is None:
        return RoutePreview(None, None, None, True)
    return RoutePreview(
        team.id,
        team.name,
        rule.id if rule is not None else None,
        hours.is_open(team.business_hours, now or utcnow()),
    )


def default_team(session: Session, workspace_id: int) -> Team | None:
    """Return the workspace's default team, if it has one."""
    return session.scalar(
        select(Team)
        .where(Team.workspace_id == workspace_id, Team.is_default.is_(True))
        .order_by(Team.id)
        .limit(1)
    )


def agent_load(session: Session, user_id: int) -> int:
    """Count the open or pending conversations assigned to ``user_id``."""
    return session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.assignee_id == user_id,
            Conversation.status.in_(OPEN_STATUSES),
        )
    )


def agent_loads(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """Count the open or pending conversations of each of ``user_ids``."""
    rows = session.execute(
        select(Conversation.assignee_id, func.count())
        .where(
            Conversation.assignee_id.in_(list(user_ids)),
            Conversation.status.in_(OPEN_STATUSES),
        )
        .group_by(Conversation.assignee_id)
    )
    return {user_id: count for user_id, count in rows}


def queue_position(session: Session, conversation_id: int) -> int | None:
    """Return the conversation's place in its team's queue (1 is next), or None."""
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None or not _is_queued(conversation):
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            queue_filter(conversation.workspace_id, conversation.team_id),
            or_(
                Conversation.queued_at < conversation.queued_at,
                and_(
                    Conversation.queued_at == conversation.queued_at,
                    Conversation.id < conversation.id,
                ),
            ),
        )
    )
    return ahead + 1


def estimated_wait(session: Session, team_id: int) -> timedelta | None:
    """Estimate a new wait from the team's recent waits for a first agent.

    The median of the last few, so that one conversation left waiting over
    a weekend does not swamp the estimate. None before any history exists.
    """
    team = session.get(Team, team_id)
    if team is None:
        return None
    recent = session.scalars(
        select(AuditEvent.data)
        .where(
            AuditEvent.workspace_id == team.workspace_id,
            AuditEvent.action == "conversation.assign",
        )
        .order_by(AuditEvent.id.desc())
        .limit(WAIT_SAMPLE * 10)
    )
    waits = [
        data["waited_seconds"]
        for data in recent
        if data.get("team_id") == team_id and data.get("waited_seconds") is not None
    ][:WAIT_SAMPLE]
    if not waits:
        return None
    return timedelta(seconds=round(statistics.median(waits)))


def queue_status(
    session: Session, conversation_id: int, now: datetime | None = None
) -> QueueStatus:
    """Return a conversation's place in its queue, the wait estimate and the mode.

    ``position`` is None once an agent has it; ``team_open`` is False outside
    the team's business hours, when the widget shows its offline mode.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.team_id is None:
        return QueueStatus(queue_position(session, conversation_id), None, True)
    position = queue_position(session, conversation_id)
    return QueueStatus(
        position,
        estimated_wait(session, conversation.team_id) if position else None,
        team_is_open(session, conversation.team_id, now),
    )


def team_is_open(session: Session, team_id: int, now: datetime | None = None) -> bool:
    """True if the team is within its business hours at ``now``."""
    team = session.get(Team, team_id)
    return team is not None and hours.is_open(team.business_hours, now or utcnow())


def queue_filter(workspace_id: int, team_id: int | None) -> ColumnElement[bool]:
    """Conditions for the conversations waiting in a team's queue."""
    team = (
        Conversation.team_id.is_(None)
        if team_id is None
        else Conversation.team_id == team_id
    )
    return and_(
        Conversation.workspace_id == workspace_id,
        team,
        Conversation.assignee_id.is_(None),
        Conversation.queued_at.is_not(None),
        Conversation.status.in_(OPEN_STATUSES),
    )


def _is_queued(conversation: Conversation) -> bool:
    """True if the conversation waits in a queue now."""
    return (
        conversation.queued_at is not None
        and conversation.assignee_id is None
        and conversation.status in OPEN_STATUSES
    )


def queued_conversations(session: Session, team_id: int) -> list[int]:
    """Return the ids waiting in a team's queue, next first (position = index + 1)."""
    team = session.get(Team, team_id)
    if team is None:
        return []
    return list(
        session.scalars(
            select(Conversation.id)
            .where(queue_filter(team.workspace_id, team.id))
            .order_by(Conversation.queued_at, Conversation.id)
        )
    )
