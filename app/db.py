"""The database: one engine and one session factory per application.

Plain SQLAlchemy 2.0. A request, socket event or job gets a session from
``db.session`` (scoped to the green thread or thread) and the app's teardown
removes it. The domain layer never reaches for this module's globals: it is
handed a session.
"""

from __future__ import annotations

import os
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import DateTime, MetaData, create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that migrations can refer to them on every
# backend (SQLite needs them for batch operations).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite keeps no time zone, so values read back from it are naive; this
    type makes both backends hand out the same kind of value.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Any
    ) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("Naive datetime given; use datetime.now(UTC).")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(
        self, value: datetime | None, dialect: Any
    ) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


#: Execution options of a connection that runs each statement as a
#: transaction of its own.
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def outside_transaction(session: Session | scoped_session) -> bool:
    """Give ``session`` a connection in autocommit, if nothing is begun on it.

    PostgreSQL only; returns whether it did. Under READ COMMITTED every
    statement sees a snapshot of its own anyway, so work that only reads, or
    writes in one statement, loses nothing and saves the round trips of
    ``BEGIN`` and of the ``COMMIT`` or ``ROLLBACK`` that ends it. Each write
    made on it is committed by its statement alone: call this only where
    nothing written needs another statement to stand or fall with it.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return False
    session.connection(execution_options=AUTOCOMMIT)
    return True


def make_engine(url: str, pool_size: int = 20) -> Engine:
    """Create an engine tuned for the backend ``url`` names."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url,
        # The pool keeps pool_size connections; one opened past them for a
        # burst is closed when it comes back, and opening one (a new server
        # process that plans every statement afresh) costs the database more
        # than keeping it. Web processes admit no more sends than pool_size
        # (SENDS_IN_FLIGHT), so that sends alone never open one.
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: A pooled connection unused for this long is tested before it is handed
#: out. A busy process hands out connections that were in use a moment ago:
#: testing each of those (SQLAlchemy's ``pool_pre_ping``) cost a round trip
#: on every event. A connection that died since its last use fails once, and
#: its error discards every pooled connection (SQLAlchemy's disconnect
#: handling).
PING_IDLE_SECONDS = 10.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_IDLE_SECONDS:
        return
    # Outside a transaction, so that the ping leaves none open.
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.autocommit = autocommit
    except Exception as error:
        # The pool throws this connection away and hands out another.
        raise exc.DisconnectionError(f"Idle connection is gone: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on foreign keys and write-ahead logging for every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _dispose_in_child(engine_ref: weakref.ref[Engine]) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.dispose(close=False)


class _Bound:
    """One application's engine and sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory = sessionmaker(engine, expire_on_commit=False)
        self.session = scoped_session(self.factory)


class Database:
    """Gives the current app's engine and scoped session; bound by :meth:`init_app`.

    The state lives in ``app.extensions`` so that several apps (tests, a job
    that builds its own) can exist in one process without sharing an engine.
    """

    def init_app(self, app: Any) -> None:
        """Create the engine for ``app`` and remove the session after each use."""
        settings = app.config["SETTINGS"]
        bound = _Bound(make_engine(settings.database_url, settings.db_pool_size))
        app.extensions["database"] = bound

        @app.teardown_appcontext
        def remove_session(_exc: BaseException | None) -> None:
            bound.session.remove()

        # A forked child (an RQ work horse) must not reuse the parent's
        # pooled connections; it opens its own.
        engine_ref = weakref.ref(bound.engine)
        os.register_at_fork(after_in_child=lambda: _dispose_in_child(engine_ref))

    @staticmethod
    def _bound() -> _Bound:
        return current_app.extensions["database"]

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return self._bound().engine

    @property
    def session(self) -> scoped_session[Session]:
        """The current app's session for this thread or green thread."""
        return self._bound().session

    def new_session(self) -> Session:
        """Open a session of its own (for work outside the scoped one)."""
        return self._bound().factory()
