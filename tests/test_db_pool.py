"""The PostgreSQL pool: idle connections are tested, busy ones are not."""

import pytest
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app import db as db_module
from app.db import make_engine

pytestmark = pytest.mark.postgresql_only


def _backend_pid(connection):
    return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _kill(engine, pid):
    """End a backend from a connection of its own, outside the pool."""
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()


@pytest.fixture
def engine(fresh_postgres):
    engine = make_engine(fresh_postgres.url, pool_size=1)
    yield engine
    engine.dispose()


def test_an_idle_connection_that_died_is_replaced_unseen(engine, monkeypatch):
    """Past the idle time a dead pooled connection is swapped before use."""
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        first = _backend_pid(connection)
    _kill(engine, first)
    with engine.connect() as connection:
        # The ping left no transaction open behind it.
        raw = connection.connection.dbapi_connection
        assert raw.info.transaction_status == TRANSACTION_STATUS_IDLE
        assert _backend_pid(connection) != first


def test_a_connection_used_a_moment_ago_is_handed_out_untested(engine, monkeypatch):
    """Within the idle time there is no ping: a death shows once, then heals."""
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 3600.0)
    with engine.connect() as connection:
        first = _backend_pid(connection)
    _kill(engine, first)
    with pytest.raises(Exception, match="terminat|closed|connection"):
        with engine.connect() as connection:
            _backend_pid(connection)
    with engine.connect() as connection:
        assert _backend_pid(connection) != first


def test_the_pool_keeps_its_connections_through_a_burst(fresh_postgres):
    """pool_size connections outlive a burst; only the extra ones are closed."""
    engine = make_engine(fresh_postgres.url, pool_size=3)
    try:
        held = [engine.connect() for _ in range(6)]  # three kept, three more
        pids = {_backend_pid(connection) for connection in held}
        for connection in held:
            connection.close()
        assert engine.pool.checkedin() == 3
        again = [engine.connect() for _ in range(3)]
        assert {_backend_pid(connection) for connection in again} <= pids
        for connection in again:
            connection.close()
    finally:
        engine.dispose()
