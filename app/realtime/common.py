"""What both namespaces share: dispatch, payload checks and error acks."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import join_room
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.domain.conversations import messages_after
from app.errors import ParleyError, ValidationError
from app.extensions import db, sends
from app.models import Conversation, User
from app.realtime import payloads

logger = logging.getLogger(__name__)

#: Largest event payload a handler accepts. Engine.IO's own limit (1 MB,
#: set in the factory) ends the connection; this one answers with an error.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Messages per conversation in one catch-up answer.
SYNC_PAGE = 200
#: Conversations in one sync request.
SYNC_MAX_CONVERSATIONS = 50

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def error_ack(error: ParleyError) -> dict[str, Any]:
    """Return the error ack for ``error``."""
    return {"ok": False, **error.to_dict()}


def dispatch(
    handlers: dict[str, Handler], event: str, args: tuple
) -> dict[str, Any] | None:
    """Run the handler for ``event``, turning every failure into an error ack."""
    handler = handlers.get(event)
    try:
        if handler is None:
            raise ValidationError(
                f"There is no event {event!r} here.", code="unknown_event"
            )
        data = args[0] if args else None
        if len(args) > 1:
            raise ValidationError("Send one payload object per event.")
        if not isinstance(data, dict):
            raise ValidationError("The payload must be a JSON object.")
        if _size(data) > MAX_PAYLOAD_BYTES:
            raise ValidationError(
                f"The payload is over {MAX_PAYLOAD_BYTES // 1024} KB.",
                code="payload_too_large",
            )
        return handler(data)
    except ParleyError as error:
        db.session.rollback()
        logger.info("Event %s from %s refused: %s", event, request.sid, error.code)
        return error_ack(error)
    except Exception:
        db.session.rollback()
        logger.exception("Event %s from %s failed", event, request.sid)
        return {
            "ok": False,
            "error": {
                "code": "internal",
                "message": "Something went wrong on our side. Retry in a moment.",
            },
        }


def admitted(handler: Handler) -> Handler:
    """Refuse ``handler`` with a rate-limit ack while the process is full.

    For the handlers that store messages: see ``InFlightLimit``.
    """

    @functools.wraps(handler)
    def gated(data: dict[str, Any]) -> dict[str, Any] | None:
        with sends.admit(
            "Many messages are arriving right now. Yours will be sent again "
            "in a moment."
        ):
            return handler(data)

    return gated


def _size(data: Any) -> int:
    try:
        return len(json.dumps(data, separators=(",", ":")))
    except (TypeError, ValueError):
        raise ValidationError("The payload is not valid JSON.") from None


def need_int(data: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    """Return ``data[name]`` as a positive whole number, or raise invalid."""
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(f"{name} must be a whole number.")
    return value


def need_bool(data: dict[str, Any], name: str, default: bool = False) -> bool:
    """Return ``data[name]`` as a boolean, or raise invalid."""
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false.")
    return value


def sync_positions(data: dict[str, Any]) -> dict[int, int]:
    """Read ``{conversations: {"id": last_seq}}`` from a sync request."""
    raw = data.get("conversations", {})
    if not isinstance(raw, dict) or len(raw) > SYNC_MAX_CONVERSATIONS:
        raise ValidationError(
            f"conversations must map at most {SYNC_MAX_CONVERSATIONS} ids to seqs."
        )
    positions = {}
    for key, seq in raw.items():
        if not str(key).isdigit() or not isinstance(seq, int) or isinstance(seq, bool):
            raise ValidationError("conversations must map ids to whole numbers.")
        positions[int(key)] = max(seq, 0)
    return positions


#: What every summary names, loaded with its conversation in one query:
#: loaded lazily, each conversation cost two more round trips, as the
#: identity map lets a loaded agent go once nothing holds it.
SUMMARY_LOADS = (joinedload(Conversation.assignee), joinedload(Conversation.team))


def followed(query: Select, positions: dict[int, int]) -> list[Conversation]:
    """Load the conversations of a sync in one query, in the order asked for."""
    if not positions:
        return []
    found = db.session.scalars(
        query.where(Conversation.id.in_(positions)).options(*SUMMARY_LOADS)
    ).all()
    by_id = {conversation.id: conversation for conversation in found}
    return [by_id[key] for key in positions if key in by_id]


def catch_up(
    conversation: Conversation,
    after: int,
    *,
    room: str,
    for_visitor: bool,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Join ``room`` and return the summary with every message after ``after``.

    Joining first means nothing committed from now on is missed: it arrives
    live, and whatever the query also returns the client drops by seq.
    """
    join_room(room)
    rows = messages_after(
        db.session,
        conversation.id,
        after,
        include_notes=not for_visitor,
        limit=SYNC_PAGE + 1,
    )
    more = len(rows) > SYNC_PAGE
    rows = rows[:SYNC_PAGE]
    author_ids = {row.author_id for row in rows if row.author_id is not None}
    names = (
        dict(
            db.session.execute(
                select(User.id, User.name).where(User.id.in_(author_ids))
            ).all()
        )
        if author_ids and not all(row.author_kind.value == "visitor" for row in rows)
        else {}
    )
    return {
        **summary,
        "messages": payloads.stored_messages(rows, names, for_visitor=for_visitor),
        "more": more,
    }


class Throttle:
    """Lets one event per key through every ``interval`` seconds (this process)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[tuple, float] = {}

    def allow(self, key: tuple, now: float) -> bool:
        """True if ``key`` may pass now; records the pass."""
        if now - self._last.get(key, -self.interval) < self.interval:
            return False
        self._last[key] = now
        if len(self._last) > 50_000:
            cutoff = now - self.interval
            self._last = {k: t for k, t in self._last.items() if t > cutoff}
        return True

    def forget(self, key: tuple) -> None:
        """Let the next event for ``key`` through at once."""
        self._last.pop(key, None)
