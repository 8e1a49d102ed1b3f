"""Template filters and globals for the console's pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.console import bp
from app.db import utcnow

_BROWSERS = (
    ("Edge", re.compile(r"Edg/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"Firefox/(\d+)")),
    ("Chrome", re.compile(r"Chrom(?:e|ium)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[.\d]* .*Safari/")),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


@bp.app_template_filter("waited")
def waited(delta: timedelta) -> str:
    """Say how long a wait was: "45 s", "12 min", "2 h 5 min", "3 d"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


@bp.app_template_filter("browser")
def browser(user_agent: str | None) -> str:
    """Name the browser and operating system of a User-Agent header."""
    if not user_agent:
        return "Unknown"
    name = next(
        (
            f"{label} {m.group(1)}"
            for label, rx in _BROWSERS
            if (m := rx.search(user_agent))
        ),
        "Unknown browser",
    )
    system = next((os for mark, os in _SYSTEMS if mark in user_agent), "unknown OS")
    return f"{name} on {system}"


@bp.app_template_filter("local_time")
def local_time(zone: str | None, now: datetime | None = None) -> str:
    """Return the time now in time zone ``zone``, or "Unknown"."""
    if not zone or not isinstance(zone, str):
        return "Unknown"
    try:
        here = (now or utcnow()).astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return "Unknown"
    return f"{here:%H:%M} ({zone})"


@bp.context_processor
def _now() -> dict:
    return {"now": utcnow()}
