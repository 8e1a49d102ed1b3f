"""Talking to a running Parley over HTTP, as a browser would."""

from __future__ import annotations

import re

import requests

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(page: str) -> str:
    """Return the CSRF token of the first form on ``page``."""
    found = _CSRF.search(page)
    assert found, f"No CSRF token in the page:\n{page[:2000]}"
    return found.group(1)


def sign_in(
    session: requests.Session, base_url: str, email: str, password: str
) -> requests.Response:
    """Sign in through the form at /login and return the page it lands on."""
    form = session.get(f"{base_url}/login", timeout=10)
    assert form.status_code == 200, form.text
    return session.post(
        f"{base_url}/login",
        data={
            "csrf_token": csrf_token(form.text),
            "email": email,
            "password": password,
        },
        timeout=10,
    )
