"""The /agent namespace: agents and admins signed in to the console."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room

from app.db import outside_transaction
from app.domain.conversations import agent_send, mark_read, view_of
from app.domain.tenancy import Tenant
from app.errors import ParleyError, ValidationError
from app.extensions import db, presence, socketio
from app.models import Conversation
from app.realtime import payloads, rooms
from app.realtime.common import (
    Throttle,
    admitted,
    catch_up,
    dispatch,
    followed,
    need_bool,
    need_int,
    sync_positions,
)

logger = logging.getLogger(__name__)

TYPING_INTERVAL_SECONDS = 2.0
#: How long a socket acts on the identity it last checked. Loading the user
#: on every event cost a query per event; a user signed out everywhere or
#: deactivated is refused within this time instead.
IDENTITY_RECHECK_SECONDS = 5.0
_typing = Throttle(TYPING_INTERVAL_SECONDS)


@dataclass(frozen=True, slots=True)
class AgentSocket:
    """Who is behind one /agent connection, as last checked."""

    id: int
    workspace_id: int
    name: str
    checked_at: float


_sockets: dict[str, AgentSocket] = {}


def _own_origin() -> str:
    parts = urlsplit(current_app.config["SETTINGS"].public_url)
    return f"{parts.scheme}://{parts.netloc}"


@socketio.on("connect", namespace=rooms.AGENT)
def connect(auth: Any = None):
    """Admit a signed-in agent from Parley's own pages."""
    origin = request.headers.get("Origin")
    # Browsers always send Origin on WebSocket and cross-site requests; a
    # client without one is not a browser that a hostile page could drive.
    if origin is not None and origin.rstrip("/") not in {
        _own_origin(),
        request.host_url.rstrip("/"),
    }:
        raise ConnectionRefusedError(
            "Connect from Parley's own console.", {"code": "origin_forbidden"}
        )
    if not current_user.is_authenticated:
        raise ConnectionRefusedError(
            "Sign in to the console first.", {"code": "unauthorized"}
        )
    me = _remember(current_user)
    workspace_id, agent_id = me.workspace_id, me.id
    # Hand the connection back first: coming online opens a session of its own.
    db.session.rollback()
    join_room(rooms.workspace_agents(workspace_id))
    presence.connected("agent", workspace_id, agent_id, request.sid)
    logger.debug("Agent %s connected as %s", agent_id, request.sid)


@socketio.on("disconnect", namespace=rooms.AGENT)
def disconnect(*_args: Any) -> None:
    """Forget the connection; presence lapses after the grace period."""
    _sockets.pop(request.sid, None)
    presence.disconnected(request.sid)


@socketio.on("*", namespace=rooms.AGENT)
def any_event(event: str, *args: Any):
    """Dispatch every other event, answering failures with an error ack."""
    return dispatch(HANDLERS, event, args)


def _remember(user: Any) -> AgentSocket:
    me = AgentSocket(user.id, user.workspace_id, user.name, time.monotonic())
    _sockets[request.sid] = me
    return me


def _me() -> AgentSocket:
    """The agent behind this connection, loaded again when last checked long ago."""
    me = _sockets.get(request.sid)
    if me is not None and time.monotonic() - me.checked_at < IDENTITY_RECHECK_SECONDS:
        return me
    if not current_user.is_authenticated:
        _sockets.pop(request.sid, None)
        raise ParleyError("This connection is not signed in.", code="unauthorized")
    return _remember(current_user)


def _tenant() -> Tenant:
    return Tenant(db.session, _me().workspace_id)


def sync(data: dict[str, Any]) -> dict[str, Any]:
    """Catch up on conversations the console follows, notes included."""
    positions = sync_positions(data)
    outside_transaction(db.session)  # reads alone: no BEGIN and ROLLBACK
    answer = [
        _catch_up(conversation, positions[conversation.id])
        for conversation in followed(_tenant().select(Conversation), positions)
    ]
    db.session.rollback()
    return {"ok": True, "conversations": answer}


def _catch_up(conversation: Conversation, after: int) -> dict[str, Any]:
    return catch_up(
        conversation,
        after,
        room=rooms.agent_side(conversation.id),
        for_visitor=False,
        summary=payloads.conversation(conversation),
    )


def join(data: dict[str, Any]) -> dict[str, Any]:
    """Open a conversation: join its room and get what came after ``last_seq``."""
    outside_transaction(db.session)  # reads alone: no BEGIN and ROLLBACK
    conversation = _tenant().get(Conversation, need_int(data, "conversation_id"))
    after = need_int(data, "last_seq", optional=True) or 0
    answer = _catch_up(conversation, after)
    # A console that joins again after its socket dropped may have missed
    # the visitor coming or going.
    answer["visitor"]["online"] = presence.is_online(
        "visitor", conversation.workspace_id, conversation.visitor_id
    )
    db.session.rollback()
    return {"ok": True, "conversation": answer}


def leave(data: dict[str, Any]) -> dict[str, Any]:
    """Stop following a conversation live."""
    leave_room(rooms.agent_side(need_int(data, "conversation_id")))
    return {"ok": True}


@admitted
def send(data: dict[str, Any]) -> dict[str, Any]:
    """Store a reply or an internal note and ack it."""
    me = _me()
    message, _created = agent_send(
        Tenant(db.session, me.workspace_id),
        me,
        need_int(data, "conversation_id"),
        body=data.get("body"),
        client_msg_id=data.get("client_msg_id"),
        note=need_bool(data, "note"),
    )
    answer = payloads.message(view_of(message, me.name), for_visitor=False, live=False)
    db.session.rollback()
    return {"ok": True, "message": answer}


def typing(data: dict[str, Any]) -> None:
    """Forward the agent's typing to the visitor, throttled."""
    conversation_id = need_int(data, "conversation_id")
    is_typing = need_bool(data, "typing")
    key = (request.sid, conversation_id)
    if is_typing and not _typing.allow(key, time.monotonic()):
        return None
    if not is_typing:
        _typing.forget(key)
    me = _me()
    Tenant(db.session, me.workspace_id).get(Conversation, conversation_id)
    name = me.name
    db.session.rollback()
    emit(
        "typing",
        {
            "conversation_id": conversation_id,
            "typing": is_typing,
            "author": {"kind": "agent", "name": name},
        },
        to=rooms.visitor_side(conversation_id),
        namespace=rooms.WIDGET,
    )
    return None


def read(data: dict[str, Any]) -> dict[str, Any]:
    """Record how far agents have read and tell the visitor."""
    conversation = _tenant().get(Conversation, need_int(data, "conversation_id"))
    seq = mark_read(db.session, conversation, "agent", data.get("seq"))
    event = {"conversation_id": conversation.id, "seq": seq, "by": "agent"}
    emit("read", event, to=rooms.visitor_side(conversation.id), namespace=rooms.WIDGET)
    emit("read", event, to=rooms.agent_side(conversation.id), namespace=rooms.AGENT)
    return {"ok": True, "seq": seq}


def set_presence(data: dict[str, Any]) -> dict[str, Any]:
    """Set the agent's status to online or away."""
    status = data.get("status")
    if status not in ("online", "away"):
        raise ValidationError("status must be online or away.")
    me = _me()
    db.session.rollback()  # the change of status opens a session of its own
    presence.set_status(me.workspace_id, me.id, status)
    return {"ok": True, "status": status}


HANDLERS = {
    "sync": sync,
    "conversation:join": join,
    "conversation:leave": leave,
    "message:send": send,
    "typing": typing,
    "read": read,
    "presence:set": set_presence,
}
