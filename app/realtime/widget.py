"""The /widget namespace: visitors."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, emit, join_room

from app.db import outside_transaction
from app.domain.content import MAX_BODY_CHARS
from app.domain.conversations import mark_read, view_of, visitor_send
from app.domain.tenancy import Tenant
from app.domain.visitors import (
    VisitorTokens,
    clean_page,
    clean_prechat,
    origin_allowed,
    public_profile,
    update_profile,
    workspace_by_key,
)
from app.errors import NotFound, ParleyError, ValidationError
from app.extensions import db, limiter, presence, socketio
from app.models import Conversation, ConversationStatus, Visitor
from app.realtime import payloads, rooms
from app.realtime.common import (
    SUMMARY_LOADS,
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

#: A person does not type ten messages in ten seconds; a script does.
SEND_LIMIT = (10, 10)
TYPING_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class VisitorSocket:
    """Who is behind one /widget connection."""

    workspace_id: int
    visitor_id: int


_sockets: dict[str, VisitorSocket] = {}
_typing = Throttle(TYPING_INTERVAL_SECONDS)


def _refuse(code: str, message: str) -> ConnectionRefusedError:
    # The client's connect_error gets {message, data: {code}}.
    return ConnectionRefusedError(message, {"code": code})


@socketio.on("connect", namespace=rooms.WIDGET)
def connect(auth: Any = None):
    """Admit a visitor with a valid token from an allowed origin."""
    auth = auth if isinstance(auth, dict) else {}
    outside_transaction(db.session)  # reads alone: no BEGIN and ROLLBACK
    try:
        workspace = workspace_by_key(db.session, auth.get("key"))
    except NotFound as error:
        raise _refuse(error.code, error.message) from None
    if not origin_allowed(workspace, request.headers.get("Origin")):
        raise _refuse(
            "origin_forbidden",
            "This website is not allowed to use this workspace's chat.",
        )

    tokens = VisitorTokens(current_app.config["SECRET_KEY"])
    identity = tokens.read(auth.get("token"))
    if identity is None:
        raise _refuse("unauthorized", "The visitor token is missing, bad or expired.")
    if identity.workspace_id != workspace.id:
        raise _refuse(
            "token_mismatch", "This visitor token belongs to another workspace."
        )

    workspace_id = workspace.id
    db.session.rollback()
    _sockets[request.sid] = VisitorSocket(workspace_id, identity.visitor_id)
    join_room(rooms.visitor(identity.visitor_id))
    presence.connected("visitor", workspace_id, identity.visitor_id, request.sid)
    logger.debug("Visitor %s connected as %s", identity.visitor_id, request.sid)


@socketio.on("disconnect", namespace=rooms.WIDGET)
def disconnect(*_args: Any) -> None:
    """Forget the connection; presence lapses after the grace period."""
    _sockets.pop(request.sid, None)
    presence.disconnected(request.sid)


@socketio.on("*", namespace=rooms.WIDGET)
def any_event(event: str, *args: Any):
    """Dispatch every other event, answering failures with an error ack."""
    return dispatch(HANDLERS, event, args)


def _me() -> VisitorSocket:
    me = _sockets.get(request.sid)
    if me is None:
        raise ParleyError("This connection is not signed in.", code="unauthorized")
    return me


def _own_conversation(me: VisitorSocket, conversation_id: int) -> Conversation:
    conversation = Tenant(db.session, me.workspace_id).find(
        Conversation, conversation_id
    )
    if conversation is None or conversation.visitor_id != me.visitor_id:
        raise NotFound("You have no such conversation.")
    return conversation


def sync(data: dict[str, Any]) -> dict[str, Any]:
    """Catch up: every message after the seqs the client holds."""
    me = _me()
    outside_transaction(db.session)  # reads alone: no BEGIN and ROLLBACK
    positions = sync_positions(data)
    mine = (
        Tenant(db.session, me.workspace_id)
        .select(Conversation)
        .where(Conversation.visitor_id == me.visitor_id)
    )
    if positions:
        conversations = followed(mine, positions)
    else:
        # A first sync follows every open conversation from its start.
        conversations = db.session.scalars(
            mine.where(Conversation.status != ConversationStatus.CLOSED)
            .order_by(Conversation.id)
            .options(*SUMMARY_LOADS)
        ).all()
    answer = [
        catch_up(
            conversation,
            positions.get(conversation.id, 0),
            room=rooms.visitor_side(conversation.id),
            for_visitor=True,
            summary=payloads.conversation_for_visitor(conversation, db.session),
        )
        for conversation in conversations
    ]
    db.session.rollback()
    return {"ok": True, "conversations": answer}


@admitted
def send(data: dict[str, Any]) -> dict[str, Any]:
    """Store a visitor's message (starting a conversation if asked) and ack it."""
    me = _me()
    conversation_id = need_int(data, "conversation_id", optional=True)
    page = clean_page(data.get("page"))
    limiter.check(
        f"send:v:{me.visitor_id}",
        *SEND_LIMIT,
        message="You are sending messages faster than we can read them. "
        "Wait a few seconds.",
    )
    tenant = Tenant(db.session, me.workspace_id)
    context = dict(page)
    if conversation_id is None and data.get("prechat") is not None:
        answers = clean_prechat(data["prechat"])
        update_profile(
            db.session,
            tenant.get(Visitor, me.visitor_id),
            name=answers.get("name"),
            email=answers.get("email"),
        )
        context["prechat"] = answers
    sent = visitor_send(
        db.session,
        tenant,
        me.visitor_id,
        conversation_id,
        body=data.get("body"),
        client_msg_id=data.get("client_msg_id"),
        context=context,
        summarize=payloads.sent_summary,
    )
    if conversation_id is None:
        join_room(rooms.visitor_side(sent.conversation.id))
    db.session.rollback()
    message = payloads.message(view_of(sent.message), for_visitor=True, live=False)
    return {"ok": True, "message": message, "conversation": sent.summary}


