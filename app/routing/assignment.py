"""Assigning conversations to agents: queues, capacity, transfers, requeues.

Two invariants hold however many processes route at once: a conversation
never has two agents, and an assignment never takes an agent past their
capacity. On PostgreSQL they rest on locks, always taken in one order (a
team's queue, then a conversation, then agents by id) so that no two
transactions wait on each other in a circle:

- draining a team's queue holds the team's advisory lock, so drains of one
  team run one at a time and the queue stays first in, first out. It is an
  advisory lock rather than the team's row so that writers who only point a
  conversation at the team (their foreign key shares the row) never wait
  on a drain;
- the head of the queue is locked with a plain FOR UPDATE: skipping it
  while a visitor's message holds its row would break the order and could
  leave it waiting beside an idle agent;
- an agent's open conversations are counted only while their row is locked,
  and every assignment to them holds that lock until it commits;
- the periodic sweep of offline agents' conversations uses SKIP LOCKED: a
  row busy now is picked up by the next sweep, and sweepers in several
  processes never queue behind each other.

SQLite serializes writers with one database lock; each step here starts
with a write, so it holds that lock before it reads anything.

An agent's load is their assigned conversations that are open or pending.
Each public function commits and returns what it did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain import audit
from app.domain.conversations import append_message
from app.errors import Conflict, NotFound, ValidationError
from app.models import (
    AuthorKind,
    Availability,
    Conversation,
    ConversationStatus,
    Strategy,
    Team,
    TeamMembership,
    User,
)
from app.routing.locks import lock_agent, lock_conversation, lock_queue, write_lock
from app.routing.queue import (
    OPEN_STATUSES,
    QueueStatus,
    RoutePreview,
    agent_load,
    agent_loads,
    context_of,
    estimated_wait,
    preview,
    queue_filter,
    queue_position,
    queue_status,
    queued_conversations,
    team_is_open,
)
from app.routing.rules import VisitorContext
from app.routing.strategies import Candidate, choose

logger = logging.getLogger(__name__)

#: Highest capacity an admin may give; a guard against typing 500 for 5.
MAX_CAPACITY = 100

# Reading functions live in ``queue``; they are named here too, so that
# callers find the whole routing API in one module.
__all__ = [
    "OPEN_STATUSES",
    "Assignment",
    "QueueStatus",
    "RoutePreview",
    "RoutingResult",
    "after_close",
    "agent_load",
    "agent_loads",
    "assign_next",
    "assign_to",
    "context_of",
    "drain_for_agent",
    "estimated_wait",
    "preview",
    "queue_position",
    "queue_status",
    "queued_conversations",
    "requeue_agent",
    "route_new_conversation",
    "set_availability",
    "set_capacity",
    "settle_reopened",
    "sweep_offline_agents",
    "team_is_open",
    "transfer_to_team",
]

_ROUTING = ("routing", None)


@dataclass(frozen=True)
class Assignment:
    """A conversation that was just given to an agent."""

    conversation_id: int
    agent_id: int
    team_id: int | None


@dataclass(frozen=True)
class RoutingResult:
    """Where a conversation stands after routing or a transfer."""

    conversation_id: int
    team_id: int | None
    assignee_id: int | None
    position: int | None
    team_open: bool


# Routing and draining


def route_new_conversation(
    session: Session,
    conversation_id: int,
    context: VisitorContext | None = None,
    *,
    now: datetime | None = None,
) -> RoutingResult:
    """Send a new conversation to its team's queue, then drain that queue.

    The team is the conversation's own if it already has one, else the first
    matching rule's, else the default team. Routing twice changes nothing.
    Commits.
    """
    now = now or utcnow()
    write_lock(session)
    conversation = lock_conversation(session, conversation_id)
    if (
        conversation.status == ConversationStatus.CLOSED
        or conversation.assignee_id is not None
        or conversation.queued_at is not None
    ):
        session.commit()
        return _result(session, conversation_id, now)

    if conversation.team_id is None:
        found = preview(
            session, conversation.workspace_id, context or context_of(conversation)
        )
        conversation.team_id = found.team_id
    conversation.queued_at = now
    session.commit()
    logger.info(
        "Conversation %s queued for team %s", conversation_id, conversation.team_id
    )

    if conversation.team_id is not None:
        assign_next(session, conversation.team_id, now=now)
    return _result(session, conversation_id, now)


def assign_next(
    session: Session, team_id: int, *, now: datetime | None = None
) -> list[Assignment]:
    """Assign the team's queue, longest waiting first, while agents have room.

    Manual teams are left alone: their agents take conversations by hand.
    Each assignment commits on its own, so locks are held briefly.
    """
    done: list[Assignment] = []
    while True:
        assignment = _assign_head(session, team_id, now or utcnow())
        if assignment is None:
            return done
        done.append(assignment)


def _assign_head(session: Session, team_id: int, now: datetime) -> Assignment | None:
    """Give the head of the team's queue to the agent the strategy picks."""
    write_lock(session)
    team = lock_queue(session, team_id)
    if team is None or team.strategy == Strategy.MANUAL:
        session.commit()
        return None

    head = session.scalar(
        select(Conversation)
        .where(queue_filter(team.workspace_id, team.id))
        .order_by(Conversation.queued_at, Conversation.id)
        .limit(1)
        .with_for_update(of=Conversation)
        .execution_options(populate_existing=True)
    )
    agent = _pick_agent(session, team) if head is not None else None
    if head is None or agent is None:
        session.commit()
        return None

    team.last_assigned_user_id = agent.id
    _assign(session, head, agent, actor=_ROUTING, now=now)
    session.commit()
    logger.info("Conversation %s assigned to agent %s", head.id, agent.id)
    return Assignment(head.id, agent.id, team.id)


