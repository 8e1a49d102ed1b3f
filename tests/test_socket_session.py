"""Socket.IO events get their connection's kept session without decoding the cookie."""

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
