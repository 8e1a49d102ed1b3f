"""Domain events, sent after the change they announce is committed.

The domain announces; the application decides what follows (a job, a
broadcast). Receivers get ids or frozen snapshots, never live ORM objects.

Two kinds of sending:

- Signals for work that follows a use case (``conversation_started``,
  ``conversation_closed``) are sent by the domain function itself, right
  after its commit; their receivers may use the session.
- Broadcast signals (``message_posted``, ``conversation_changed``) are queued
  on the session with :func:`after_commit` wherever the change is made, and
  sent when that transaction commits, dropped when it rolls back. Their
  receivers run once the committed transaction has ended and its connection
  is back in the pool, still inside ``commit()``; they open sessions of their
  own.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal
from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_signals = Namespace()

#: A conversation was closed. Sent with ``conversation_id``.
conversation_closed = _signals.signal("conversation-closed")

#: A visitor started a conversation. Sent with ``conversation_id``.
conversation_started = _signals.signal("conversation-started")

#: A message was stored. Sent with ``message``, a MessageView.
message_posted = _signals.signal("message-posted")

#: A conversation's status, assignee or team changed, or it started. Sent
#: with ``conversation_ids``, a set.
conversation_changed = _signals.signal("conversation-changed")

_PENDING = "parley.pending_events"
_CHANGED = "parley.changed_conversations"
_COMMITTED = "parley.committed_events"


def announce(signal: Signal, **payload: Any) -> None:
    """Send ``signal`` to each receiver, one failing receiver stopping no other.

    What is announced is already committed, so a receiver that fails (a job
    queue that is down, say) is logged and must not undo or hide it.
    """
    for receiver in signal.receivers_for(None):
        try:
            receiver(None, **payload)
        except Exception:
            logger.exception(
                "Receiver %s of %s failed",
                getattr(receiver, "__name__", receiver),
                signal.name,
            )


def after_commit(session: Session, signal: Signal, **payload: Any) -> None:
    """Send ``signal`` with ``payload`` once the session's transaction commits."""
    session.info.setdefault(_PENDING, []).append((signal, payload))


def conversation_touched(session: Session, conversation_id: int) -> None:
    """Announce a conversation as changed when the transaction commits."""
    session.info.setdefault(_CHANGED, set()).add(conversation_id)


@event.listens_for(Session, "after_flush")
def _collect_changed(session: Session, _context: Any) -> None:
    from app.models import Conversation

    watched = ("status", "assignee_id", "team_id")
    for obj in [*session.new, *session.dirty]:
        if not isinstance(obj, Conversation) or obj.id is None:
            continue
        state = session.is_modified(obj, include_collections=False)
        if obj in session.new or (state and _changed(obj, watched)):
            conversation_touched(session, obj.id)


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    from sqlalchemy import inspect

    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_commit")
def _commit_pending(session: Session) -> None:
    session.info[_COMMITTED] = (
        session.info.pop(_PENDING, []),
        session.info.pop(_CHANGED, set()),
    )


@event.listens_for(Session, "after_transaction_end")
def _send_committed(session: Session, transaction: Any) -> None:
    # SQLAlchemy runs after_commit while the session still holds its
    # connection, and receivers open sessions of their own: sending from
    # there would need two pooled connections per commit, and a full pool
    # would wait on itself. Here, at the end of the outermost transaction,
    # the connection is back in the pool.
    if transaction.parent is not None:
        return
    committed = session.info.pop(_COMMITTED, None)
    session.info.pop(_PENDING, None)
    session.info.pop(_CHANGED, None)
    if committed is None:
        return
    pending, changed = committed
    for signal, payload in pending:
        announce(signal, **payload)
    if changed:
        announce(conversation_changed, conversation_ids=changed)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_CHANGED, None)
