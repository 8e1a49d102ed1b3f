"""Property tests: whatever happens, routing keeps its two invariants.

Random sequences of starts, closes, takes, transfers, availability and
capacity changes and sweeps run against the real database. After every step:
no assignment took an agent past their capacity, no conversation was given
to an agent while another had it, and no queue waits while an online member
of its team has room.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.db import utcnow
from app.domain.conversations import close_conversation
from app.domain.tenancy import Tenant
from app.errors import Conflict
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
    Workspace,
)
from app.routing.assignment import (
    OPEN_STATUSES,
    agent_loads,
    assign_next,
    assign_to,
    route_new_conversation,
    set_availability,
    set_capacity,
    settle_reopened,
    sweep_offline_agents,
    transfer_to_team,
)
from app.routing.rules import VisitorContext

AGENTS = 3

starts = st.tuples(st.just("start"), st.sampled_from(["en", "de"]))
closes = st.tuples(st.just("close"), st.integers(0, 20))
# Starts and closes are weighted up: they are what fills and frees capacity.
operations = st.one_of(
    starts,
    starts,
    starts,
    closes,
    closes,
    st.tuples(
        st.just("availability"),
        st.integers(0, AGENTS - 1),
        st.sampled_from(list(Availability)),
    ),
    st.tuples(st.just("capacity"), st.integers(0, AGENTS - 1), st.integers(0, 3)),
    st.tuples(st.just("take"), st.integers(0, 20), st.integers(0, AGENTS - 1)),
    st.tuples(st.just("transfer"), st.integers(0, 20), st.integers(0, 1)),
    st.tuples(st.just("sweep"), st.integers(1, 4)),
    st.tuples(st.just("reopen"), st.integers(0, 20)),
)


@dataclass
class Desk:
    """A workspace with two teams sharing three agents, and a clock."""

    workspace: Workspace
    teams: list[Team]
    agents: list[User]
    now: datetime
    conversations: list[int] = field(default_factory=list)
    assignees: dict[int, int | None] = field(default_factory=dict)
    seen_audit: int = 0


def build_desk(strategy: Strategy) -> Desk:
    """Create the workspace: agent 0 in both teams, German visitors to team 1."""
    session = db.session
    workspace = Workspace(name="Property", settings={})
    session.add(workspace)
    session.flush()
    agents = [
        User(
            workspace_id=workspace.id,
            email=f"agent{i}-{workspace.id}@example.com",
            name=f"Agent {i}",
            password_hash="not a real hash",
            role=Role.AGENT,
            capacity=1 + i % 2,
            availability=Availability.ONLINE,
        )
        for i in range(AGENTS)
    ]
    teams = [
        Team(workspace_id=workspace.id, name=name, strategy=strategy, is_default=i == 0)
        for i, name in enumerate(("General", "German"))
    ]
    session.add_all([*agents, *teams])
    session.flush()
    for team, members in zip(teams, ([0, 1], [0, 2]), strict=True):
        requeue = team is teams[0]
        team.requeue_on_offline = requeue
        for index in members:
            session.add(TeamMembership(team_id=team.id, user_id=agents[index].id))
    session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=teams[1].id,
            kind=RuleKind.LANGUAGE,
            pattern="de",
        )
    )
    session.commit()
    return Desk(workspace, teams, agents, utcnow())


def apply(desk: Desk, operation: tuple) -> None:
    """Run one operation through the routing domain."""
    session = db.session
    desk.now += timedelta(seconds=1)
    kind, *args = operation
    if kind == "start":
        visitor = Visitor(workspace_id=desk.workspace.id)
        session.add(visitor)
        session.flush()
        conversation = Conversation(
            workspace_id=desk.workspace.id, visitor_id=visitor.id
        )
        session.add(conversation)
        session.commit()
        desk.conversations.append(conversation.id)
        route_new_conversation(
            session, conversation.id, VisitorContext(language=args[0]), now=desk.now
        )
    elif kind == "close" and desk.conversations:
        target = desk.conversations[args[0] % len(desk.conversations)]
        if session.get(Conversation, target).status != ConversationStatus.CLOSED:
            close_conversation(
                Tenant(session, desk.workspace.id), target, by=desk.agents[0]
            )
    elif kind == "availability":
        set_availability(session, desk.agents[args[0]].id, args[1], now=desk.now)
    elif kind == "capacity":
        set_capacity(session, desk.agents[args[0]].id, args[1])
    elif kind == "take" and desk.conversations:
        target = desk.conversations[args[0] % len(desk.conversations)]
        try:
            agent = desk.agents[args[1]]
            assign_to(session, target, agent.id, by=agent, now=desk.now)
        except Conflict:
            pass
    elif kind == "transfer" and desk.conversations:
        target = desk.conversations[args[0] % len(desk.conversations)]
        try:
            transfer_to_team(session, target, desk.teams[args[1]].id, now=desk.now)
        except Conflict:
            pass
    elif kind == "sweep":
        desk.now += timedelta(minutes=args[0])
        sweep_offline_agents(session, now=desk.now)
    elif kind == "reopen" and desk.conversations:
        reopen(desk, desk.conversations[args[0] % len(desk.conversations)])


def reopen(desk: Desk, conversation_id: int) -> None:
    """Open a closed conversation again, as the console does, within capacity."""
    session = db.session
    conversation = session.get(Conversation, conversation_id)
    if conversation.status != ConversationStatus.CLOSED:
        return
    conversation.status = ConversationStatus.OPEN
    conversation.closed_at = None
    queued = settle_reopened(session, conversation_id, now=desk.now)
    session.commit()
    if queued:
        assign_next(session, conversation.team_id, now=desk.now)


def loads_and_capacities(desk: Desk) -> dict[int, tuple[int, int]]:
    """Return each agent's (open conversations, capacity) from the database."""
    ids = [agent.id for agent in desk.agents]
    loads = agent_loads(db.session, ids)
    capacities = dict(
        db.session.execute(select(User.id, User.capacity).where(User.id.in_(ids))).all()
    )
    return {i: (loads.get(i, 0), capacities[i]) for i in ids}


