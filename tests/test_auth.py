"""Signing in and out of the console."""

import re

import pytest

from tests.support.factories import PASSWORD


@pytest.fixture
def csrf_client(settings):
    """A client of an app with CSRF protection on, as in production."""
    from app import create_app

    app = create_app(settings)
    with app.app_context():
        yield app.test_client()
    app.extensions["database"].engine.dispose()


def _token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_console_requires_sign_in(client):
    """An anonymous visit to the console is sent to the sign-in page."""
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_failed_sign_in_says_why(csrf_client, make):
    """A wrong password gives 401 and a clear message, and no session."""
    user = make.agent()
    response = csrf_client.post(
        "/login",
        data={
            "email": user.email,
            "password": "wrong password",
            "csrf_token": _token(csrf_client),
        },
    )
    assert response.status_code == 401
    assert "do not match an account" in response.get_data(as_text=True)
    assert csrf_client.get("/console/").status_code == 302


def test_sign_in_and_out(csrf_client, make):
    """The right password opens the console; signing out closes it."""
    user = make.agent(email="Pat@Example.com")
    response = csrf_client.post(
        "/login",
        data={
            "email": " pat@example.COM ",
            "password": PASSWORD,
            "csrf_token": _token(csrf_client),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    inbox = csrf_client.get("/console/")
    assert inbox.status_code == 200
    assert user.name in inbox.get_data(as_text=True)

    page = inbox.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert csrf_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert csrf_client.get("/console/").status_code == 302


def test_sign_in_without_csrf_token_is_refused(csrf_client, make):
    """A forged sign-in form without the CSRF token is rejected."""
    user = make.agent()
    response = csrf_client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "csrf_failed"
    assert csrf_client.get("/console/").status_code == 302


def test_session_cookie_flags(csrf_client, make):
    """The session cookie is HttpOnly and SameSite=Lax."""
    user = make.agent()
    response = csrf_client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": _token(csrf_client),
        },
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_only_follows_local_paths(csrf_client, make):
    """A crafted ``next`` cannot send a signed-in user to another site."""
    user = make.agent()
    response = csrf_client.post(
        "/login?next=//evil.example/",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": _token(csrf_client),
        },
    )
    assert response.headers["Location"] == "/console/"


def test_inactive_user_cannot_sign_in(csrf_client, make, app):
    """A deactivated account is refused like a wrong password."""
    user = make.agent()
    user.is_active = False
    app.extensions["database"].session.commit()
    response = csrf_client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": _token(csrf_client),
        },
    )
    assert response.status_code == 401
