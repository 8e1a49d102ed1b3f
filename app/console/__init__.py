"""The agent console: inbox, conversations, canned replies.

Pages are rendered on the server; small JavaScript modules in
``static/console/`` keep them live over the /agent Socket.IO namespace and
post the same forms with ``fetch`` (answered in JSON when asked).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from app.console import actions, canned, filters, sweeper, views  # noqa: E402, F401
