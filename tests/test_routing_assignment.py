"""Assignment, queues, requeues and transfers, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.domain import events
from app.domain.conversations import close_conversation
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import (
    AuditEvent,
    AuthorKind,
    Availability,
    Conversation,
    ConversationStatus,
    Message,
    RoutingRule,
    RuleKind,
    Strategy,
    Team,
    User,
    Workspace,
)
from app.routing.assignment import (
    agent_load,
    assign_next,
    assign_to,
    estimated_wait,
    preview,
    queue_position,
    queue_status,
    queued_conversations,
    requeue_agent,
    route_new_conversation,
    set_availability,
    set_capacity,
    settle_reopened,
    sweep_offline_agents,
    transfer_to_team,
)
from app.routing.rules import VisitorContext

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def new_conversation(workspace: Workspace, make, **context) -> Conversation:
    """Store a conversation without announcing it (tests route it themselves)."""
    visitor = make.visitor(workspace)
    conversation = Conversation(
        workspace_id=workspace.id, visitor_id=visitor.id, context=context
    )
    db.session.add(conversation)
    db.session.commit()
    return conversation


def team_of(make, workspace, agents, strategy=Strategy.LEAST_BUSY, **fields) -> Team:
    """Make a team with ``agents`` and settings."""
    team = make.team(workspace, members=agents)
    team.strategy = strategy
    for name, value in fields.items():
        setattr(team, name, value)
    db.session.commit()
    return team


def online(*agents: User, capacity: int | None = None, at: datetime = T0) -> None:
    """Bring agents online (and set their capacity)."""
    for agent in agents:
        if capacity is not None:
            set_capacity(db.session, agent.id, capacity)
        set_availability(db.session, agent.id, Availability.ONLINE, now=at)


def route(conversation: Conversation, at: datetime = T0, **context):
    """Route a conversation the way the started-conversation hook does."""
    return route_new_conversation(
        db.session,
        conversation.id,
        VisitorContext(**context) if context else None,
        now=at,
    )


def fresh(conversation: Conversation) -> Conversation:
    """Reload a conversation from the database."""
    return db.session.get(Conversation, conversation.id, populate_existing=True)


def system_messages(conversation: Conversation) -> list[str]:
    """Return the bodies of a conversation's system messages, oldest first."""
    return list(
        db.session.scalars(
            select(Message.body)
            .where(
                Message.conversation_id == conversation.id,
                Message.author_kind == AuthorKind.SYSTEM,
            )
            .order_by(Message.seq)
        )
    )


