"""Helpers for the console's tests: signed-in test clients, JSON posts."""

from __future__ import annotations

import re

from flask import g
from flask.testing import FlaskClient

from app.models import User

JSON = {"Accept": "application/json"}


class ConsoleClient(FlaskClient):
    """A test client that forgets the previous request's user.

    The tests hold one app context open, and Flask-Login and Flask-WTF cache
    the user and the CSRF token in ``g``, which lives as long as that
    context: without this, a second client would act as the first one.
    """

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


def signed_in(app, user: User) -> ConsoleClient:
    """Return a test client signed in as ``user``, sending its CSRF token."""
    client = ConsoleClient(app, app.response_class, use_cookies=True)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    page = client.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    client.user = user
    return client


def post_json(client, path: str, data: dict | None = None):
    """POST a form as the console's fetch calls do, asking for JSON."""
    return client.post(path, data=data or {}, headers=JSON)
