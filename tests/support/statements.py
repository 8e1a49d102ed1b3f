"""Counting what a piece of code sends to the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import event


class Sent(NamedTuple):
    """A statement and whether its connection was in autocommit."""

    statement: str
    #: True when the driver sent it without a BEGIN before it (psycopg2's
    #: autocommit): it was a transaction of its own.
    alone: bool


def statements(app, action: Callable[[], object]) -> list[str]:
    """Run ``action`` and return the SQL statements it sent, in order."""
    return [sent.statement for sent in sent_with_mode(app, action)]


def sent_with_mode(app, action: Callable[[], object]) -> list[Sent]:
    """Run ``action`` and return what it sent, each with its connection's mode."""
    engine = app.extensions["database"].engine
    sent: list[Sent] = []

    def record(_conn, cursor, statement, *_args) -> None:
        sent.append(Sent(statement, bool(getattr(cursor.connection, "autocommit", 0))))

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent
