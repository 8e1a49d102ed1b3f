"""Socket.IO events: the kept session, and a request context that routes cleanly."""

from flask import session
from flask.sessions import SecureCookieSession


def test_an_event_gets_the_kept_session_and_a_request_its_cookie(app):
    """A kept session is handed out as it is; without one, the cookie is read."""
    signed = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "9"})
    cookie = {"HTTP_COOKIE": f"parley_session={signed}"}
    kept = SecureCookieSession({"_user_id": "7"})
    with app.test_request_context(environ_overrides={"saved_session": kept, **cookie}):
        assert session._get_current_object() is kept
    with app.test_request_context(environ_overrides=cookie):
        assert session["_user_id"] == "9"


def test_an_events_request_context_routes_without_an_exception(app):
    """The handshake's path has a route, so no NotFound is raised per event."""
    from flask import request

    for path in ("/socket.io/?EIO=4&transport=polling", "/socket.io"):
        with app.test_request_context(path):
            assert request.routing_exception is None
            assert request.url_rule.endpoint == "socketio"


def test_a_websocket_events_request_context_routes_without_an_exception(app):
    """A WebSocket handshake is matched too, not refused as WebsocketMismatch."""
    from flask import request

    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    with app.test_request_context(
        "/socket.io/?EIO=4&transport=websocket", headers=upgrade
    ):
        assert request.routing_exception is None
        assert request.url_rule.endpoint == "socketio_websocket"


def test_the_socketio_path_is_still_served_by_socketio(app):
    """Flask's route never answers: the Socket.IO middleware does."""
    response = app.test_client().get("/socket.io/?EIO=4&transport=polling")
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("0{")  # an Engine.IO open
