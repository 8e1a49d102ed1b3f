"""Presence across two real web processes sharing one Redis."""

from __future__ import annotations

import time

import pytest

from app.extensions import db
from app.models import Visitor
from tests.support.factories import PASSWORD
from tests.support.live import ChatClient, sign_in, visitor_token
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = pytest.mark.postgresql_only

ORIGIN = "https://shop.example"
GRACE = 3


def _web(database_url: str, redis_url: str, name: str) -> WebProcess:
    port = free_port()
    env = base_env(
        PARLEY_ENV="production",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="presence-test-secret-key-long-enough",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        PRESENCE_GRACE_SECONDS=str(GRACE),
        SESSION_COOKIE_SECURE="false",
    )
    return WebProcess("parley serve", env, port, name=name)


@pytest.fixture
def two_webs(database_url, redis_url):
    a = _web(database_url, redis_url, "web-a").start()
    b = _web(database_url, redis_url, "web-b").start()
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
            print(f"--- {process.name}\n{process.output()[-3000:]}")


def _statuses(agent: ChatClient, visitor_id: int) -> list[str]:
    """The visitor's statuses in the order the agent heard them."""
    return [
        status
        for e in agent.received("presence:visitors")
        for status in ("online", "offline")
        if visitor_id in e[status]
    ]


def test_visitor_presence_is_true_across_processes(two_webs, make):
    """A visitor on A shows online to an agent on B; a reload is no blip; leaving is
    announced once, after the grace period."""
    a, b, clients = two_webs
    workspace = make.workspace(allowed_origins=[ORIGIN])
    agent_user = make.agent(workspace)
    http = sign_in(b.url, agent_user.email, PASSWORD)
    agent = ChatClient("/agent").connect(
        b.url,
        headers={"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)},
    )
    clients.append(agent)

    token = visitor_token(a.url, workspace.widget_key, ORIGIN)
    visitor_id = (
        db.session.query(Visitor.id).filter_by(workspace_id=workspace.id).scalar()
    )

    def connect_visitor() -> ChatClient:
        client = ChatClient("/widget", origin=ORIGIN)
        client.connect(a.url, auth={"key": workspace.widget_key, "token": token})
        clients.append(client)
        return client

    first = connect_visitor()
    wait_until(lambda: _statuses(agent, visitor_id) == ["online"], what="online")

    first.close()  # a reload: gone and back within the grace period
    connect_visitor()
    time.sleep(GRACE * 2)  # long enough for a wrong offline to show up
    assert _statuses(agent, visitor_id) == ["online"]

    for client in clients[1:]:
        client.close()
    wait_until(
        lambda: _statuses(agent, visitor_id) == ["online", "offline"],
        timeout=GRACE * 4,
        what="offline after the grace period",
    )


def test_agent_status_and_crash(two_webs, make):
    """Away reaches colleagues; an agent whose process is killed goes offline."""
    a, b, clients = two_webs
    workspace = make.workspace()
    watcher_user, worker_user = make.agent(workspace), make.agent(workspace)

    def agent_on(process, user) -> ChatClient:
        http = sign_in(process.url, user.email, PASSWORD)
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        client = ChatClient("/agent").connect(process.url, headers={"Cookie": cookie})
        clients.append(client)
        return client

    watcher = agent_on(b, watcher_user)
    worker = agent_on(a, worker_user)

    def statuses() -> list[str]:
        return [
            e["status"]
            for e in watcher.received("presence")
            if e["kind"] == "agent" and e["id"] == worker_user.id
        ]

    wait_until(lambda: statuses() == ["online"], what="agent online")
    assert worker.call("presence:set", {"status": "away"}) == {
        "ok": True,
        "status": "away",
    }
    wait_until(lambda: statuses() == ["online", "away"], what="agent away")
    assert (
        worker.call("presence:set", {"status": "asleep"})["error"]["code"] == "invalid"
    )

    a.kill()  # the worker's process dies without a word
    wait_until(
        lambda: statuses() == ["online", "away", "offline"],
        timeout=GRACE * 4,
        what="offline after the process died",
    )