def _pick_agent(session: Session, team: Team) -> User | None:
    """Lock the team's online agents and return the one the strategy picks."""
    agents = session.scalars(
        select(User)
        .where(
            User.id.in_(
                select(TeamMembership.user_id).where(TeamMembership.team_id == team.id)
            ),
            User.workspace_id == team.workspace_id,
            User.is_active.is_(True),
            User.availability == Availability.ONLINE,
        )
        .order_by(User.id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    ).all()
    if not agents:
        return None
    # Counted after the locks are held: no other assignment to these agents
    # can commit until this transaction ends.
    loads = agent_loads(session, [agent.id for agent in agents])
    candidates = [
        Candidate(
            user_id=agent.id,
            load=loads.get(agent.id, 0),
            capacity=agent.capacity,
            availability=agent.availability,
            last_assigned_at=agent.last_assigned_at,
        )
        for agent in agents
    ]
    chosen = choose(team.strategy, candidates, team.last_assigned_user_id)
    if chosen is None:
        return None
    return next(agent for agent in agents if agent.id == chosen.user_id)


def assign_to(
    session: Session,
    conversation_id: int,
    agent_id: int,
    *,
    by: User | None = None,
    now: datetime | None = None,
) -> Assignment:
    """Give a conversation to an agent by hand (a take or an admin's choice).

    Refuses with Conflict when the agent is at capacity or the conversation
    is closed; another workspace's agent or conversation is NotFound.
    Commits, then drains the teams of the agent who had it, if any.
    """
    now = now or utcnow()
    write_lock(session)
    conversation = lock_conversation(session, conversation_id)
    if by is not None and by.workspace_id != conversation.workspace_id:
        session.rollback()
        raise NotFound(f"No conversation {conversation_id} in this workspace.")
    if conversation.status == ConversationStatus.CLOSED:
        session.rollback()
        raise Conflict("This conversation is closed.", code="conversation_closed")
    if conversation.assignee_id == agent_id:
        session.commit()
        return Assignment(conversation.id, agent_id, conversation.team_id)

    agent = lock_agent(session, agent_id, conversation.workspace_id)
    if agent_load(session, agent.id) >= agent.capacity:
        session.rollback()
        raise Conflict(
            f"{agent.name} already has as many open conversations as their "
            "capacity allows. Close one of theirs or raise their capacity.",
            code="at_capacity",
        )

    previous = conversation.assignee_id
    actor = ("user", by.id) if by is not None else _ROUTING
    _assign(session, conversation, agent, actor=actor, now=now)
    session.commit()
    logger.info(
        "Conversation %s assigned to agent %s by hand", conversation_id, agent_id
    )
    if previous is not None:
        drain_for_agent(session, previous, now=now)
    return Assignment(conversation.id, agent.id, conversation.team_id)


def _assign(
    session: Session,
    conversation: Conversation,
    agent: User,
    *,
    actor: tuple[str, int | None],
    now: datetime,
) -> None:
    """Record the assignment, its system message and its audit event.

    The caller holds the locks on the conversation and the agent.
    """
    previous = conversation.assignee_id
    first = conversation.assigned_at is None
    conversation.assignee_id = agent.id
    conversation.queued_at = None
    conversation.assigned_at = now
    agent.last_assigned_at = now
    session.flush()

    append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        body=f"{agent.name} joined the conversation.",
    )
    waited = (now - conversation.created_at).total_seconds() if first else None
    audit.record(
        session,
        conversation.workspace_id,
        actor=actor,
        action="conversation.assign",
        obj=("conversation", conversation.id),
        agent_id=agent.id,
        previous_agent_id=previous,
        team_id=conversation.team_id,
        # Read under the agent's lock: the invariant, as this step saw it.
        load=agent_load(session, agent.id),
        capacity=agent.capacity,
        waited_seconds=waited,
    )


