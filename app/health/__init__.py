"""Health checks for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db, redis
from app.migrate import current_revision, head_revision

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process can serve requests at all."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Answer 200 when the database and Redis answer and migrations are current."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    ready = all(check["ok"] for check in checks.values())
    return jsonify(status="ready" if ready else "unready", checks=checks), (
        200 if ready else 503
    )


def _check_database() -> dict:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = current_revision(connection)
    except Exception as error:
        logger.warning("Readiness: database unreachable: %s", error)
        return {"ok": False, "error": "The database does not answer."}
    head = head_revision()
    if revision != head:
        return {
            "ok": False,
            "error": f"Migrations are not current (at {revision}, head {head}); "
            "run `parley db upgrade`.",
        }
    return {"ok": True, "revision": revision}


def _check_redis() -> dict:
    if not redis.enabled:
        return {"ok": True, "mode": "embedded"}
    try:
        redis.client.ping()
    except Exception as error:
        logger.warning("Readiness: Redis unreachable: %s", error)
        return {"ok": False, "error": "Redis does not answer."}
    return {"ok": True}
