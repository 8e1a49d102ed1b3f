"""Acting on a conversation from the console: take, assign, transfer, close,
reopen, snooze, tags, canned replies, search, transcript pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.domain import console
from app.domain.conversations import close_conversation, visitor_send
from app.domain.tenancy import Tenant
from app.models import (
    AuthorKind,
    Availability,
    Conversation,
    ConversationStatus,
    Message,
)
from app.models.console import Snooze
from app.routing.assignment import assign_to, set_availability, set_capacity
from app.routing.queue import agent_load
from tests.support.console import JSON, post_json, signed_in


def _fresh(make, conversation_id: int) -> Conversation:
    make.session.expire_all()
    return make.session.get(Conversation, conversation_id)


def test_take_then_second_agent_is_refused(app, make):
    """The first agent takes a conversation; the second gets a clear 409."""
    first = make.agent(name="First Agent")
    second = make.agent(first.workspace)
    conversation = make.conversation(first.workspace)

    taken = post_json(
        signed_in(app, first), f"/console/conversations/{conversation.id}/take"
    )
    assert taken.status_code == 200, taken.json
    refused = post_json(
        signed_in(app, second), f"/console/conversations/{conversation.id}/take"
    )
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "already_assigned"
    assert "First Agent has already taken" in refused.json["error"]["message"]
    assert _fresh(make, conversation.id).assignee_id == first.id


def test_take_respects_capacity(app, make):
    """An agent at capacity cannot take another conversation."""
    agent = make.agent(capacity=1)
    held = make.conversation(agent.workspace)
    assign_to(make.session, held.id, agent.id)
    extra = make.conversation(agent.workspace)
    refused = post_json(
        signed_in(app, agent), f"/console/conversations/{extra.id}/take"
    )
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "at_capacity"
    assert _fresh(make, extra.id).assignee_id is None


def test_assign_to_another_agent_and_transfer_to_team(app, make):
    """Assigning names the agent; a transfer moves it to the team's queue."""
    agent = make.agent()
    colleague = make.agent(agent.workspace)
    billing = make.team(agent.workspace, name="Billing")
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)

    path = f"/console/conversations/{conversation.id}"
    assert (
        post_json(client, f"{path}/assign", {"agent_id": colleague.id}).status_code
        == 200
    )
    assert _fresh(make, conversation.id).assignee_id == colleague.id

    moved = post_json(client, f"{path}/transfer", {"team_id": billing.id})
    assert moved.status_code == 200
    found = _fresh(make, conversation.id)
    assert (found.team_id, found.assignee_id) == (billing.id, None)
    tenant = Tenant(make.session, agent.workspace_id)
    assert conversation.id not in {
        r.id for r in console.inbox_page(tenant, agent.id, "teams").rows
    }
    make.session.add(
        __import__("app.models", fromlist=["TeamMembership"]).TeamMembership(
            team_id=billing.id, user_id=agent.id
        )
    )
    make.session.commit()
    assert conversation.id in {
        r.id for r in console.inbox_page(tenant, agent.id, "teams").rows
    }


def test_bad_assign_and_transfer_input_is_a_clear_4xx(app, make):
    """Missing or unknown agents and teams are refused and change nothing."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)
    path = f"/console/conversations/{conversation.id}"
    assert post_json(client, f"{path}/assign", {"agent_id": "x"}).status_code == 400
    assert post_json(client, f"{path}/assign", {"agent_id": 999999}).status_code == 404
    assert post_json(client, f"{path}/transfer", {}).status_code == 400
    assert post_json(client, f"{path}/transfer", {"team_id": 999999}).status_code == 404
    found = _fresh(make, conversation.id)
    assert (found.assignee_id, found.team_id) == (None, None)


def test_close_then_reopen(app, make):
    """Closing and reopening move the conversation between views."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)
    path = f"/console/conversations/{conversation.id}"

    assert post_json(client, f"{path}/close").status_code == 200
    assert _fresh(make, conversation.id).status == ConversationStatus.CLOSED
    again = post_json(client, f"{path}/close")
    assert again.status_code == 409 and again.json["error"]["code"] == "already_closed"
    page = client.get(path).get_data(as_text=True)
    assert "data-reopen" in page and "data-close" not in page

    assert post_json(client, f"{path}/reopen").status_code == 200
    found = _fresh(make, conversation.id)
    assert (found.status, found.closed_at) == (ConversationStatus.OPEN, None)
    assert post_json(client, f"{path}/reopen").status_code == 409
    bodies = make.session.scalars(
        select(Message.body).where(Message.conversation_id == conversation.id)
    ).all()
    assert any("reopened the conversation" in body for body in bodies)


def test_close_by_plain_form_redirects_with_a_message(agent_client, make):
    """Without JavaScript a form post redirects back and says what happened."""
    conversation = make.conversation(agent_client.user.workspace)
    path = f"/console/conversations/{conversation.id}"
    response = agent_client.post(f"{path}/close")
    assert response.status_code == 302 and response.headers["Location"] == path
    assert "Conversation closed." in agent_client.get(path).get_data(as_text=True)


def test_snooze_until_a_time_then_wake(app, make):
    """A snooze hides the conversation until its time, then it reopens."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)
    later = datetime.now(UTC) + timedelta(hours=2)
    # Local time two hours ahead of UTC: getTimezoneOffset() is -120.
    local = (later + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = post_json(
        client,
        f"/console/conversations/{conversation.id}/snooze",
        {"until": local, "tz_offset": "-120"},
    )
    assert response.status_code == 200, response.json
    assert _fresh(make, conversation.id).status == ConversationStatus.SNOOZED
    stored = make.session.get(Snooze, conversation.id).until
    assert abs((stored - later).total_seconds()) < 60

    assert console.wake_due(make.session, now=utcnow()) == []
    woken = console.wake_due(make.session, now=later + timedelta(minutes=1))
    assert woken == [conversation.id]
    assert _fresh(make, conversation.id).status == ConversationStatus.OPEN
    assert make.session.get(Snooze, conversation.id) is None
    assert console.wake_due(make.session, now=later + timedelta(minutes=2)) == []


def test_visitor_message_ends_a_snooze(app, make):
    """A new visitor message reopens a snoozed conversation at once."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    tenant = Tenant(make.session, agent.workspace_id)
    console.snooze(tenant, conversation.id, utcnow() + timedelta(days=1), by=agent)
    visitor_send(
        make.session,
        tenant,
        conversation.visitor_id,
        conversation.id,
        body="Still there?",
        client_msg_id="c1",
    )
    assert _fresh(make, conversation.id).status == ConversationStatus.OPEN
    # The stale snooze row does not reopen anything later.
    assert console.wake_due(make.session, now=utcnow() + timedelta(days=2)) == []


@pytest.mark.parametrize("comes_back_by", ["reopen", "snooze_ends", "visitor_writes"])
def test_a_conversation_that_comes_back_keeps_its_agent_within_capacity(
    app, make, comes_back_by
):
    """If its agent filled up meanwhile, it goes to a colleague with room."""
    agent = make.agent(name="Full Agent")
    colleague = make.agent(agent.workspace)
    team = make.team(agent.workspace, members=[agent, colleague])
    for user in (agent, colleague):
        set_capacity(make.session, user.id, 1)
        set_availability(make.session, user.id, Availability.ONLINE)
    tenant = Tenant(make.session, agent.workspace_id)
    earlier = make.conversation(agent.workspace, team_id=team.id)
    assign_to(make.session, earlier.id, agent.id)
    later = utcnow() + timedelta(hours=1)
    if comes_back_by == "reopen":
        close_conversation(tenant, earlier.id, by=agent)
    else:
        console.snooze(tenant, earlier.id, later, by=agent)
    # The room it left is taken by another conversation.
    current = make.conversation(agent.workspace, team_id=team.id)
    assign_to(make.session, current.id, agent.id)

    if comes_back_by == "reopen":
        client = signed_in(app, agent)
        path = f"/console/conversations/{earlier.id}/reopen"
        assert post_json(client, path).status_code == 200
    elif comes_back_by == "snooze_ends":
        assert console.wake_due(make.session, now=later) == [earlier.id]
    else:
        visitor_send(
            make.session,
            tenant,
            earlier.visitor_id,
            earlier.id,
            body="Any news?",
            client_msg_id="back-1",
        )

    found = _fresh(make, earlier.id)
    assert found.status == ConversationStatus.OPEN
    assert (found.assignee_id, found.queued_at) == (colleague.id, None)
    assert agent_load(make.session, agent.id) == 1
    assert _fresh(make, current.id).assignee_id == agent.id
    bodies = make.session.scalars(
        select(Message.body).where(Message.conversation_id == earlier.id)
    ).all()
    assert any("Full Agent has no room for it now" in body for body in bodies)


def test_bad_snooze_times_are_refused(app, make):
    """A missing, past or far-off snooze time is a 400 and changes nothing."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)
    path = f"/console/conversations/{conversation.id}/snooze"
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    far = (datetime.now(UTC) + timedelta(days=200)).strftime("%Y-%m-%dT%H:%M")
    for data in ({}, {"until": "tomorrow"}, {"until": past}, {"until": far}):
        response = post_json(client, path, data)
        assert response.status_code == 400, data
        assert response.json["error"]["message"]
    assert _fresh(make, conversation.id).status == ConversationStatus.OPEN
    assert make.session.scalar(select(func.count()).select_from(Snooze)) == 0


def test_tags_add_and_remove(app, make):
    """Tags are added once, shown, and removed; bad names are refused."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    client = signed_in(app, agent)
    path = f"/console/conversations/{conversation.id}/tags"
    first = post_json(client, path, {"name": "  VIP  customer "})
    assert first.status_code == 200
    assert post_json(client, path, {"name": "vip customer"}).status_code == 200
    tenant = Tenant(make.session, agent.workspace_id)
    assert [tag.name for tag in console.tags_of(tenant, conversation.id)] == [
        "vip customer"
    ]
    assert post_json(client, path, {"name": ""}).status_code == 400
    assert post_json(client, path, {"name": "x" * 41}).status_code == 400

    tag_id = first.json["tag"]["id"]
    assert post_json(client, f"{path}/{tag_id}/remove").status_code == 200
    assert console.tags_of(tenant, conversation.id) == []