def typing(data: dict[str, Any]) -> None:
    """Forward the visitor's typing (and draft) to agents, throttled."""
    me = _me()
    conversation_id = need_int(data, "conversation_id")
    is_typing = need_bool(data, "typing")
    draft = data.get("draft")
    if draft is not None and (
        not isinstance(draft, str) or len(draft) > MAX_BODY_CHARS
    ):
        raise ValidationError(
            f"draft must be text of at most {MAX_BODY_CHARS} characters."
        )
    key = (request.sid, conversation_id)
    if is_typing and not _typing.allow(key, time.monotonic()):
        return None
    if not is_typing:
        _typing.forget(key)
    _own_conversation(me, conversation_id)
    db.session.rollback()
    event = {
        "conversation_id": conversation_id,
        "typing": is_typing,
        "author": {"kind": "visitor", "name": None},
    }
    if is_typing and draft is not None:
        event["draft"] = draft
    emit("typing", event, to=rooms.agent_side(conversation_id), namespace=rooms.AGENT)
    return None


def read(data: dict[str, Any]) -> dict[str, Any]:
    """Record how far the visitor has read and tell the agents."""
    me = _me()
    conversation = _own_conversation(me, need_int(data, "conversation_id"))
    seq = mark_read(db.session, conversation, "visitor", data.get("seq"))
    emit(
        "read",
        {"conversation_id": conversation.id, "seq": seq, "by": "visitor"},
        to=rooms.agent_side(conversation.id),
        namespace=rooms.AGENT,
    )
    return {"ok": True, "seq": seq}


def update_visitor(data: dict[str, Any]) -> dict[str, Any]:
    """Store the name, email or attributes the visitor gave (e.g. offline form)."""
    me = _me()
    visitor = Tenant(db.session, me.workspace_id).get(Visitor, me.visitor_id)
    update_profile(
        db.session,
        visitor,
        name=data.get("name"),
        email=data.get("email"),
        attributes=data.get("attributes"),
    )
    return {"ok": True, "visitor": public_profile(visitor)}


HANDLERS = {
    "sync": sync,
    "message:send": send,
    "typing": typing,
    "read": read,
    "visitor:update": update_visitor,
}