def check_capacity(before: dict, after: dict) -> None:
    """No agent gained a conversation that took them past their capacity."""
    for agent_id, (load, capacity) in after.items():
        gained = load > before[agent_id][0]
        assert not gained or load <= capacity, (agent_id, before, after)


def check_single_assignee(desk: Desk) -> None:
    """Each new assignment took over from exactly the agent the conversation had."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.workspace_id == desk.workspace.id)
        .where(AuditEvent.id > desk.seen_audit)
        .order_by(AuditEvent.id)
    ).all()
    for event in events:
        desk.seen_audit = event.id
        holder = desk.assignees.get(event.object_id)
        if event.action == "conversation.assign":
            assert event.data["previous_agent_id"] == holder, event.data
            if event.actor_kind == "routing" and event.data["previous_agent_id"]:
                raise AssertionError(f"Routing reassigned {event.object_id}")
            desk.assignees[event.object_id] = event.data["agent_id"]
        elif event.action in ("conversation.requeue", "conversation.transfer"):
            desk.assignees[event.object_id] = None
    for conversation in db.session.scalars(
        select(Conversation).where(Conversation.workspace_id == desk.workspace.id)
    ):
        assert conversation.assignee_id == desk.assignees.get(conversation.id)
        if conversation.status != ConversationStatus.CLOSED:
            queued = conversation.queued_at is not None
            assert queued != (conversation.assignee_id is not None)


def check_no_idle_capacity(desk: Desk) -> None:
    """No team's queue waits while one of its online members has room."""
    loads = loads_and_capacities(desk)
    for team in desk.teams:
        waiting = db.session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.team_id == team.id,
                Conversation.assignee_id.is_(None),
                Conversation.queued_at.is_not(None),
                Conversation.status.in_(OPEN_STATUSES),
            )
        )
        members = db.session.scalars(
            select(User)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(TeamMembership.team_id == team.id)
            .execution_options(populate_existing=True)
        ).all()
        room = [
            m.id
            for m in members
            if m.availability == Availability.ONLINE and loads[m.id][0] < loads[m.id][1]
        ]
        assert not (waiting and room), (team.name, waiting, room)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    strategy=st.sampled_from([Strategy.LEAST_BUSY, Strategy.ROUND_ROBIN]),
    steps=st.lists(operations, min_size=1, max_size=30),
)
# Fill every agent, close one of agent 0's, refill, then reopen it.
@example(
    strategy=Strategy.LEAST_BUSY,
    steps=[("start", "en")] * 3
    + [("close", 0)]
    + [("start", "en")] * 2
    + [("reopen", 0)],
)
def test_invariants_hold_after_every_step(app, strategy, steps):
    """No agent over capacity, no conversation with two agents, no idle room."""
    desk = build_desk(strategy)
    for step in steps:
        before = loads_and_capacities(desk)
        apply(desk, step)
        check_capacity(before, loads_and_capacities(desk))
        check_single_assignee(desk)
        check_no_idle_capacity(desk)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=30))
def test_manual_teams_only_assign_by_hand_within_capacity(app, steps):
    """On manual teams only takes assign, and never past capacity."""
    desk = build_desk(Strategy.MANUAL)
    for step in steps:
        before = loads_and_capacities(desk)
        apply(desk, step)
        check_capacity(before, loads_and_capacities(desk))
        check_single_assignee(desk)
    routed = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.workspace_id == desk.workspace.id,
            AuditEvent.action == "conversation.assign",
            AuditEvent.actor_kind == "routing",
        )
    )
    assert routed == 0
