"""Domain events, sent after the change they announce is committed.

The domain announces; the application decides what follows (a job, a
broadcast). Receivers get the ids they need, never live ORM objects.
"""

from blinker import Namespace

_signals = Namespace()

#: A conversation was closed. Sent with ``conversation_id``.
conversation_closed = _signals.signal("conversation-closed")
