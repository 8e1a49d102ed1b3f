"""The /widget and /agent handlers, through in-process Socket.IO clients."""

from contextlib import ExitStack

import pytest

from app.extensions import db, sends, socketio
from app.models import AuthorKind, Conversation, Message
from tests.support.console import post_json
from tests.support.sockets import (
    ORIGIN,
    call,
    new_id,
    open_agent,
    open_widget,
    received,
)
from tests.support.statements import sent_with_mode, statements

W, A = "/widget", "/agent"


@pytest.fixture
def workspace(agent_client):
    return agent_client.user.workspace


@pytest.fixture
def visitor(app, client, workspace):
    return open_widget(app, client, workspace)


@pytest.fixture
def agent(app, agent_client):
    sock = open_agent(app, agent_client)
    assert sock.is_connected(A)
    return sock


def _start(visitor, body="Hello"):
    ack = call(
        visitor,
        W,
        "message:send",
        {"conversation_id": None, "client_msg_id": new_id(), "body": body},
    )
    assert ack["ok"], ack
    return ack["conversation"]["id"]


def test_first_send_starts_a_conversation(visitor, agent):
    """A send without a conversation starts one; agents see it with seq 1."""
    ack = call(
        visitor,
        W,
        "message:send",
        {"conversation_id": None, "client_msg_id": "m1", "body": "Hi <b>there</b>"},
    )
    assert ack["ok"]
    assert ack["message"]["seq"] == 1 and ack["message"]["client_msg_id"] == "m1"
    assert ack["message"]["html"] == "Hi &lt;b&gt;there&lt;/b&gt;"
    conversation_id = ack["conversation"]["id"]
    join = call(
        agent,
        A,
        "conversation:join",
        {"conversation_id": conversation_id, "last_seq": 0},
    )
    assert [m["body"] for m in join["conversation"]["messages"]] == ["Hi <b>there</b>"]
    assert join["conversation"]["messages"][0]["author"]["kind"] == "visitor"


def test_retried_first_send_starts_one_conversation(visitor):
    """Retrying a first message with its client id returns the same conversation."""
    payload = {"conversation_id": None, "client_msg_id": "first", "body": "Hello"}
    first = call(visitor, W, "message:send", payload)
    again = call(visitor, W, "message:send", payload)
    assert again["conversation"]["id"] == first["conversation"]["id"]
    assert again["message"]["id"] == first["message"]["id"]
    assert db.session.query(Conversation).count() == 1
    assert db.session.query(Message).count() == 1


def test_live_delivery_both_ways(visitor, agent):
    """Visitor and agent messages reach the other side live, with prev_seq."""
    conversation_id = _start(visitor)
    call(
        agent,
        A,
        "conversation:join",
        {"conversation_id": conversation_id, "last_seq": 0},
    )
    agent.get_received(A)
    visitor.get_received(W)

    call(
        visitor,
        W,
        "message:send",
        {
            "conversation_id": conversation_id,
            "client_msg_id": new_id(),
            "body": "Are you there?",
        },
    )
    [live] = received(agent, A, "message")
    assert (live["seq"], live["prev_seq"], live["body"]) == (2, 1, "Are you there?")

    reply = call(
        agent,
        A,
        "message:send",
        {"conversation_id": conversation_id, "client_msg_id": "r1", "body": "Yes!"},
    )
    assert reply["ok"] and reply["message"]["author"]["kind"] == "agent"
    messages = received(visitor, W, "message")
    assert [(m["seq"], m["prev_seq"], m["body"]) for m in messages][-1] == (
        3,
        2,
        "Yes!",
    )
    assert "client_msg_id" not in messages[-1]  # the agent's own id stays with agents


