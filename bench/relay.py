"""A bare Socket.IO relay speaking Parley's protocol, with no database.

``make bench`` drives it with the same generator as Parley to show what the
transport alone costs: Flask-SocketIO in the same async mode, behind the same
StripDeflate middleware and ``serve()`` as Parley, relaying ``message:send``
to the conversation's room and the inbox update to every agent. Nothing is
checked or stored; sequence numbers are kept in memory.

Run: ``python bench/relay.py --port 5100`` with ``ASYNC_MODE`` set.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import runtime  # noqa: E402

WORKSPACE_ROOM = "workspace"


def main() -> None:
    """Patch for the async mode, build the relay and serve it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5100)
    parser.add_argument("--max-connections", type=int, default=20000)
    args = parser.parse_args()

    mode = os.environ.get("ASYNC_MODE", "eventlet")
    runtime.patch(mode)
    app = build_relay(mode)
    runtime.serve(app, args.host, args.port, args.max_connections)


def build_relay(mode: str):
    """Return a Flask app whose Socket.IO handlers only relay."""
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=mode, logger=False, engineio_logger=False)
    app.add_url_rule("/readyz", "readyz", lambda: "ok")
    Relay(socketio).register()
    return app


class Relay:
    """The relay's state: a sequence counter per conversation."""

    def __init__(self, socketio) -> None:
        self.socketio = socketio
        self.last_seq: dict[int, int] = {}
        self.ids = itertools.count(1)

    def register(self) -> None:
        """Attach the handlers of both namespaces."""
        on = self.socketio.on
        on("connect", namespace="/widget")(self.visitor_connect)
        on("connect", namespace="/agent")(self.agent_connect)
        for namespace in ("/widget", "/agent"):
            on("sync", namespace=namespace)(self.sync)
            on("message:send", namespace=namespace)(self.sender(namespace))

    def visitor_connect(self, auth=None) -> bool:
        """Put the visitor in its own room, as Parley does for every tab."""
        from flask_socketio import join_room

        join_room(f"v{(auth or {}).get('token')}")
        return True

    def agent_connect(self, auth=None) -> bool:
        """Put the agent in the workspace room for inbox updates."""
        from flask_socketio import join_room

        join_room(WORKSPACE_ROOM)
        return True

    def sync(self, data: dict) -> dict:
        """Join the rooms of the given conversations; answer with no backlog."""
        from flask import request
        from flask_socketio import join_room

        side = "v" if request.namespace == "/widget" else "a"
        summaries = []
        for key, _seq in (data.get("conversations") or {}).items():
            join_room(f"c{key}:{side}")
            summary = self.summary(int(key))
            summaries.append({**summary, "messages": [], "more": False})
        return {"ok": True, "conversations": summaries}

    def sender(self, namespace: str):
        """Return the ``message:send`` handler for ``namespace``."""
        kind = "visitor" if namespace == "/widget" else "agent"

        def send(data: dict) -> dict:
            return self.relay(kind, data)

        return send

    def relay(self, kind: str, data: dict) -> dict:
        """Number the message, ack it and pass it on as Parley would."""
        conversation_id = int(data["conversation_id"])
        seq = self.last_seq.get(conversation_id, 0) + 1
        self.last_seq[conversation_id] = seq
        message = self.message(kind, conversation_id, seq, data)
        summary = self.summary(conversation_id)

        live = {**message, "prev_seq": seq - 1}
        emit = self.socketio.emit
        emit("message", live, to=f"c{conversation_id}:a", namespace="/agent")
        emit("message", live, to=f"c{conversation_id}:v", namespace="/widget")
        inbox = {
            "id": conversation_id,
            "last_seq": seq,
            "last_message": {
                "author": message["author"],
                "body": message["body"][:200],
                "created_at": message["created_at"],
            },
        }
        emit("conversation", inbox, to=WORKSPACE_ROOM, namespace="/agent")
        return {"ok": True, "message": message, "conversation": summary}

    def message(self, kind: str, conversation_id: int, seq: int, data: dict) -> dict:
        """Return the protocol's message shape for a relayed send."""
        body = str(data.get("body", ""))
        return {
            "id": next(self.ids),
            "conversation_id": conversation_id,
            "seq": seq,
            "author": {"kind": kind, "id": 1, "name": kind.title()},
            "body": body,
            "html": body,
            "client_msg_id": data.get("client_msg_id"),
            "created_at": datetime.now(UTC).isoformat(),
        }

    def summary(self, conversation_id: int) -> dict:
        """Return the protocol's conversation summary shape."""
        seq = self.last_seq.get(conversation_id, 0)
        return {
            "id": conversation_id,
            "status": "open",
            "last_seq": seq,
            "visitor_read_seq": 0,
            "agent_read_seq": 0,
            "assignee": None,
            "team": None,
        }


if __name__ == "__main__":
    main()
