"""Routing under real concurrency: several OS processes on one PostgreSQL database.

Visitor processes start and close conversations while agent processes
switch agents online, away and offline, change capacities, take
conversations by hand, transfer them and sweep offline agents' conversations
back into the queues. An observer process samples the database meanwhile.
Afterwards the database and the audit trail must show that no conversation
ever had two agents at once and no agent was ever assigned past capacity.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.domain import events
from app.domain.conversations import close_conversation
from app.domain.tenancy import Tenant
from app.errors import ParleyError
from app.extensions import db
from app.models import (
    AuditEvent,
    Availability,
    Conversation,
    ConversationStatus,
    Role,
    RoutingRule,
    RuleKind,
    Strategy,
    Team,
    TeamMembership,
    User,
    Visitor,
)
from app.routing.assignment import (
    OPEN_STATUSES,
    agent_loads,
    assign_to,
    set_availability,
    set_capacity,
    sweep_offline_agents,
    transfer_to_team,
)
from config import Settings

pytestmark = [pytest.mark.postgresql_only, pytest.mark.timeout(900)]

VISITOR_PROCESSES = 2
AGENT_PROCESSES = 2
STEPS = 320
CAPACITIES = (1, 2, 3)


def _settings(url: str, instance: str) -> Settings:
    """Settings of an embedded-mode app on the stress database."""
    return Settings(
        env="development",
        secret_key="stress-secret-key-of-at-least-thirty-two-characters",
        database_url=url,
        redis_url=None,
        async_mode="threading",
        public_url="http://testserver",
        smtp_host="127.0.0.1",
        smtp_port=1,
        instance_path=Path(instance),
        testing=True,
    )


def run_visitors(url: str, instance: str, ids: dict, seed: int, barrier: Any) -> None:
    """Start conversations (German or English) and close some of them."""
    rng = random.Random(seed)
    app = create_app(_settings(url, instance))
    with app.app_context():
        session = db.session
        tenant = Tenant(session, ids["workspace"])
        closer = session.get(User, ids["admin"])
        mine: list[int] = []
        barrier.wait()
        for _ in range(STEPS):
            if mine and rng.random() < 0.3:
                target = mine.pop(rng.randrange(len(mine)))
                close_conversation(tenant, target, by=closer)
                continue
            visitor = tenant.add(Visitor())
            session.flush()
            language = rng.choice(["en", "de"])
            conversation = tenant.add(
                Conversation(visitor_id=visitor.id, context={"language": language})
            )
            session.commit()
            mine.append(conversation.id)
            # What the widget's first message does once it is stored.
            events.conversation_started.send(conversation_id=conversation.id)


def run_agents(url: str, instance: str, ids: dict, seed: int, barrier: Any) -> None:
    """Change availability and capacity, take, transfer and sweep, at random."""
    rng = random.Random(seed)
    app = create_app(_settings(url, instance))
    with app.app_context():
        session = db.session
        barrier.wait()
        for _ in range(STEPS):
            agent = rng.choice(ids["agents"])
            roll = rng.random()
            try:
                if roll < 0.4:
                    status = rng.choice(list(Availability))
                    set_availability(session, agent, status)
                elif roll < 0.65:
                    set_capacity(session, agent, rng.choice(CAPACITIES))
                elif roll < 0.8:
                    target = _random_open(session, ids["workspace"], rng)
                    if target is not None:
                        taker = session.get(User, agent)
                        assign_to(session, target, agent, by=taker)
                elif roll < 0.9:
                    target = _random_open(session, ids["workspace"], rng)
                    if target is not None:
                        transfer_to_team(session, target, rng.choice(ids["teams"]))
                else:
                    sweep_offline_agents(session)
            except ParleyError:
                # Refusals (at capacity, closed meanwhile) are part of the game.
                session.rollback()


def _random_open(session, workspace_id: int, rng: random.Random) -> int | None:
    """Return the id of a random open conversation of the workspace."""
    found = session.scalars(
        select(Conversation.id).where(
            Conversation.workspace_id == workspace_id,
            Conversation.status.in_(OPEN_STATUSES),
        )
    ).all()
    session.commit()
    return rng.choice(found) if found else None


def observe(url: str, agent_ids: list[int], done: Any, found: Any) -> None:
    """Sample every agent's load until told to stop; count loads above any capacity.

    Each sample is one statement, so one consistent snapshot of what was
    committed. No capacity in the run exceeds max(CAPACITIES), so no agent's
    open conversations may ever exceed it either.
    """
    engine = create_engine(url)
    worst = 0
    samples = 0
    query = text(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM conversations "
        "WHERE assignee_id = ANY(:ids) AND status IN ('open', 'pending') "
        "GROUP BY assignee_id) AS loads"
    )
    with engine.connect() as connection:
        while not done.is_set() or samples == 0:
            worst = max(
                worst, connection.execute(query, {"ids": agent_ids}).scalar() or 0
            )
            connection.commit()
            samples += 1
    engine.dispose()
    found.value = worst


@pytest.fixture
def desk(app, make):
    """A workspace with two teams sharing four agents; German visitors to one."""
    session = db.session
    workspace = make.workspace("Stress")
    admin = make.admin(workspace)
    agents = [make.agent(workspace) for _ in range(4)]
    general = make.team(workspace, members=agents[:3], name="General")
    german = make.team(workspace, members=[agents[0], agents[3]], name="German")
    general.is_default = True
    general.requeue_on_offline = german.requeue_on_offline = True
    # No grace: every sweep finds offline agents to take conversations from.
    general.offline_grace_seconds = german.offline_grace_seconds = 0
    german.strategy = Strategy.ROUND_ROBIN
    session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=german.id,
            kind=RuleKind.LANGUAGE,
            pattern="de",
        )
    )
    session.commit()
    for agent in agents:
        set_capacity(session, agent.id, 2)
        set_availability(session, agent.id, Availability.ONLINE)
    return {
        "workspace": workspace.id,
        "admin": admin.id,
        "agents": [agent.id for agent in agents],
        "teams": [general.id, german.id],
    }


def test_many_processes_never_double_assign_or_exceed_capacity(
    app, desk, database_url, tmp_path
):
    """Concurrent processes keep both invariants, by the database and the audit."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(VISITOR_PROCESSES + AGENT_PROCESSES)
    done, worst = context.Event(), context.Value("i", -1)
    workers = [
        context.Process(
            target=run_visitors if i < VISITOR_PROCESSES else run_agents,
            args=(database_url, str(tmp_path / f"w{i}"), desk, 1000 + i, barrier),
            name=f"routing-stress-{i}",
        )
        for i in range(VISITOR_PROCESSES + AGENT_PROCESSES)
    ]
    observer = context.Process(
        target=observe, args=(database_url, desk["agents"], done, worst)
    )
    observer.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    observer.join()

    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    assert observer.exitcode == 0
    assert 0 <= worst.value <= max(CAPACITIES)

    session = db.session
    session.expire_all()
    trail = _audit_trail(session, desk["workspace"])
    _check_each_assignment_within_capacity(trail)
    _check_one_agent_at_a_time(session, desk["workspace"], trail)
    _check_no_queue_beside_idle_agents(session, desk)
    # The run really contended: many assignments, refills and requeues.
    actions = {event.action for event in trail}
    assert {"conversation.assign", "conversation.requeue"} <= actions
    assert sum(event.action == "conversation.assign" for event in trail) >= 100


def _audit_trail(session, workspace_id: int) -> list[AuditEvent]:
    """Return the workspace's audit events in the order they were written."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.workspace_id == workspace_id)
            .order_by(AuditEvent.id)
        )
    )


def _check_each_assignment_within_capacity(trail: list[AuditEvent]) -> None:
    """Every assignment left its agent at or under the capacity it had then."""
    for event in trail:
        if event.action == "conversation.assign":
            assert event.data["load"] <= event.data["capacity"], event.data
            assert event.data["capacity"] in CAPACITIES


def _check_one_agent_at_a_time(session, workspace_id: int, trail) -> None:
    """Replay each conversation's trail: every hand-over starts from its holder.

    A conversation's events are written while its row is locked, so their
    ids are in commit order. An assignment must name the agent who held it
    (none, for one from the queue); a requeue or transfer lets go of it.
    """
    holders: dict[int, int | None] = defaultdict(lambda: None)
    closed: set[int] = set()
    for event in trail:
        if event.object_type != "conversation":
            continue
        conversation = event.object_id
        if event.action == "conversation.assign":
            assert conversation not in closed, event.data
            assert event.data["previous_agent_id"] == holders[conversation], (
                conversation,
                event.data,
            )
            holders[conversation] = event.data["agent_id"]
        elif event.action in ("conversation.requeue", "conversation.transfer"):
            assert event.data["previous_agent_id"] == holders[conversation]
            holders[conversation] = None
        elif event.action == "conversation.close":
            closed.add(conversation)

    rows = session.execute(
        select(Conversation.id, Conversation.assignee_id, Conversation.queued_at)
        .where(Conversation.workspace_id == workspace_id)
        .where(Conversation.status != ConversationStatus.CLOSED)
    ).all()
    for conversation_id, assignee_id, queued_at in rows:
        assert holders[conversation_id] == assignee_id, conversation_id
        assert (queued_at is None) == (assignee_id is not None), conversation_id


def _check_no_queue_beside_idle_agents(session, desk: dict) -> None:
    """Once everyone stops, no team's queue waits while a member online has room."""
    loads = agent_loads(session, desk["agents"])
    for team_id in desk["teams"]:
        waiting = session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.team_id == team_id,
                Conversation.assignee_id.is_(None),
                Conversation.queued_at.is_not(None),
                Conversation.status.in_(OPEN_STATUSES),
            )
        )
        idle = session.scalars(
            select(User.id)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(
                TeamMembership.team_id == team_id,
                User.availability == Availability.ONLINE,
                User.role == Role.AGENT,
            )
        ).all()
        room = [
            user_id
            for user_id in idle
            if loads.get(user_id, 0) < session.get(User, user_id).capacity
        ]
        assert not (waiting and room), (session.get(Team, team_id).name, room)