def test_notes_never_reach_the_visitor(visitor, agent):
    """An internal note goes to agents only: not live, not in catch-up."""
    conversation_id = _start(visitor)
    call(
        agent,
        A,
        "conversation:join",
        {"conversation_id": conversation_id, "last_seq": 0},
    )
    visitor.get_received(W)
    note = call(
        agent,
        A,
        "message:send",
        {
            "conversation_id": conversation_id,
            "client_msg_id": "n1",
            "body": "VIP customer",
            "note": True,
        },
    )
    assert note["ok"] and note["message"]["author"]["kind"] == "note"
    reply = call(
        agent,
        A,
        "message:send",
        {"conversation_id": conversation_id, "client_msg_id": "r1", "body": "Hello!"},
    )

    live = received(visitor, W, "message")
    assert [m["body"] for m in live] == ["Hello!"]
    assert live[0]["prev_seq"] == 1  # the note's seq 2 is skipped for visitors
    sync = call(visitor, W, "sync", {"conversations": {str(conversation_id): 0}})
    assert [m["body"] for m in sync["conversations"][0]["messages"]] == [
        "Hello",
        "Hello!",
    ]
    assert reply["message"]["seq"] == 3


def test_sync_replays_in_order_after_a_seq(visitor, agent):
    """Sync returns exactly the messages after the given seq, in order."""
    conversation_id = _start(visitor, "one")
    for body in ("two", "three", "four"):
        call(
            visitor,
            W,
            "message:send",
            {
                "conversation_id": conversation_id,
                "client_msg_id": new_id(),
                "body": body,
            },
        )
    answer = call(visitor, W, "sync", {"conversations": {str(conversation_id): 2}})
    [conversation] = answer["conversations"]
    assert [(m["seq"], m["body"]) for m in conversation["messages"]] == [
        (3, "three"),
        (4, "four"),
    ]
    assert conversation["more"] is False
    everything = call(visitor, W, "sync", {"conversations": {}})
    assert [len(c["messages"]) for c in everything["conversations"]] == [4]