def actions(conversation: Conversation) -> list[str]:
    """Return the audit actions recorded on a conversation, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.object_type == "conversation",
                AuditEvent.object_id == conversation.id,
            )
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def workspace(make) -> Workspace:
    """The workspace the tests route in."""
    return make.default_workspace


def test_new_conversation_goes_to_least_busy_online_agent(make, workspace):
    """The least busy online agent gets it, with a system message and an audit."""
    busy, idle, away = make.agent(), make.agent(), make.agent()
    team = team_of(make, workspace, [busy, idle, away], is_default=True)
    online(busy)
    route(new_conversation(workspace, make))
    online(idle)
    set_availability(db.session, away.id, Availability.AWAY)

    conversation = new_conversation(workspace, make)
    result = route(conversation)

    assert (result.team_id, result.assignee_id, result.position) == (
        team.id,
        idle.id,
        None,
    )
    assert system_messages(conversation) == [f"{idle.name} joined the conversation."]
    assert actions(conversation) == ["conversation.assign"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == conversation.id)
    ).one()
    assert event.data["agent_id"] == idle.id and event.data["load"] == 1


def test_rules_send_conversation_to_matching_team(make, workspace):
    """A matching page rule wins over the default team; others fall through."""
    general_agent, sales_agent = make.agent(), make.agent()
    team_of(make, workspace, [general_agent], is_default=True)
    sales = team_of(make, workspace, [sales_agent])
    db.session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=sales.id,
            kind=RuleKind.PAGE_URL,
            pattern="*/pricing*",
        )
    )
    db.session.commit()
    online(general_agent, sales_agent)

    pricing = new_conversation(workspace, make, url="https://shop.test/pricing")
    other = new_conversation(workspace, make, url="https://shop.test/help")

    assert route(pricing).assignee_id == sales_agent.id
    assert route(other).assignee_id == general_agent.id
    assert fresh(pricing).team_id == sales.id


def test_attribute_rules_only_count_for_identified_visitors(make, workspace):
    """An anonymous visitor's attributes are ignored; an identified one's are used."""
    default = team_of(make, workspace, [], is_default=True)
    vip = team_of(make, workspace, [])
    db.session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=vip.id,
            kind=RuleKind.ATTRIBUTE,
            key="plan",
            pattern="enterprise",
        )
    )
    db.session.commit()
    anonymous = new_conversation(workspace, make)
    anonymous.visitor.attributes = {"plan": "enterprise"}
    identified = new_conversation(workspace, make)
    identified.visitor.attributes = {"plan": "enterprise"}
    identified.visitor.external_id = "customer-1"
    db.session.commit()

    assert route_new_conversation(db.session, anonymous.id).team_id == default.id
    assert route_new_conversation(db.session, identified.id).team_id == vip.id


def test_full_team_queues_first_in_first_out_and_drains_on_close(make, workspace):
    """With the only agent full, they wait in order; a close assigns the head."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent, capacity=1)
    first, second, third = (new_conversation(workspace, make) for _ in range(3))

    assert route(first).assignee_id == agent.id
    assert route(second, T0 + timedelta(seconds=1)).position == 1
    assert route(third, T0 + timedelta(seconds=2)).position == 2
    assert queue_position(db.session, first.id) is None
    team_id = fresh(second).team_id
    assert queued_conversations(db.session, team_id) == [second.id, third.id]
    status = queue_status(db.session, third.id, T0)
    assert (status.position, status.team_open) == (2, True)

    close_conversation(Tenant(db.session, workspace.id), first.id, by=agent)

    assert fresh(second).assignee_id == agent.id
    assert fresh(second).queued_at is None
    assert queue_position(db.session, third.id) == 1
    assert fresh(third).assignee_id is None
    assert agent_load(db.session, agent.id) == 1


def test_closing_a_queued_conversation_takes_it_out_of_the_queue(make, workspace):
    """A visitor who gives up no longer holds a place ahead of others."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    waiting, behind = (
        new_conversation(workspace, make),
        new_conversation(workspace, make),
    )
    route(waiting)
    route(behind, T0 + timedelta(seconds=1))

    close_conversation(Tenant(db.session, workspace.id), waiting.id, by=agent)

    assert fresh(waiting).queued_at is None
    assert queue_position(db.session, behind.id) == 1


def test_coming_online_drains_the_queue(make, workspace):
    """Conversations queued while everyone was offline go to the first agent back."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    conversations = [new_conversation(workspace, make) for _ in range(3)]
    for index, conversation in enumerate(conversations):
        assert route(conversation, T0 + timedelta(seconds=index)).position == index + 1

    set_capacity(db.session, agent.id, 2)
    assigned = set_availability(db.session, agent.id, "online", now=T0)

    assert [a.conversation_id for a in assigned] == [c.id for c in conversations[:2]]
    assert queue_position(db.session, conversations[2].id) == 1


