"""Two real web processes sharing rooms through a real Redis, on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from app.extensions import db
from app.models import Message
from tests.support.factories import PASSWORD
from tests.support.live import ChatClient, sign_in, visitor_token, wait_for_bodies
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = pytest.mark.postgresql_only

ORIGIN = "https://shop.example"
SECRET = "cluster-test-secret-key-of-enough-length"


def _web(database_url: str, redis_url: str, mode: str, name: str) -> WebProcess:
    port = free_port()
    env = base_env(
        PARLEY_ENV="production",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=SECRET,
        ASYNC_MODE=mode,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        SESSION_COOKIE_SECURE="false",
    )
    return WebProcess("parley serve", env, port, name=name)


@pytest.fixture(params=["eventlet", "gevent"])
def cluster(request, database_url, redis_server, redis_url):
    """Two web processes, A and B, on one database and one Redis."""
    mode = request.param
    a = _web(database_url, redis_url, mode, f"web-a-{mode}").start()
    b = _web(database_url, redis_url, mode, f"web-b-{mode}").start()
    clients: list[ChatClient] = []
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b, clients
    finally:
        for client in clients:
            client.close()
        for process in (a, b):
            process.kill()
            # Shown by pytest when the test fails.
            print(f"--- {process.name}\n{process.output()[-4000:]}")


def _people(make):
    workspace = make.workspace(allowed_origins=[ORIGIN])
    agent = make.agent(workspace)
    return workspace, agent


def _visitor(process, workspace, clients, token=None) -> ChatClient:
    token = token or visitor_token(process.url, workspace.widget_key, ORIGIN)
    client = ChatClient("/widget", origin=ORIGIN)
    try:
        client.connect(process.url, auth={"key": workspace.widget_key, "token": token})
    except Exception as error:
        raise AssertionError(f"refused: {client.refusal}") from error
    client.token = token
    clients.append(client)
    return client


def _agent(process, agent, clients) -> ChatClient:
    http = sign_in(process.url, agent.email, PASSWORD)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    client = ChatClient("/agent").connect(process.url, headers={"Cookie": cookie})
    clients.append(client)
    return client


def test_sigkill_of_the_visitors_process(cluster, make):
    """Kill the visitor's process mid-conversation: after reconnecting to the other
    process the visitor has every agent message exactly once, in order."""
    a, b, clients = cluster
    workspace, agent_user = _people(make)
    visitor = _visitor(a, workspace, clients)
    first = visitor.send(None, "Hello from A")
    assert first["ok"], first
    conversation_id = first["conversation"]["id"]
    visitor.follow(conversation_id)

    agent = _agent(b, agent_user, clients)
    assert agent.call(
        "conversation:join", {"conversation_id": conversation_id, "last_seq": 0}
    )["ok"]

    sent: list[str] = []

    def agent_talks() -> None:
        for n in range(40):
            body = f"agent {n}"
            ack = agent.send(conversation_id, body)
            assert ack["ok"], ack
            sent.append(body)
            time.sleep(0.02)

    talker = threading.Thread(target=agent_talks)
    talker.start()
    wait_until(
        lambda: len(visitor.bodies(conversation_id, "agent")) >= 10,
        what="live delivery on A",
    )
    a.kill()  # SIGKILL: no goodbye to anyone
    talker.join(60)
    assert len(sent) == 40

    visitor.close()
    back = _visitor(b, workspace, clients, token=visitor.token)
    back.held = visitor.held  # the widget keeps what it had
    back.sync()
    wait_for_bodies(back, conversation_id, sent, "agent")
    assert back.bodies(conversation_id, "visitor") == ["Hello from A"]
    seqs = sorted(back.held[conversation_id])
    assert seqs == list(range(1, 42))
    assert (
        db.session.query(Message).filter_by(conversation_id=conversation_id).count()
        == 41
    )


def test_redis_restart_mid_conversation(cluster, make, redis_server):
    """Restart Redis while the agent keeps sending: every message still arrives once."""
    a, b, clients = cluster
    workspace, agent_user = _people(make)
    visitor = _visitor(a, workspace, clients)
    conversation_id = visitor.send(None, "Hi")["conversation"]["id"]
    visitor.follow(conversation_id)
    agent = _agent(b, agent_user, clients)
    agent.call("conversation:join", {"conversation_id": conversation_id, "last_seq": 0})

    sent = []
    for n in range(5):
        sent.append(f"before {n}")
        assert agent.send(conversation_id, sent[-1])["ok"]
    wait_for_bodies(visitor, conversation_id, sent, "agent")

    redis_server.stop()
    for n in range(5):
        sent.append(f"during {n}")
        ack = agent.send(conversation_id, sent[-1])
        assert ack["ok"], ack  # stored in PostgreSQL whatever Redis does
    redis_server.start()
    for n in range(5):
        sent.append(f"after {n}")
        assert agent.send(conversation_id, sent[-1])["ok"]

    wait_for_bodies(visitor, conversation_id, sent, "agent")
    assert sorted(visitor.held[conversation_id]) == list(range(1, 17))


def test_refusals_over_real_sockets(cluster, make):
    """Foreign origins, other workspaces' tokens and sessionless agents are refused
    with their codes; an oversized payload gets an error ack and the socket lives."""
    a, _b, clients = cluster
    shop = make.workspace(allowed_origins=[ORIGIN])
    other = make.workspace()

    token = visitor_token(a.url, shop.widget_key, ORIGIN)
    foreign = ChatClient("/widget", origin="https://evil.example")
    with pytest.raises(socketio.exceptions.ConnectionError):
        foreign.connect(a.url, auth={"key": shop.widget_key, "token": token})
    assert foreign.refusal["code"] == "origin_forbidden"

    other_token = visitor_token(a.url, other.widget_key, "https://anywhere.example")
    mismatch = ChatClient("/widget", origin=ORIGIN)
    with pytest.raises(socketio.exceptions.ConnectionError):
        mismatch.connect(a.url, auth={"key": shop.widget_key, "token": other_token})
    assert mismatch.refusal["code"] == "token_mismatch"

    nobody = ChatClient("/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        nobody.connect(a.url)
    assert nobody.refusal["code"] == "unauthorized"

    visitor = _visitor(a, shop, clients)
    big = visitor.send(None, "x" * 100_000)
    assert big["ok"] is False and big["error"]["code"] == "payload_too_large"
    assert visitor.send(None, "still here")["ok"]
    assert requests.get(f"{a.url}/healthz", timeout=5).status_code == 200
