"""A slow PostgreSQL query in one request does not stall other clients.

The web process runs on green threads (eventlet or gevent). psycopg2 would
block the whole process during a query unless psycogreen makes it yield, so
this test holds a query for a second and talks to the process meanwhile.
"""

from __future__ import annotations

import sys
import threading
import time

import psycopg2
import pytest
import requests
import socketio
from sqlalchemy.engine import make_url

from tests.support.cooperative_server import ECHO_NAMESPACE, SLOW_PATH
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = pytest.mark.postgresql_only

ROUND_TRIPS = 5


@pytest.fixture(params=["eventlet", "gevent"])
def server(request, database_url, redis_url, tmp_path):
    """The cooperative test server in one async mode, on PostgreSQL and Redis."""
    env = base_env(
        PARLEY_ENV="production",
        PARLEY_INSTANCE=str(tmp_path / "instance"),
        ASYNC_MODE=request.param,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="cooperative-test-secret-of-more-than-32-chars",
    )
    process = WebProcess(
        f"{sys.executable} -m tests.support.cooperative_server",
        env,
        free_port(),
        f"web-{request.param}",
    )
    try:
        yield process.start().wait_ready()
    finally:
        process.kill()


def _sleeping_queries(database_url: str) -> int:
    """Count the sessions running pg_sleep in the test database right now."""
    url = make_url(database_url)
    connection = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND state = 'active' "
                "AND query LIKE 'SELECT pg_sleep%%'"
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()


def test_slow_query_leaves_sockets_flowing(server, database_url):
    """Echoes and /healthz answer while another request sits in pg_sleep(1)."""
    client = socketio.Client(reconnection=False)
    client.connect(server.url, namespaces=[ECHO_NAMESPACE], transports=["websocket"])
    assert client.transport() == "websocket"

    slow: dict = {}

    def request_slow() -> None:
        started = time.monotonic()
        slow["response"] = requests.get(server.url + SLOW_PATH, timeout=30)
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=request_slow, daemon=True)
    thread.start()
    try:
        wait_until(lambda: _sleeping_queries(database_url), what="pg_sleep to run")
        echoes = [
            client.call("echo", {"n": n}, namespace=ECHO_NAMESPACE, timeout=10)
            for n in range(ROUND_TRIPS)
        ]
        health = requests.get(server.url + "/healthz", timeout=10)
        # Had the process been stalled, the query would be over by now.
        still_sleeping = _sleeping_queries(database_url)
    finally:
        client.disconnect()
        thread.join(30)

    assert echoes == [{"n": n} for n in range(ROUND_TRIPS)]
    assert health.status_code == 200
    assert still_sleeping, "The other traffic was answered only after the query."
    assert slow["response"].status_code == 200
    assert slow["seconds"] >= 1.0