def test_raising_capacity_drains_the_queue(make, workspace):
    """A higher capacity takes the longest-waiting conversation at once."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent, capacity=1)
    held, waiting = new_conversation(workspace, make), new_conversation(workspace, make)
    route(held)
    route(waiting)
    assert fresh(waiting).assignee_id is None

    set_capacity(db.session, agent.id, 2, by=agent)

    assert fresh(waiting).assignee_id == agent.id
    capacity_event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "agent.capacity")
    ).all()[-1]
    assert (capacity_event.data["before"], capacity_event.data["after"]) == (1, 2)


def test_lowering_capacity_keeps_conversations_but_gives_no_more(make, workspace):
    """An agent over a lowered capacity keeps theirs and gets no new one."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent, capacity=2)
    for _ in range(2):
        route(new_conversation(workspace, make))
    set_capacity(db.session, agent.id, 1)
    late = new_conversation(workspace, make)

    assert route(late).position == 1
    assert agent_load(db.session, agent.id) == 2


def test_round_robin_rotates_through_online_members(make, workspace):
    """A round-robin team deals conversations to its members in turn."""
    agents = [make.agent() for _ in range(3)]
    team_of(make, workspace, agents, Strategy.ROUND_ROBIN, is_default=True)
    online(*agents, capacity=5)
    got = [route(new_conversation(workspace, make)).assignee_id for _ in range(4)]
    ids = [agent.id for agent in agents]
    assert got == [*ids, ids[0]]


def test_manual_team_waits_for_a_take_that_respects_capacity(make, workspace):
    """A manual team assigns nothing itself; a take beyond capacity is refused."""
    agent = make.agent()
    team_of(make, workspace, [agent], Strategy.MANUAL, is_default=True)
    online(agent, capacity=1)
    first, second = new_conversation(workspace, make), new_conversation(workspace, make)
    assert route(first).position == 1
    assert route(second).position == 2
    assert assign_next(db.session, fresh(first).team_id) == []

    assign_to(db.session, first.id, agent.id, by=agent)
    with pytest.raises(Conflict) as refused:
        assign_to(db.session, second.id, agent.id, by=agent)

    assert refused.value.code == "at_capacity"
    assert fresh(first).assignee_id == agent.id
    assert fresh(second).assignee_id is None
    assert queue_position(db.session, second.id) == 1
    assert actions(first) == ["conversation.assign"]
    assert actions(second) == []


def test_reassigning_by_hand_frees_the_first_agents_room(make, workspace):
    """Moving a conversation to another agent lets the first take the queue's head."""
    first_agent, second_agent = make.agent(), make.agent()
    team_of(make, workspace, [first_agent], is_default=True)
    online(first_agent, capacity=1)
    moved, waiting = (
        new_conversation(workspace, make),
        new_conversation(workspace, make),
    )
    route(moved)
    route(waiting)

    assign_to(db.session, moved.id, second_agent.id)

    assert fresh(moved).assignee_id == second_agent.id
    assert fresh(waiting).assignee_id == first_agent.id
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == moved.id)
    ).all()[-1]
    assert event.data["previous_agent_id"] == first_agent.id


def test_no_one_reaches_another_workspace(make, workspace):
    """Assigning to another workspace's agent, or by its admin, is NotFound."""
    team_of(make, workspace, [], is_default=True)
    other = make.workspace()
    stranger, outside_admin = make.agent(other), make.admin(other)
    conversation = new_conversation(workspace, make)
    route(conversation)

    with pytest.raises(NotFound):
        assign_to(db.session, conversation.id, stranger.id)
    with pytest.raises(NotFound):
        set_capacity(db.session, make.agent(workspace).id, 3, by=outside_admin)
    assert fresh(conversation).assignee_id is None


