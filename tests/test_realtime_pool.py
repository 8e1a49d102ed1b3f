"""Many agents at once on a small database pool: nobody waits on the pool itself.

Coming online opens a database session of its own. A connect handler that
still held its request's connection then needed two at once, so a burst of
agents as large as the pool took every connection and waited for a second
one until the pool gave up.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.factories import PASSWORD
from tests.support.live import ChatClient, sign_in
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port

pytestmark = pytest.mark.postgresql_only

AGENTS = 12


@pytest.fixture
def web(database_url, redis_url):
    port = free_port()
    env = base_env(
        PARLEY_ENV="production",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="pool-test-secret-key-of-enough-length",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        SESSION_COOKIE_SECURE="false",
        # One pooled connection and one more in bursts.
        DB_POOL_SIZE="1",
    )
    web = WebProcess("parley serve", env, port, name="web-small-pool")
    with web.serving() as process:
        yield process


def test_a_burst_of_agents_larger_than_the_pool_all_connect(web, make):
    """Twelve agents connect at the same moment through two connections."""
    workspace = make.workspace()
    agents = [make.agent(workspace) for _ in range(AGENTS)]
    cookies = []
    for agent in agents:
        http = sign_in(web.url, agent.email, PASSWORD)
        cookies.append("; ".join(f"{c.name}={c.value}" for c in http.cookies))

    start = threading.Barrier(AGENTS)
    answers: list[object] = [None] * AGENTS
    clients: list[ChatClient] = []

    def connect(n: int) -> None:
        client = ChatClient("/agent")
        clients.append(client)
        start.wait()
        try:
            client.connect(web.url, headers={"Cookie": cookies[n]})
            answers[n] = client.call("sync", {"conversations": {}})
        except Exception as error:  # reported below, per agent
            answers[n] = error

    threads = [threading.Thread(target=connect, args=(n,)) for n in range(AGENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for client in clients:
            client.close()
    assert answers == [{"ok": True, "conversations": []}] * AGENTS
