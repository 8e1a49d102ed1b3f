"""The console's page helpers, and pages fit for a strict CSP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.console.filters import browser, local_time, waited
from app.models import AuthorKind
from tests.support.console import signed_in


def test_waited_reads_like_a_person_would_say_it():
    """Waits read as seconds, minutes, hours and minutes, or days."""
    assert waited(timedelta(seconds=-3)) == "0 s"
    assert waited(timedelta(seconds=45)) == "45 s"
    assert waited(timedelta(minutes=12, seconds=59)) == "12 min"
    assert waited(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert waited(timedelta(hours=3)) == "3 h"
    assert waited(timedelta(days=3, hours=1)) == "3 d"


def test_browser_names_browser_and_system():
    """Common User-Agent headers give a browser, its version and the OS."""
    chrome_mac = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    )
    safari_iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    edge = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
    )
    assert browser(chrome_mac) == "Chrome 120 on macOS"
    assert browser(safari_iphone) == "Safari 17 on iOS"
    assert browser(edge) == "Edge 120 on Windows"
    assert browser(None) == "Unknown"
    assert browser("curl/8.0") == "Unknown browser on unknown OS"


def test_local_time_in_a_zone():
    """The visitor's local time is shown for a valid zone only."""
    noon = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert local_time("Europe/Berlin", noon) == "14:00 (Europe/Berlin)"
    assert local_time("Not/AZone", noon) == "Unknown"
    assert local_time(None, noon) == "Unknown"


def test_console_pages_need_no_inline_script_or_style(app, make):
    """Pages come with a strict CSP and need no inline script or style."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    make.message(conversation, "Hello <script>alert(1)</script>")
    make.message(conversation, "A note", AuthorKind.NOTE, agent.id)
    client = signed_in(app, agent)
    for path in (
        "/console/",
        "/console/?view=closed",
        f"/console/conversations/{conversation.id}",
        "/console/search?q=hello",
        "/console/canned",
    ):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        page = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts and all('type="module" src="' in tag for tag in scripts), path
        assert not re.search(r"\son[a-z]+=", page), path
        assert " style=" not in page, path
        assert "<script>alert(1)</script>" not in page, path
