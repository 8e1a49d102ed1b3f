"""Live traffic over Socket.IO: the /widget and /agent namespaces.

Handlers are thin: they check who is asking and what was sent, call the
domain, and answer with an ack. Delivery to other clients happens in
:mod:`app.realtime.broadcast`, from domain events sent after each commit.
docs/protocol.md is the contract.
"""

from app.realtime import (  # noqa: F401  (registers handlers and receivers)
    agent,
    availability,
    broadcast,
    widget,
)