def test_canned_replies_are_managed_per_workspace(app, make):
    """Agents add and delete canned replies; shortcuts are unique and checked."""
    agent = make.agent()
    stranger = make.agent(make.workspace())
    client = signed_in(app, agent)
    added = post_json(
        client, "/console/canned", {"shortcut": "/Refund", "body": "We refund."}
    )
    assert added.status_code == 200
    duplicate = post_json(
        client, "/console/canned", {"shortcut": "refund", "body": "x"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json["error"]["code"] == "shortcut_taken"
    for data in (
        {"shortcut": "no spaces", "body": "x"},
        {"shortcut": "ok", "body": " "},
    ):
        assert post_json(client, "/console/canned", data).status_code == 400

    replies = client.get("/console/canned.json").json["replies"]
    assert replies == [{"shortcut": "refund", "body": "We refund."}]
    assert signed_in(app, stranger).get("/console/canned.json").json["replies"] == []

    reply_id = console.canned_replies(Tenant(make.session, agent.workspace_id))[0].id
    assert (
        post_json(
            signed_in(app, stranger), f"/console/canned/{reply_id}/delete"
        ).status_code
        == 404
    )
    assert post_json(client, f"/console/canned/{reply_id}/delete").status_code == 200
    assert client.get("/console/canned.json").json["replies"] == []


def test_search_by_text_name_and_email(app, make):
    """Search finds conversations by a message's words, a name or an email."""
    agent = make.agent()
    workspace = agent.workspace
    wanted = make.conversation(
        workspace, make.visitor(workspace, name="Zoe Quill", email="zoe@quill.test")
    )
    make.message(wanted, "My parcel never arrived at the depot")
    other = make.conversation(workspace, make.visitor(workspace, name="Bob"))
    make.message(other, "Password reset please")
    client = signed_in(app, agent)

    for query in ("parcel", "Quill", "zoe@quill.test"):
        page = client.get(f"/console/search?q={query}").get_data(as_text=True)
        assert "Zoe Quill" in page, query
        assert "Bob" not in page, query
    nothing = client.get("/console/search?q=zebra").get_data(as_text=True)
    assert "0 conversations match" in nothing


def test_transcript_shows_latest_and_pages_back(app, make):
    """The page shows the latest 50 messages; older ones come by seq."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    for number in range(1, 71):
        make.message(conversation, f"Message {number}")
    client = signed_in(app, agent)
    page = client.get(f"/console/conversations/{conversation.id}").get_data(
        as_text=True
    )
    assert "Message 70" in page and "Message 21<" in page and "Message 20<" not in page
    assert 'data-older="true"' in page

    older = client.get(
        f"/console/conversations/{conversation.id}/messages?before=21", headers=JSON
    ).json
    assert [m["body"] for m in older["messages"]] == [
        f"Message {n}" for n in range(1, 21)
    ]
    assert older["more"] is False
    bad = client.get(
        f"/console/conversations/{conversation.id}/messages?before=x", headers=JSON
    )
    assert bad.status_code == 400


def test_notes_look_different_and_sidebar_shows_the_visitor(app, make):
    """Notes are marked as notes; the sidebar shows who the visitor is."""
    agent = make.agent()
    workspace = agent.workspace
    visitor = make.visitor(
        workspace,
        name="Vera",
        email="vera@example.com",
        external_id="user-42",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/121.0",
        last_page={"url": "https://shop.test/cart", "title": "Your cart"},
        attributes={"timezone": "Europe/Berlin"},
    )
    earlier = make.conversation(workspace, visitor, status=ConversationStatus.CLOSED)
    conversation = make.conversation(
        workspace, visitor, context={"url": "https://shop.test/help", "title": "Help"}
    )
    make.message(conversation, "Internal remark", AuthorKind.NOTE, agent.id)
    page = signed_in(app, agent).get(f"/console/conversations/{conversation.id}")
    html = page.get_data(as_text=True)
    assert 'class="msg msg-note"' in html and "Note · " in html
    for text in (
        "vera@example.com",
        "user-42",
        "Your cart",
        "Firefox 121 on Windows",
        "(Europe/Berlin)",
        "https://shop.test/help",
        f"/console/conversations/{earlier.id}",
    ):
        assert text in html, text
