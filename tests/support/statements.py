"""Counting what a piece of code sends to the database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event


def statements(app, action: Callable[[], object]) -> list[str]:
    """Run ``action`` and return the SQL statements it sent, in order."""
    engine = app.extensions["database"].engine
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent
