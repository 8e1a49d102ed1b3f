"""Waking snoozed conversations when their time comes.

A loop in each web process, started by the first console request (so CLI
commands and workers start none), checks every SWEEP_SECONDS. It works the
same embedded and in production: several processes may sweep at once, and
each conversation is reopened only by the one UPDATE that still finds it
snoozed.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from app.console import bp
from app.domain.console import wake_due

logger = logging.getLogger(__name__)

#: Seconds between sweeps: a snooze ends at most this late.
SWEEP_SECONDS = 15

_STARTED = "console.snooze_sweeper"


@bp.before_app_request
def _start_sweeper() -> None:
    """Start this process's sweep loop once, outside tests."""
    app = current_app._get_current_object()
    if app.testing or app.extensions.get(_STARTED):
        return
    app.extensions[_STARTED] = True
    from app.extensions import socketio

    socketio.start_background_task(_sweep_loop, app)
    logger.info("Snooze sweeper started")


def sweep_once(app: Flask) -> list[int]:
    """Reopen the conversations whose snooze has ended; return their ids."""
    from app.extensions import db

    with app.app_context():
        try:
            return wake_due(db.session)
        finally:
            db.session.remove()


def _sweep_loop(app: Flask) -> None:
    """Sweep every SWEEP_SECONDS for as long as the process lives."""
    from app.extensions import socketio

    while True:
        socketio.sleep(SWEEP_SECONDS)
        try:
            sweep_once(app)
        except Exception:
            logger.warning("Snooze sweep failed; trying again later", exc_info=True)
