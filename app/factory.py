"""The application factory."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import NoReturn

from flask import Flask, Request, abort, current_app
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from app import logs
from app.domain import events
from app.domain.conversations import MessageView
from app.errors import register_error_handlers
from app.extensions import (
    csrf,
    db,
    jobs,
    limiter,
    login_manager,
    presence,
    redis,
    sends,
    socketio,
)
from app.models import AuthorKind
from app.observability import init_sentry
from app.routing import hooks as _routing_hooks  # noqa: F401  (connects receivers)
from config import Settings

logger = logging.getLogger(__name__)


def build_app(config: Settings | None = None) -> Flask:
    """Create and wire the Flask application for ``config``."""
    settings = config or Settings.from_env()
    logs.configure(settings)
    init_sentry(settings)

    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(_flask_config(settings))
    app.session_interface = SocketSessionInterface()

    db.init_app(app)
    redis.init_app(app)
    jobs.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    sends.init_app(app)
    presence.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to open the console."
    _init_socketio(app, settings)

    logs.install_request_ids(app)
    register_error_handlers(app)
    _register_blueprints(app)

    from app.cli import register_commands

    register_commands(app)
    logger.debug("App built for %s mode", settings.env)
    return app


def _init_socketio(app: Flask, settings: Settings) -> None:
    """Bind Socket.IO, sharing rooms through Redis when it is configured."""
    from app import realtime  # noqa: F401  (registers the namespaces' handlers)
    from app.realtime.queue import ResyncingRedisManager

    mode = _socketio_mode(settings)
    # Always given: Flask-SocketIO keeps options from an earlier init_app.
    options = {"client_manager": None}
    if settings.redis_url:
        # A process that does not serve sockets only publishes.
        options["client_manager"] = ResyncingRedisManager(
            settings.redis_url,
            channel="parley",
            write_only=mode == "threading" and not settings.testing,
        )
    socketio.init_app(
        app,
        async_mode=mode,
        logger=False,
        engineio_logger=False,
        # The widget runs on the companies' own sites; each connection's
        # Origin is checked against its workspace in the connect handler.
        cors_allowed_origins="*",
        # A payload over this ends the connection at the transport; the
        # handlers answer anything over 64 KB with an error ack instead.
        max_http_buffer_size=1024 * 1024,
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
        **options,
    )
    # Every Socket.IO event runs in a request context built from its
    # connection's handshake, whose path no view had: Flask then raised and
    # kept a NotFound per event, a traceback of a dozen frames left to the
    # cyclic collector. The Socket.IO middleware answers every request to
    # this path before Flask would route it. A WebSocket handshake is matched
    # only against WebSocket rules (else WebsocketMismatch), hence two.
    for websocket in (False, True):
        app.add_url_rule(
            "/socket.io/",
            endpoint="socketio_websocket" if websocket else "socketio",
            view_func=_socketio_path,
            methods=["GET"] if websocket else ["GET", "POST"],
            strict_slashes=False,
            websocket=websocket,
        )


def _socketio_path() -> NoReturn:
    """Never reached: the Socket.IO middleware serves this path."""
    abort(404)


def _socketio_mode(settings: Settings) -> str:
    """Use the configured green mode only in a process patched for it.

    Commands that do not serve (migrations, the worker, the shell) run
    unpatched, and Socket.IO in them only ever emits through Redis.
    """
    from app.runtime import patched_mode

    if settings.async_mode == "threading" or patched_mode() == settings.async_mode:
        return settings.async_mode
    return "threading"


class SocketSessionInterface(SecureCookieSessionInterface):
    """The cookie session, not decoded again for every Socket.IO event.

    Flask opens the session (checks the cookie's signature, decodes it) for
    each request context, and Flask-SocketIO pushes one per event, then
    swaps in the copy it keeps for the connection. Handing that copy out
    directly gives the same session for a fraction of the cost.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        kept = request.environ.get("saved_session")
        if kept is not None:
            return kept
        return super().open_session(app, request)


def _flask_config(settings: Settings) -> dict:
    """Translate settings into Flask's own configuration keys."""
    return {
        "SETTINGS": settings,
        "SECRET_KEY": settings.secret_key,
        "TESTING": settings.testing,
        "SESSION_COOKIE_NAME": "parley_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings.session_cookie_secure,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        # Agents keep the console open all day; a token that expired after an
        # hour would fail their next form. It lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "JSON_SORT_KEYS": False,
    }


def _register_blueprints(app: Flask) -> None:
    from app.api.widget import bp as widget_api_bp
    from app.auth import bp as auth_bp
    from app.console import bp as console_bp
    from app.health import bp as health_bp
    from app.site import bp as site_bp

    for blueprint in (health_bp, auth_bp, console_bp, site_bp, widget_api_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(__import__("app.admin", fromlist=["bp"]).bp)
    app.register_blueprint(__import__("app.widget_assets", fromlist=["bp"]).bp)


def _queue_transcript(_sender: object, conversation_id: int) -> None:
    """Email the transcript once a conversation is closed."""
    jobs.enqueue("send_transcript", conversation_id=conversation_id)


def _queue_missed_replies(_sender: object, message: MessageView) -> None:
    """Email an agent's reply later if the visitor has not read it by then.

    One deferred run covers every reply until it runs (and defers another
    for replies still too young), so a conversation gets one run per delay
    instead of one per reply.
    """
    if message.author_kind != AuthorKind.AGENT:
        return
    delay = current_app.config["SETTINGS"].missed_reply_email_delay_seconds
    # Conversation id -> when this process last queued its run.
    queued_at = current_app.extensions.setdefault("missed_replies_queued", {})
    now = time.monotonic()
    queued = queued_at.get(message.conversation_id)
    if queued is not None and now - queued < delay:
        return
    if len(queued_at) > 10_000:
        for key, at in list(queued_at.items()):
            if now - at >= delay:
                del queued_at[key]
    queued_at[message.conversation_id] = now
    jobs.defer(
        "email_missed_replies", delay=delay, conversation_id=message.conversation_id
    )


def _release_deferred_jobs() -> None:
    """Queue the deferred jobs that are due (a presence heartbeat chore)."""
    released = jobs.release_due()
    if released:
        logger.info("Queued %d deferred job(s)", released)


# Receivers are connected once per process, not per app: they act on
# whichever app is current when the event is sent.
events.conversation_closed.connect(_queue_transcript)
events.message_posted.connect(_queue_missed_replies)
presence.every_beat(_release_deferred_jobs)