def transfer_to_team(
    session: Session,
    conversation_id: int,
    team_id: int,
    *,
    by: User | None = None,
    now: datetime | None = None,
) -> RoutingResult:
    """Move a conversation to another team's queue and drain it. Commits."""
    now = now or utcnow()
    write_lock(session)
    conversation = lock_conversation(session, conversation_id)
    team = session.get(Team, team_id)
    if team is None or team.workspace_id != conversation.workspace_id:
        session.rollback()
        raise NotFound(f"No team {team_id} in this workspace.")
    if conversation.status == ConversationStatus.CLOSED:
        session.rollback()
        raise Conflict("This conversation is closed.", code="conversation_closed")

    previous_agent, previous_team = conversation.assignee_id, conversation.team_id
    conversation.team_id = team.id
    conversation.assignee_id = None
    conversation.queued_at = now
    session.flush()
    append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        body=f"Transferred to the {team.name} team.",
    )
    audit.record(
        session,
        conversation.workspace_id,
        actor=("user", by.id) if by is not None else _ROUTING,
        action="conversation.transfer",
        obj=("conversation", conversation.id),
        from_team_id=previous_team,
        team_id=team.id,
        previous_agent_id=previous_agent,
    )
    session.commit()
    logger.info("Conversation %s transferred to team %s", conversation_id, team_id)

    assign_next(session, team.id, now=now)
    if previous_agent is not None:
        drain_for_agent(session, previous_agent, now=now)
    return _result(session, conversation_id, now)


# Capacity freed: closing, availability, capacity


def after_close(
    session: Session, conversation_id: int, *, now: datetime | None = None
) -> list[Assignment]:
    """Take a closed conversation out of its queue and hand on the room it left."""
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None or conversation.status != ConversationStatus.CLOSED:
        return []
    if conversation.queued_at is not None:
        write_lock(session)
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(queued_at=None)
            .execution_options(synchronize_session="fetch")
        )
        session.commit()
    if conversation.assignee_id is None:
        return []
    return drain_for_agent(session, conversation.assignee_id, now=now)


