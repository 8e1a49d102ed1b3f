"""Parley: customer-support chat.

This module imports nothing at load time, so that ``app.runtime`` can patch the
standard library for eventlet or gevent before Flask and its friends load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from config import Settings


def create_app(config: Settings | None = None) -> Flask:
    """Build the Flask application from ``config`` (default: the environment)."""
    from app.factory import build_app

    return build_app(config)
