"""A Parley web process with a slow route and an echo event, for tests only.

Run as ``python -m tests.support.cooperative_server`` with Parley's usual
environment (``ASYNC_MODE``, ``DATABASE_URL``, ``PORT``...). It patches for the
async mode first, exactly as ``parley serve`` does, then adds to the real app:

- ``GET /test/slow``, which runs ``SELECT pg_sleep(1)`` on PostgreSQL;
- an ``echo`` event on the ``/echo`` namespace that acknowledges with its data.

The production app never has these; they exist so a test can show that a slow
query in one request leaves other clients' traffic flowing. Importing this
module patches nothing, so tests may import its constants.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

SLOW_PATH = "/test/slow"
ECHO_NAMESPACE = "/echo"


def build() -> Flask:
    """Create the Parley app and add the slow route and the echo event."""
    from flask import jsonify
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db, socketio

    app = create_app()

    @app.get(SLOW_PATH)
    def slow():
        """Hold a database connection in a one-second query."""
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(1)"))
        return jsonify(slept=1)

    @socketio.on("echo", namespace=ECHO_NAMESPACE)
    def echo(data):
        """Acknowledge with the data received."""
        return data

    return app


def main() -> None:
    """Patch for ASYNC_MODE, then serve the app the way ``parley serve`` does."""
    from app import runtime

    # Before build() imports Flask, SQLAlchemy or redis.
    runtime.patch(os.environ.get("ASYNC_MODE", "eventlet"))
    app = build()
    settings = app.config["SETTINGS"]
    runtime.serve(app, settings.host, settings.port, settings.max_connections)


if __name__ == "__main__":
    main()