def test_sync_pages_long_histories(visitor):
    """A long gap comes back in pages of 200 with more: true."""
    conversation_id = _start(visitor)
    conversation = db.session.get(Conversation, conversation_id)
    from app.domain.conversations import append_message

    for n in range(250):
        append_message(
            db.session,
            conversation.id,
            author_kind=AuthorKind.SYSTEM,
            author_id=None,
            body=f"n{n}",
        )
    db.session.commit()
    first = call(visitor, W, "sync", {"conversations": {str(conversation_id): 0}})[
        "conversations"
    ][0]
    assert len(first["messages"]) == 200 and first["more"] is True
    rest = call(visitor, W, "sync", {"conversations": {str(conversation_id): 200}})[
        "conversations"
    ][0]
    assert rest["messages"][0]["seq"] == 201 and rest["more"] is False


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {"conversation_id": None, "client_msg_id": "x", "body": "a" * 5001},
            "body_too_long",
        ),
        ({"conversation_id": None, "client_msg_id": "x", "body": ""}, "empty_body"),
        (
            {"conversation_id": None, "client_msg_id": "x", "body": ["list"]},
            "invalid_body",
        ),
        (
            {"conversation_id": None, "client_msg_id": "x" * 65, "body": "hi"},
            "invalid_client_id",
        ),
        ({"conversation_id": "seven", "client_msg_id": "x", "body": "hi"}, "invalid"),
        (
            {"conversation_id": None, "client_msg_id": "x", "body": "b" * 70000},
            "payload_too_large",
        ),
    ],
)
def test_bad_sends_get_coded_errors_and_connection_survives(visitor, payload, code):
    """Bad sends get an error code, store nothing, and the socket still sends."""
    ack = call(visitor, W, "message:send", payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert db.session.query(Message).count() == 0
    assert visitor.is_connected(W)
    assert call(
        visitor,
        W,
        "message:send",
        {"conversation_id": None, "client_msg_id": new_id(), "body": "ok now"},
    )["ok"]


def test_unknown_and_malformed_events(visitor):
    """Unknown events and non-object payloads get error acks."""
    assert call(visitor, W, "launch:missiles", {})["error"]["code"] == "unknown_event"
    assert call(visitor, W, "message:send", "just text")["error"]["code"] == "invalid"
    assert (
        call(visitor, W, "sync", {"conversations": {"x": 1}})["error"]["code"]
        == "invalid"
    )
    assert visitor.is_connected(W)


def test_other_visitors_conversation_is_not_found(app, client, workspace, visitor):
    """A visitor cannot write into or sync someone else's conversation."""
    conversation_id = _start(visitor)
    stranger = open_widget(app, client, workspace)
    ack = call(
        stranger,
        W,
        "message:send",
        {"conversation_id": conversation_id, "client_msg_id": new_id(), "body": "hi"},
    )
    assert ack["error"]["code"] == "not_found"
    assert (
        call(stranger, W, "sync", {"conversations": {str(conversation_id): 0}})[
            "conversations"
        ]
        == []
    )


def test_visitor_flood_is_rate_limited(visitor):
    """The 11th message within 10 seconds gets rate_limited with retry_after."""
    conversation_id = _start(visitor)
    acks = [
        call(
            visitor,
            W,
            "message:send",
            {
                "conversation_id": conversation_id,
                "client_msg_id": new_id(),
                "body": f"m{n}",
            },
        )
        for n in range(10)
    ]
    assert [a["ok"] for a in acks] == [True] * 9 + [False]
    assert acks[-1]["error"]["code"] == "rate_limited"
    assert 1 <= acks[-1]["error"]["details"]["retry_after"] <= 10
    assert db.session.get(Conversation, conversation_id).last_seq == 10


def test_a_full_process_refuses_sends_and_the_retry_goes_through(visitor, agent):
    """Past SENDS_IN_FLIGHT, a send is refused at once; its retry stores it once."""
    conversation_id = _start(visitor)
    call(agent, A, "conversation:join", {"conversation_id": conversation_id})
    limit = sends.limit
    assert limit > 0
    visitor_send = {
        "conversation_id": conversation_id,
        "client_msg_id": "busy-1",
        "body": "Are you there?",
    }
    agent_send = {**visitor_send, "client_msg_id": "busy-2", "body": "Yes"}

    # Fill the process as that many sends still storing would.
    with ExitStack() as full:
        for _ in range(limit):
            full.enter_context(sends.admit("busy"))
        refused = [
            call(visitor, W, "message:send", visitor_send),
            call(agent, A, "message:send", agent_send),
        ]

    for ack in refused:
        assert ack["error"]["code"] == "rate_limited"
        assert ack["error"]["details"]["retry_after"] == 1
    assert db.session.get(Conversation, conversation_id).last_seq == 1
    assert sends.running == 0
    for sock, ns, payload in ((visitor, W, visitor_send), (agent, A, agent_send)):
        assert call(sock, ns, "message:send", payload)["ok"]
        assert call(sock, ns, "message:send", payload)["ok"]
    db.session.expire_all()
    assert db.session.get(Conversation, conversation_id).last_seq == 3


def test_typing_is_forwarded_and_throttled(visitor, agent):
    """Typing with the draft reaches agents at most once per 2 s, plus the stop."""
    conversation_id = _start(visitor)
    call(
        agent,
        A,
        "conversation:join",
        {"conversation_id": conversation_id, "last_seq": 0},
    )
    agent.get_received(A)
    for draft in ("H", "He", "Hel"):
        visitor.emit(
            "typing",
            {"conversation_id": conversation_id, "typing": True, "draft": draft},
            namespace=W,
        )
    visitor.emit(
        "typing", {"conversation_id": conversation_id, "typing": False}, namespace=W
    )
    events = received(agent, A, "typing")
    assert [(e["typing"], e.get("draft")) for e in events] == [
        (True, "H"),
        (False, None),
    ]


def test_read_receipts_both_ways(visitor, agent):
    """Read marks move forward only and reach the other side."""
    conversation_id = _start(visitor)
    call(
        agent,
        A,
        "conversation:join",
        {"conversation_id": conversation_id, "last_seq": 0},
    )
    call(
        agent,
        A,
        "message:send",
        {"conversation_id": conversation_id, "client_msg_id": "r", "body": "Hi"},
    )
    visitor.get_received(W)
    agent.get_received(A)

    assert call(visitor, W, "read", {"conversation_id": conversation_id, "seq": 2}) == {
        "ok": True,
        "seq": 2,
    }
    assert received(agent, A, "read") == [
        {"conversation_id": conversation_id, "seq": 2, "by": "visitor"}
    ]
    assert (
        call(visitor, W, "read", {"conversation_id": conversation_id, "seq": 1})["seq"]
        == 2
    )
    assert (
        call(agent, A, "read", {"conversation_id": conversation_id, "seq": 99})["seq"]
        == 2
    )
    assert received(visitor, W, "read") == [
        {"conversation_id": conversation_id, "seq": 2, "by": "agent"}
    ]


def test_agent_without_session_is_refused(app, client):
    """No signed-in session, no /agent connection."""
    sock = open_agent(app, client)
    assert not sock.is_connected(A)


def test_agent_cannot_reach_another_workspace(app, make, agent, client):
    """Joining, syncing or writing another workspace's conversation: not_found."""
    foreign = make.conversation(make.workspace())
    make.message(foreign, "private")
    assert (
        call(
            agent,
            A,
            "conversation:join",
            {"conversation_id": foreign.id, "last_seq": 0},
        )["error"]["code"]
        == "not_found"
    )
    assert (
        call(agent, A, "sync", {"conversations": {str(foreign.id): 0}})["conversations"]
        == []
    )
    ack = call(
        agent,
        A,
        "message:send",
        {"conversation_id": foreign.id, "client_msg_id": "x", "body": "hi"},
    )
    assert ack["error"]["code"] == "not_found"
    assert db.session.get(Conversation, foreign.id).last_seq == 1


def test_foreign_origin_and_mismatched_token_are_refused(app, client, make):
    """Widget connections from a foreign origin or with a foreign token are refused."""
    from app.extensions import socketio

    shop = make.workspace(allowed_origins=["https://shop.example"])
    other = make.workspace()
    ok = open_widget(app, client, shop)
    assert ok.is_connected(W)
    evil = socketio.test_client(
        app,
        namespace=W,
        auth={"key": shop.widget_key, "token": ok.token},
        headers={"Origin": "https://evil.example"},
    )
    assert not evil.is_connected(W)
    other_token = open_widget(app, client, other).token
    mismatch = socketio.test_client(
        app,
        namespace=W,
        auth={"key": shop.widget_key, "token": other_token},
        headers={"Origin": "https://shop.example"},
    )
    assert not mismatch.is_connected(W)


def test_inbox_hears_new_conversations(visitor, agent):
    """Agents of the workspace get a conversation event when one starts."""
    agent.get_received(A)
    conversation_id = _start(visitor, "Need help")
    updates = received(agent, A, "conversation")
    assert any(
        u["id"] == conversation_id and u.get("status") == "open" for u in updates
    )
    assert any(u.get("last_message", {}).get("body") == "Need help" for u in updates)


def test_an_agent_signed_out_everywhere_is_refused_once_rechecked(
    agent, agent_client, visitor, monkeypatch
):
    """A socket keeps its identity for a few seconds, then checks it again."""
    from app.realtime import agent as agent_handlers

    conversation_id = _start(visitor)
    send = {"conversation_id": conversation_id, "body": "Hello", "note": False}
    assert call(agent, A, "message:send", {**send, "client_msg_id": new_id()})["ok"]

    response = post_json(agent_client, "/logout/everywhere")
    assert response.status_code in (200, 302)
    monkeypatch.setattr(agent_handlers, "IDENTITY_RECHECK_SECONDS", 0.0)
    ack = call(agent, A, "message:send", {**send, "client_msg_id": new_id()})
    assert ack["ok"] is False and ack["error"]["code"] == "unauthorized"
    stored = db.session.query(Message).filter_by(conversation_id=conversation_id)
    assert stored.count() == 2  # the visitor's and the first reply only


def test_agent_sync_loads_summaries_without_a_query_each(app, make, agent, workspace):
    """Each followed conversation costs its messages' query, not its names'.

    Every conversation here has its own assignee and team, which a lazy
    load per summary would fetch one by one.
    """
    ids = []
    for number in range(12):
        team = make.team(workspace, name=f"Team {number}")
        assignee = make.agent(workspace, name=f"Agent {number}")
        ids.append(
            make.conversation(workspace, team_id=team.id, assignee_id=assignee.id).id
        )

    def sync(how_many):
        asked = {str(key): 0 for key in reversed(ids[:how_many])}
        answer = {}
        sent = statements(
            app, lambda: answer.update(call(agent, A, "sync", {"conversations": asked}))
        )
        return len(sent), answer

    two, _ = sync(2)
    twelve, answer = sync(12)
    assert twelve - two <= 10, (two, twelve)
    assert [c["id"] for c in answer["conversations"]] == list(reversed(ids))
    assert [c["assignee"]["name"] for c in answer["conversations"]] == [
        f"Agent {n}" for n in reversed(range(12))
    ]
    assert [c["team"]["name"] for c in answer["conversations"]] == [
        f"Team {n}" for n in reversed(range(12))
    ]


@pytest.mark.postgresql_only
def test_connects_syncs_and_sends_run_without_begin_on_postgresql(
    app, client, workspace, agent
):
    """Each statement of a connect, a sync, a join and a send is a transaction
    of its own on PostgreSQL: no BEGIN, COMMIT or ROLLBACK round trips."""
    key = workspace.widget_key
    token = client.post(
        "/api/widget/session", json={"key": key}, headers={"Origin": ORIGIN}
    ).json["token"]
    db.session.rollback()
    socks = []

    def connect():
        socks.append(
            socketio.test_client(
                app,
                namespace=W,
                auth={"key": key, "token": token},
                headers={"Origin": ORIGIN},
            )
        )

    steps = {"visitor connect": sent_with_mode(app, connect)}
    [visitor] = socks
    assert visitor.is_connected(W)
    conversation_id = _start(visitor)
    db.session.rollback()
    follow = {"conversations": {str(conversation_id): 0}}
    send = {"conversation_id": conversation_id, "client_msg_id": new_id(), "body": "Hi"}
    steps["visitor sync"] = sent_with_mode(
        app, lambda: call(visitor, W, "sync", follow)
    )
    steps["visitor send"] = sent_with_mode(
        app, lambda: call(visitor, W, "message:send", send)
    )
    steps["agent sync"] = sent_with_mode(app, lambda: call(agent, A, "sync", follow))
    steps["agent join"] = sent_with_mode(
        app,
        lambda: call(
            agent, A, "conversation:join", {"conversation_id": conversation_id}
        ),
    )
    for step, sent in steps.items():
        assert sent, step
        assert all(statement.alone for statement in sent), (step, sent)


def test_joining_says_whether_the_visitor_is_online(
    app, client, make, workspace, agent
):
    """The join answer carries the visitor's presence as it is at that moment."""
    here = _start(open_widget(app, client, workspace))
    away = make.conversation(workspace).id  # its visitor never connected

    def online(conversation_id):
        ack = call(agent, A, "conversation:join", {"conversation_id": conversation_id})
        assert ack["ok"], ack
        return ack["conversation"]["visitor"]["online"]

    assert online(here) is True
    assert online(away) is False
