"""An agent of workspace A can reach nothing of workspace B's conversations:
not by URL, not in a list or search, not by form post, not by socket event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.models import Conversation, ConversationStatus, Message
from app.models.console import ConversationTag, Snooze
from tests.support.console import JSON, post_json, signed_in
from tests.support.sockets import call, new_id, open_agent

SECRET = "Workspace B's private words"


@pytest.fixture
def two(app, make):
    """An agent of workspace A, and a conversation with a team in workspace B."""
    agent_a = make.agent(make.workspace("A"))
    workspace_b = make.workspace("B")
    agent_b = make.agent(workspace_b)
    team_b = make.team(workspace_b, name="B team")
    visitor_b = make.visitor(workspace_b, name="Betty B", email="betty@b.test")
    conversation = make.conversation(workspace_b, visitor_b)
    make.message(conversation, SECRET)
    return {
        "client": signed_in(app, agent_a),
        "agent_a": agent_a,
        "agent_b": agent_b,
        "team_b": team_b,
        "conversation": conversation,
    }


def _unchanged(make, conversation_id: int, before: tuple) -> None:
    make.session.expire_all()
    found = make.session.get(Conversation, conversation_id)
    assert (found.status, found.assignee_id, found.team_id) == before
    count = make.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.conversation_id == conversation_id)
    )
    assert count == 1
    assert make.session.get(Snooze, conversation_id) is None
    assert not make.session.scalars(select(ConversationTag)).all()


def test_cannot_open_by_url(two):
    """Opening B's conversation or its older messages by URL is a 404."""
    client, conversation = two["client"], two["conversation"]
    page = client.get(f"/console/conversations/{conversation.id}")
    assert page.status_code == 404
    assert SECRET not in page.get_data(as_text=True)
    older = client.get(
        f"/console/conversations/{conversation.id}/messages", headers=JSON
    )
    assert older.status_code == 404 and older.json["error"]["code"] == "not_found"


def test_cannot_list_it(two):
    """No view of A's inbox lists B's conversation, and no count includes it."""
    client = two["client"]
    for view in ("unassigned", "open", "mine", "teams", "snoozed", "closed"):
        rows = client.get(f"/console/inbox/rows?view={view}").get_data(as_text=True)
        assert "Betty" not in rows and SECRET not in rows
    counts = client.get("/console/inbox/counts").json["counts"]
    assert counts["open"] == 0 and counts["unassigned"] == 0


def test_cannot_search_it(two):
    """Searching B's words, name or email from A finds nothing."""
    client = two["client"]
    for query in ("private", "Betty", "betty@b.test"):
        page = client.get(f"/console/search?q={query}").get_data(as_text=True)
        assert "0 conversations match" in page
        assert "data-conversation=" not in page and "betty@b.test</span>" not in page


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("take", {}),
        ("assign", {"agent_id": "self"}),
        ("assign", {"agent_id": "agent_b"}),
        ("transfer", {"team_id": "team_b"}),
        ("close", {}),
        ("reopen", {}),
        ("snooze", {"until": "tomorrow", "tz_offset": "0"}),
        ("tags", {"name": "stolen"}),
    ],
)
def test_cannot_act_on_it_by_form_post(two, make, action, data):
    """Every action on B's conversation from A is a 404 that changes nothing."""
    conversation = two["conversation"]
    ids = {"self": two["agent_a"].id, "agent_b": two["agent_b"].id}
    ids["team_b"] = two["team_b"].id
    ids["tomorrow"] = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    data = {key: ids.get(value, value) for key, value in data.items()}
    before = (conversation.status, conversation.assignee_id, conversation.team_id)
    response = post_json(
        two["client"], f"/console/conversations/{conversation.id}/{action}", data
    )
    assert response.status_code == 404, (action, response.json)
    assert response.json["error"]["code"] == "not_found"
    _unchanged(make, conversation.id, before)


def test_cannot_give_own_conversation_to_another_workspace(app, make, two):
    """A's own conversation cannot be assigned to B's agent or team."""
    own = make.conversation(two["agent_a"].workspace)
    client = two["client"]
    path = f"/console/conversations/{own.id}"
    assert (
        post_json(client, f"{path}/assign", {"agent_id": two["agent_b"].id}).status_code
        == 404
    )
    assert (
        post_json(client, f"{path}/transfer", {"team_id": two["team_b"].id}).status_code
        == 404
    )
    make.session.expire_all()
    found = make.session.get(Conversation, own.id)
    assert (found.assignee_id, found.team_id, found.status) == (
        None,
        None,
        ConversationStatus.OPEN,
    )


def test_cannot_reach_it_by_socket_event(app, make, two):
    """Joining, syncing, sending to, reading or typing into B's conversation fail."""
    conversation = two["conversation"]
    before = (conversation.status, conversation.assignee_id, conversation.team_id)
    sock = open_agent(app, two["client"])
    assert sock.is_connected("/agent")
    A = "/agent"
    join = call(
        sock,
        A,
        "conversation:join",
        {"conversation_id": conversation.id, "last_seq": 0},
    )
    assert join["ok"] is False and join["error"]["code"] == "not_found"
    send = call(
        sock,
        A,
        "message:send",
        {
            "conversation_id": conversation.id,
            "client_msg_id": new_id(),
            "body": "hi",
            "note": True,
        },
    )
    assert send["ok"] is False and send["error"]["code"] == "not_found"
    read = call(sock, A, "read", {"conversation_id": conversation.id, "seq": 1})
    assert read["ok"] is False and read["error"]["code"] == "not_found"
    sync = call(sock, A, "sync", {"conversations": {str(conversation.id): 0}})
    assert sync == {"ok": True, "conversations": []}
    _unchanged(make, conversation.id, before)
    sock.disconnect(namespace=A)