def test_agent_offline_past_grace_is_requeued_at_the_head(make, workspace):
    """Past the grace period an offline agent's conversation jumps the queue."""
    gone, other = make.agent(), make.agent()
    team = team_of(
        make, workspace, [gone, other], is_default=True, requeue_on_offline=True
    )
    online(gone, capacity=1)
    held, waiting = new_conversation(workspace, make), new_conversation(workspace, make)
    route(held)
    route(waiting, T0 + timedelta(seconds=5))
    set_availability(db.session, gone.id, "offline", now=T0 + timedelta(minutes=1))

    early = T0 + timedelta(minutes=2, seconds=59)
    assert sweep_offline_agents(db.session, now=early) == []
    assert fresh(held).assignee_id == gone.id

    late = T0 + timedelta(minutes=3, seconds=1)
    assert sweep_offline_agents(db.session, now=late) == [held.id]
    assert queue_position(db.session, held.id) == 1
    assert queue_position(db.session, waiting.id) == 2
    assert system_messages(held)[-1] == (
        f"{gone.name} went offline; the conversation is back in the queue."
    )
    assert actions(held) == ["conversation.assign", "conversation.requeue"]

    online(other, at=late)
    assert fresh(held).assignee_id == other.id
    assert team.id == fresh(held).team_id


def test_reload_within_grace_is_not_offline(make, workspace):
    """An agent who drops and comes back keeps their conversations."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True, requeue_on_offline=True)
    online(agent)
    conversation = new_conversation(workspace, make)
    route(conversation)
    set_availability(db.session, agent.id, "offline", now=T0 + timedelta(seconds=10))
    set_availability(db.session, agent.id, "online", now=T0 + timedelta(seconds=12))

    assert sweep_offline_agents(db.session, now=T0 + timedelta(hours=1)) == []
    assert requeue_agent(db.session, agent.id, now=T0 + timedelta(hours=1)) == []
    assert fresh(conversation).assignee_id == agent.id


def test_teams_that_do_not_ask_keep_offline_agents_conversations(make, workspace):
    """Requeueing is the team's choice; by default nothing moves."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent)
    conversation = new_conversation(workspace, make)
    route(conversation)
    set_availability(db.session, agent.id, "offline", now=T0)

    assert sweep_offline_agents(db.session, now=T0 + timedelta(days=1)) == []
    assert fresh(conversation).assignee_id == agent.id


def test_outside_business_hours_the_team_is_offline(make, workspace):
    """A closed team puts the widget in offline mode; the conversation waits for it."""
    agent = make.agent()
    team = team_of(
        make,
        workspace,
        [agent],
        is_default=True,
        business_hours={
            "timezone": "America/New_York",
            "weekly": {"mon": [["09:00", "17:00"]]},
            "holidays": [],
        },
    )
    night = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Sunday 22:00 in New York
    morning = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00

    assert not preview(db.session, workspace.id, VisitorContext(), night).team_open
    result = route(new_conversation(workspace, make), night)
    assert (result.team_id, result.team_open, result.position) == (team.id, False, 1)

    assigned = set_availability(db.session, agent.id, "online", now=morning)
    assert [a.agent_id for a in assigned] == [agent.id]
    assert preview(db.session, workspace.id, VisitorContext(), morning).team_open


def test_transfer_moves_to_the_other_team_with_message_and_audit(make, workspace):
    """A transfer leaves a system message and an audit record and assigns anew."""
    first_agent, billing_agent = make.agent(), make.agent()
    team_of(make, workspace, [first_agent], is_default=True)
    billing = team_of(make, workspace, [billing_agent], name="Billing")
    online(first_agent, billing_agent, capacity=1)
    moved, waiting = (
        new_conversation(workspace, make),
        new_conversation(workspace, make),
    )
    route(moved)
    route(waiting)

    result = transfer_to_team(db.session, moved.id, billing.id, by=first_agent)

    assert (result.team_id, result.assignee_id) == (billing.id, billing_agent.id)
    assert system_messages(moved)[-2:] == [
        "Transferred to the Billing team.",
        f"{billing_agent.name} joined the conversation.",
    ]
    assert actions(moved) == [
        "conversation.assign",
        "conversation.transfer",
        "conversation.assign",
    ]
    assert fresh(waiting).assignee_id == first_agent.id