def set_availability(
    session: Session,
    user_id: int,
    status: Availability | str,
    *,
    now: datetime | None = None,
) -> list[Assignment]:
    """Record an agent going online, away or offline. Commits.

    Coming online drains the queues of the agent's teams. Going offline
    starts the grace period after which :func:`sweep_offline_agents` puts
    their conversations back in the queue (for teams that ask for it).
    """
    status = _availability(status)
    now = now or utcnow()
    write_lock(session)
    changed = session.execute(
        update(User)
        .where(User.id == user_id, User.availability != status)
        .values(availability=status, availability_changed_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    session.commit()
    if not changed:
        return []
    logger.info("Agent %s is %s", user_id, status.value)
    if status != Availability.ONLINE:
        return []
    return drain_for_agent(session, user_id, now=now)


def set_capacity(
    session: Session,
    user_id: int,
    capacity: int,
    *,
    by: User | None = None,
    now: datetime | None = None,
) -> list[Assignment]:
    """Change how many open conversations an agent takes at most. Commits.

    Lowering it below the agent's current load takes nothing away from
    them; they get no new conversation until they are under it again.
    Raising it drains the queues of the agent's teams.
    """
    if isinstance(capacity, bool) or not 0 <= capacity <= MAX_CAPACITY:
        raise ValidationError(
            f"Capacity must be a whole number from 0 to {MAX_CAPACITY}.",
            code="bad_capacity",
        )
    write_lock(session)
    agent = session.scalar(
        select(User)
        .where(User.id == user_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    if agent is None or (by is not None and by.workspace_id != agent.workspace_id):
        session.rollback()
        raise NotFound(f"No agent {user_id} in this workspace.")
    before = agent.capacity
    agent.capacity = capacity
    audit.record(
        session,
        agent.workspace_id,
        actor=("user", by.id) if by is not None else _ROUTING,
        action="agent.capacity",
        obj=("user", agent.id),
        before=before,
        after=capacity,
    )
    session.commit()
    if capacity <= before:
        return []
    return drain_for_agent(session, user_id, now=now)


def drain_for_agent(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[Assignment]:
    """Drain the queue of every team ``user_id`` belongs to."""
    done: list[Assignment] = []
    for team_id in _teams_of(session, user_id):
        done.extend(assign_next(session, team_id, now=now))
    return done


# Agents who went away for good


def requeue_agent(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[int]:
    """Put an agent's conversations back at the head of their queues.

    Only when the agent has been offline for longer than the team's grace
    period, and only for teams that requeue on offline. Returns the ids of
    the conversations requeued. Commits, then drains those teams.
    """
    now = now or utcnow()
    write_lock(session)
    held = session.scalars(
        select(Conversation)
        .join(Team, Team.id == Conversation.team_id)
        .where(
            Conversation.assignee_id == user_id,
            Conversation.status.in_(OPEN_STATUSES),
            Team.requeue_on_offline.is_(True),
        )
        .order_by(Conversation.assigned_at, Conversation.id)
        .with_for_update(of=Conversation, skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    # Read after the conversations are locked, so it is the latest word.
    agent = session.get(User, user_id, populate_existing=True)
    due = [c for c in held if agent is not None and _offline_past_grace(agent, c, now)]
    if not due:
        session.commit()
        return []

    reason = f"{agent.name} went offline; the conversation is back in the queue."
    for team_id, conversations in _by_team(due):
        _put_at_head(session, team_id, conversations, agent, now, reason)
    session.commit()
    logger.info("Requeued %d conversations of agent %s", len(due), user_id)
    for team_id in {c.team_id for c in due if c.team_id is not None}:
        assign_next(session, team_id, now=now)
    return [c.id for c in due]


def sweep_offline_agents(session: Session, *, now: datetime | None = None) -> list[int]:
    """Requeue the conversations of every agent offline past their grace period.

    Safe to run as often as you like from any number of processes.
    """
    now = now or utcnow()
    offline = session.scalars(
        select(User.id)
        .where(
            User.availability == Availability.OFFLINE,
            User.id.in_(
                select(Conversation.assignee_id)
                .join(Team, Team.id == Conversation.team_id)
                .where(
                    Conversation.status.in_(OPEN_STATUSES),
                    Team.requeue_on_offline.is_(True),
                )
            ),
        )
        .order_by(User.id)
    ).all()
    session.commit()
    requeued: list[int] = []
    for user_id in offline:
        requeued.extend(requeue_agent(session, user_id, now=now))
    return requeued


def _offline_past_grace(agent: User, conversation: Conversation, now: datetime) -> bool:
    """True if ``agent`` has been offline longer than the conversation's team allows."""
    if agent.availability != Availability.OFFLINE:
        return False
    since = agent.availability_changed_at
    grace = timedelta(seconds=conversation.team.offline_grace_seconds)
    return since is None or now - since >= grace


def _put_at_head(
    session: Session,
    team_id: int,
    conversations: Sequence[Conversation],
    agent: User,
    now: datetime,
    reason: str,
) -> None:
    """Queue ``conversations`` ahead of everything waiting, in their order."""
    workspace_id = conversations[0].workspace_id
    oldest = session.scalar(
        select(func.min(Conversation.queued_at)).where(
            queue_filter(workspace_id, team_id)
        )
    )
    head = min(oldest, now) if oldest is not None else now
    count = len(conversations)
    for index, conversation in enumerate(conversations):
        conversation.assignee_id = None
        conversation.queued_at = head - timedelta(milliseconds=count - index)
        session.flush()
        append_message(
            session,
            conversation.id,
            author_kind=AuthorKind.SYSTEM,
            author_id=None,
            body=reason,
        )
        audit.record(
            session,
            workspace_id,
            actor=_ROUTING,
            action="conversation.requeue",
            obj=("conversation", conversation.id),
            previous_agent_id=agent.id,
            team_id=team_id,
        )


def settle_reopened(
    session: Session, conversation_id: int, *, now: datetime | None = None
) -> bool:
    """Keep a reopened conversation within its agent's capacity. Does not commit.

    Call it in the transaction that makes a closed or snoozed conversation
    open again, after that change and before the commit. If its agent has
    no room left, it goes back to the head of its team's queue; if it has
    no agent, it joins the queue. Returns True when it waits in the queue:
    drain the team with :func:`assign_next` after the commit.
    """
    now = now or utcnow()
    session.flush()
    conversation = lock_conversation(session, conversation_id)
    if conversation.status not in OPEN_STATUSES or conversation.team_id is None:
        return False
    if conversation.assignee_id is None:
        conversation.queued_at = conversation.queued_at or now
        return True

    # Deleting a user empties their conversations' assignee, so one is here.
    agent = session.scalars(
        select(User)
        .where(User.id == conversation.assignee_id)
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    ).one()
    if agent_load(session, agent.id) <= agent.capacity:
        return False
    reason = f"{agent.name} has no room for it now; it is back in the queue."
    _put_at_head(session, conversation.team_id, [conversation], agent, now, reason)
    return True


# Helpers


def _teams_of(session: Session, user_id: int) -> list[int]:
    """Return the ids of the teams ``user_id`` is a member of."""
    query: Select[tuple[int]] = (
        select(TeamMembership.team_id)
        .where(TeamMembership.user_id == user_id)
        .order_by(TeamMembership.team_id)
    )
    teams = list(session.scalars(query))
    session.commit()
    return teams


def _by_team(
    conversations: Sequence[Conversation],
) -> list[tuple[int, list[Conversation]]]:
    """Group conversations by team, keeping their order."""
    groups: dict[int, list[Conversation]] = {}
    for conversation in conversations:
        groups.setdefault(conversation.team_id, []).append(conversation)
    return list(groups.items())


def _availability(status: Availability | str) -> Availability:
    """Return ``status`` as an Availability, or raise ValidationError."""
    try:
        return Availability(status)
    except ValueError as error:
        raise ValidationError(
            f"{status!r} is not an availability; use online, away or offline.",
            code="bad_availability",
        ) from error


def _result(session: Session, conversation_id: int, now: datetime) -> RoutingResult:
    """Describe where the conversation stands now."""
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    position = queue_position(session, conversation_id)
    team_open = conversation.team_id is None or team_is_open(
        session, conversation.team_id, now
    )
    session.commit()
    return RoutingResult(
        conversation.id,
        conversation.team_id,
        conversation.assignee_id,
        position,
        team_open,
    )
