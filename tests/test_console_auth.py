"""Signing in to the console: rate limits, sign-out everywhere, cookies."""

from __future__ import annotations

import re

from app import create_app
from app.auth import ATTEMPTS_PER_EMAIL
from config import Settings
from tests.support.console import ConsoleClient
from tests.support.factories import PASSWORD


def _client(app) -> ConsoleClient:
    return ConsoleClient(app, app.response_class, use_cookies=True)


def _sign_in(client, email: str, password: str):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
    )


def test_failed_attempts_are_rate_limited_per_email(app, make):
    """After too many attempts on one email, even the right password waits."""
    user = make.agent()
    for _ in range(ATTEMPTS_PER_EMAIL):
        assert _sign_in(_client(app), user.email, "wrong").status_code == 401
    refused = _sign_in(_client(app), user.email, PASSWORD)
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    other = make.agent(user.workspace)
    assert _sign_in(_client(app), other.email, PASSWORD).status_code == 302


def test_sign_out_everywhere_ends_every_session(app, make):
    """Signing out everywhere ends the sessions of the user's other browsers."""
    user = make.agent()
    laptop, phone = _client(app), _client(app)
    assert _sign_in(laptop, user.email, PASSWORD).status_code == 302
    assert _sign_in(phone, user.email, PASSWORD).status_code == 302
    assert phone.get("/console/").status_code == 200

    page = laptop.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = laptop.post("/logout/everywhere", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert laptop.get("/console/").status_code == 302
    assert phone.get("/console/").status_code == 302

    again = _client(app)
    assert _sign_in(again, user.email, PASSWORD).status_code == 302
    assert again.get("/console/").status_code == 200


def test_console_forms_need_the_csrf_token(app, make):
    """A console action posted without the CSRF token is refused."""
    user = make.agent()
    conversation = make.conversation(user.workspace)
    client = _client(app)
    assert _sign_in(client, user.email, PASSWORD).status_code == 302
    response = client.post(
        f"/console/conversations/{conversation.id}/close",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "csrf_failed"


def test_production_cookies_are_secure(settings, make):
    """In production the session cookie is also Secure."""
    secure = Settings(**{**settings.__dict__, "session_cookie_secure": True})
    app = create_app(secure)
    with app.app_context():
        user = make.agent()
        response = _sign_in(_client(app), user.email, PASSWORD)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["database"].engine.dispose()
