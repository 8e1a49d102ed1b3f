"""Domain events, sent after the change they announce is committed.

The domain announces; the application decides what follows (a job, a
broadcast). Receivers get the ids they need, never live ORM objects.
"""

from blinker import Namespace

_signals = Namespace()

#: A conversation was closed. Sent with ``conversation_id``.
conversation_closed = _signals.signal("conversation-closed")

#: A visitor started a conversation. Sent with ``conversation_id``.
conversation_started = _signals.signal("conversation-started")

#: A message was stored. Sent with ``conversation_id`` and ``message_id``.
message_posted = _signals.signal("message-posted")