def test_transfer_to_another_workspaces_team_is_not_found(make, workspace):
    """A team id from another workspace is treated as missing."""
    team_of(make, workspace, [], is_default=True)
    elsewhere = make.team(make.workspace())
    conversation = new_conversation(workspace, make)
    route(conversation)
    with pytest.raises(NotFound):
        transfer_to_team(db.session, conversation.id, elsewhere.id)
    assert fresh(conversation).team_id != elsewhere.id


def test_estimated_wait_is_the_median_of_recent_first_waits(make, workspace):
    """The wait estimate comes from how long recent visitors waited for an agent."""
    agent = make.agent()
    team = team_of(make, workspace, [agent], is_default=True)
    assert estimated_wait(db.session, team.id) is None
    set_capacity(db.session, agent.id, 10)
    for minutes in (1, 2, 9):
        conversation = new_conversation(workspace, make)
        conversation.created_at = T0
        db.session.commit()
        route(conversation, T0)
        set_availability(
            db.session, agent.id, "online", now=T0 + timedelta(minutes=minutes)
        )
        set_availability(db.session, agent.id, "offline", now=T0)

    assert estimated_wait(db.session, team.id) == timedelta(minutes=2)


def test_routing_twice_changes_nothing(make, workspace):
    """Routing an already routed conversation adds no message and no audit."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent)
    conversation = new_conversation(workspace, make)
    route(conversation)
    again = route(conversation)

    assert again.assignee_id == agent.id
    assert actions(conversation) == ["conversation.assign"]
    assert len(system_messages(conversation)) == 1


def test_started_event_routes_the_conversation(make, workspace):
    """The conversation-started event routes a conversation without being asked."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent)
    conversation = new_conversation(workspace, make)

    events.conversation_started.send(conversation_id=conversation.id)

    assert fresh(conversation).assignee_id == agent.id


def test_demo_team_catches_every_conversation(app):
    """The seeded demo's Support team is the default, so the demo routes."""
    from app.domain.demo import seed

    seed(db.session)
    team = db.session.scalar(select(Team).where(Team.name == "Support"))
    assert team.is_default
    workspace = db.session.get(Workspace, team.workspace_id)
    assert preview(db.session, workspace.id, VisitorContext()).team_id == team.id


def test_the_sweep_loop_step_requeues_offline_agents(app, make, workspace):
    """One step of the web process's sweep loop requeues past-grace conversations."""
    from app.routing.hooks import sweep_once

    agent = make.agent()
    team_of(
        make,
        workspace,
        [agent],
        is_default=True,
        requeue_on_offline=True,
        offline_grace_seconds=0,
    )
    online(agent, at=datetime.now(UTC) - timedelta(minutes=5))
    conversation = new_conversation(workspace, make)
    route(conversation, datetime.now(UTC) - timedelta(minutes=5))
    set_availability(
        db.session, agent.id, "offline", now=datetime.now(UTC) - timedelta(minutes=1)
    )

    assert sweep_once(app) == [conversation.id]
    assert queue_position(db.session, conversation.id) == 1


@pytest.mark.parametrize(("capacity", "queued"), [(1, True), (2, False)])
def test_reopened_conversation_never_takes_its_agent_past_capacity(
    make, workspace, capacity, queued
):
    """A reopened conversation stays with a full agent only if they have room."""
    agent = make.agent()
    team_of(make, workspace, [agent], is_default=True)
    online(agent, capacity=capacity)
    earlier, current = (
        new_conversation(workspace, make),
        new_conversation(workspace, make),
    )
    route(earlier)
    close_conversation(Tenant(db.session, workspace.id), earlier.id, by=agent)
    route(current)

    reopened = fresh(earlier)
    reopened.status = ConversationStatus.OPEN
    assert settle_reopened(db.session, reopened.id) is queued
    db.session.commit()

    assert agent_load(db.session, agent.id) <= capacity
    assert (fresh(earlier).assignee_id is None) is queued
    assert (queue_position(db.session, earlier.id) == 1) is queued
    assert ("conversation.requeue" in actions(earlier)) is queued
