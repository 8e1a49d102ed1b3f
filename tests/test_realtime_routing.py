"""The realtime layer and routing together: presence, queues, pre-chat, profiles."""

import pytest

from app.extensions import db
from app.models import Availability, Conversation, RoutingRule, RuleKind, User, Visitor
from tests.support.sockets import call, new_id, open_agent, open_widget, received
from tests.support.statements import statements

W, A = "/widget", "/agent"


@pytest.fixture
def workspace(agent_client):
    return agent_client.user.workspace


@pytest.fixture
def team(make, workspace, agent_client):
    team = make.team(workspace, members=[agent_client.user], name="Support")
    team.is_default = True
    db.session.commit()
    return team


def _first_send(visitor, body="Hello", **extra):
    ack = call(
        visitor,
        W,
        "message:send",
        {"conversation_id": None, "client_msg_id": new_id(), "body": body, **extra},
    )
    assert ack["ok"], ack
    return ack


def test_an_agent_connecting_comes_online_for_routing(app, agent_client, team):
    """Connecting to /agent makes the agent available; choosing away takes it back."""
    agent = open_agent(app, agent_client)
    user = db.session.get(User, agent_client.user.id)
    db.session.refresh(user)
    assert user.availability == Availability.ONLINE
    assert call(agent, A, "presence:set", {"status": "away"})["ok"]
    db.session.refresh(user)
    assert user.availability == Availability.AWAY


def test_queue_then_assignment_reaches_the_visitor(app, client, agent_client, team):
    """With the only agent full, the visitor is told position 1, then who took it."""
    user = agent_client.user
    user.capacity = 1
    db.session.commit()
    agent = open_agent(app, agent_client)
    workspace = user.workspace

    first = open_widget(app, client, workspace)
    taken = _first_send(first)["conversation"]
    assert taken["assignee"] == {"name": user.name} and taken["queue"] is None

    second = open_widget(app, client, workspace)
    waiting = _first_send(second, "Anyone?")["conversation"]
    assert waiting["queue"]["position"] == 1
    # The first visitor was answered at once: a wait of under a minute, not none.
    assert 0 <= waiting["queue"]["estimated_wait_seconds"] < 60
    assert waiting["availability"] == {"online": True, "reason": None}

    second.get_received(W)
    closed = call(agent, A, "conversation:join", {"conversation_id": taken["id"]})
    assert closed["ok"]
    response = agent_client.post(f"/console/conversations/{taken['id']}/close")
    assert response.status_code in (200, 302)
    updates = [
        u for u in received(second, W, "conversation") if u["id"] == waiting["id"]
    ]
    assert updates and updates[-1]["assignee"] == {"name": user.name}
    assert updates[-1]["queue"] is None


def test_no_agent_online_says_so(app, client, make):
    """With nobody online the summary says no_agents, so the widget asks for email."""
    workspace = make.workspace()
    make.team(workspace, members=[make.agent(workspace)])
    visitor = open_widget(app, client, workspace)
    summary = _first_send(visitor)["conversation"]
    assert summary["availability"] == {"online": False, "reason": "no_agents"}


def test_prechat_answers_reach_the_visitor_and_routing(
    app, client, make, workspace, team
):
    """A pre-chat topic routes by rule; name and email go on the visitor."""
    billing = make.team(workspace, name="Billing")
    db.session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=billing.id,
            kind=RuleKind.PRECHAT,
            key="topic",
            pattern="billing",
        )
    )
    db.session.commit()
    visitor = open_widget(app, client, workspace)
    prechat = {"name": "Dana", "email": "Dana@Example.com", "topic": "billing"}
    ack = _first_send(visitor, "Invoice question", prechat=prechat)
    conversation = db.session.get(Conversation, ack["conversation"]["id"])
    db.session.refresh(conversation)
    assert conversation.team_id == billing.id
    assert conversation.context["prechat"]["topic"] == "billing"
    person = db.session.get(Visitor, conversation.visitor_id)
    assert (person.name, person.email) == ("Dana", "dana@example.com")


def test_visitor_update_sets_the_profile(app, client, workspace, agent_client):
    """visitor:update stores name and email; a bad email is refused."""
    visitor = open_widget(app, client, workspace)
    ack = call(visitor, W, "visitor:update", {"email": "vi@example.com", "name": "Vi"})
    assert ack["ok"] and ack["visitor"]["email"] == "vi@example.com"
    bad = call(visitor, W, "visitor:update", {"email": "not-an-address"})
    assert bad["error"]["code"] == "invalid"
    person = db.session.query(Visitor).one()
    assert (person.name, person.email) == ("Vi", "vi@example.com")


def test_every_send_answers_with_who_and_whether_they_can_answer(
    app, client, agent_client, make, workspace, team
):
    """A later send's summary names the assignee and team, and says when closed."""
    agent = open_agent(app, agent_client)
    assert agent.is_connected(A)
    visitor = open_widget(app, client, workspace)
    first = _first_send(visitor)["conversation"]
    assert first["assignee"] == {"name": agent_client.user.name}

    def send(body):
        ack = call(
            visitor,
            W,
            "message:send",
            {"conversation_id": first["id"], "client_msg_id": new_id(), "body": body},
        )
        assert ack["ok"], ack
        # The summary counts the message it answers for.
        assert ack["conversation"]["last_seq"] == ack["message"]["seq"]
        return ack["conversation"]

    again = send("Still here")
    assert again["assignee"] == {"name": agent_client.user.name}
    assert again["team"] == {"name": "Support"}
    assert again["availability"] == {"online": True, "reason": None}
    assert again["queue"] is None

    # A team whose hours never open is outside them whoever is online.
    team.business_hours = {"timezone": "UTC", "weekly": {}, "holidays": []}
    db.session.commit()
    closed = send("Hello?")
    assert closed["availability"] == {"online": False, "reason": "outside_hours"}
    assert closed["last_seq"] == again["last_seq"] + 1


def test_a_later_send_is_acked_with_who_can_answer_now(app, client, agent_client, team):
    """Each send's summary names the assignee and team and whether anyone is on.

    On PostgreSQL the store reads that in its own call: the send is one
    statement.
    """
    agent = open_agent(app, agent_client)
    user = agent_client.user
    visitor = open_widget(app, client, user.workspace)
    first = _first_send(visitor)["conversation"]
    assert first["assignee"] == {"name": user.name}

    def send(body):
        return call(
            visitor,
            W,
            "message:send",
            {"conversation_id": first["id"], "client_msg_id": new_id(), "body": body},
        )

    acks = []
    sent = statements(app, lambda: acks.append(send("Still there?")))
    summary = acks[0]["conversation"]
    assert summary["assignee"] == {"name": user.name}
    assert summary["team"] == {"name": "Support"}
    assert summary["availability"] == {"online": True, "reason": None}
    assert summary["last_seq"] == first["last_seq"] + 1 and summary["queue"] is None
    if db.engine.dialect.name == "postgresql":
        assert len(sent) == 1 and "parley_append_message" in sent[0], sent

    assert call(agent, A, "presence:set", {"status": "away"})["ok"]
    away = send("Hello?")["conversation"]
    assert away["assignee"] == {"name": user.name}
    assert away["availability"] == {"online": False, "reason": "no_agents"}
