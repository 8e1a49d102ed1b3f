"""Parley's exceptions and the one error shape every API answers with."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class ParleyError(Exception):
    """Base of every error Parley raises on purpose.

    ``code`` is a stable machine-readable word that clients switch on;
    the message is a sentence for people.
    """

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the error as the JSON body every API uses."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ValidationError(ParleyError):
    """The input is malformed or out of bounds."""

    code = "invalid"
    status = 400


class Unauthorized(ParleyError):
    """No valid identity was presented."""

    code = "unauthorized"
    status = 401


class Forbidden(ParleyError):
    """The caller is known but may not do this."""

    code = "forbidden"
    status = 403


class NotFound(ParleyError):
    """The object does not exist, or not in the caller's workspace."""

    code = "not_found"
    status = 404


class Conflict(ParleyError):
    """The object changed under the caller; the action no longer applies."""

    code = "conflict"
    status = 409


class RateLimited(ParleyError):
    """The caller is sending faster than allowed."""

    code = "rate_limited"
    status = 429


def wants_json() -> bool:
    """True when the client prefers JSON to HTML (APIs, widget, fetch calls)."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _respond(status: int, code: str, message: str, body: dict[str, Any] | None = None):
    if wants_json():
        return jsonify(body or {"error": {"code": code, "message": message}}), status
    return (
        render_template("error.html", status=status, message=message),
        status,
    )


def register_error_handlers(app: Flask) -> None:
    """Answer every error in one shape, JSON or HTML by the Accept header."""
    from app.extensions import db

    @app.errorhandler(ParleyError)
    def parley_error(error: ParleyError):
        return _respond(error.status, error.code, error.message, error.to_dict())

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _respond(
            400,
            "csrf_failed",
            "This form has expired or did not come from Parley. "
            "Reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return _respond(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        logger.error(
            "Unhandled error on %s %s",
            request.method,
            request.path,
            exc_info=error,
        )
        db.session.rollback()
        return _respond(
            500,
            "internal",
            "Something went wrong on our side. It has been logged; please try again.",
        )
