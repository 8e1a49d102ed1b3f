"""Logging: readable lines in development, JSON lines in production.

Each line carries the request id of the request it was written in, so one
request can be followed through every module's logger.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

from config import Settings

REQUEST_ID_HEADER = "X-Request-ID"

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id, or '-' outside requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra`` fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def configure(settings: Settings) -> None:
    """Send every logger's records to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "parley", False):
            root.removeHandler(old)
    handler.parley = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Chatter from libraries stays out unless asked for.
    for noisy in ("engineio", "socketio", "urllib3", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def install_request_ids(app: Flask) -> None:
    """Give each request an id (taken from the proxy's header when it sends one)."""

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = (
            incoming[:64]
            if incoming.isprintable() and incoming
            else (uuid.uuid4().hex[:16])
        )

    @app.after_request
    def echo_request_id(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
        return response
