"""Business hours per team: weekly opening times in a time zone, and holidays.

Pure. A team's hours are stored as JSON::

    {"timezone": "Europe/Paris",
     "weekly": {"mon": [["09:00", "17:30"]], "sat": [["10:00", "14:00"]]},
     "holidays": ["2026-12-25"]}

Empty hours mean always open. A day missing from ``weekly`` is closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.errors import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True)
class BusinessHours:
    """Parsed opening hours; ``always_open`` when none were set."""

    timezone: str = "UTC"
    weekly: tuple[tuple[tuple[time, time | None], ...], ...] = ((),) * 7
    holidays: frozenset[date] = frozenset()
    always_open: bool = True

    def is_open(self, at: datetime) -> bool:
        """True if the team is open at the aware datetime ``at``."""
        if self.always_open:
            return True
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        now = local.time().replace(tzinfo=None)
        # ``None`` as an end stands for midnight at the end of the day.
        return any(
            start <= now and (end is None or now < end)
            for start, end in self.weekly[local.weekday()]
        )


def parse(data: dict[str, Any] | None) -> BusinessHours:
    """Return the hours stored in ``data``, or raise ValidationError."""
    if not data:
        return BusinessHours()
    zone = str(data.get("timezone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            f"{zone!r} is not a time zone; use a name such as Europe/Paris.",
            code="bad_timezone",
        ) from error
    weekly = data.get("weekly") or {}
    days = tuple(_intervals(day, weekly.get(day) or []) for day in DAYS)
    holidays = frozenset(_holiday(value) for value in data.get("holidays") or [])
    return BusinessHours(zone, days, holidays, always_open=False)


def is_open(data: dict[str, Any] | None, at: datetime) -> bool:
    """True if a team with stored hours ``data`` is open at ``at``."""
    return parse(data).is_open(at)


def _intervals(day: str, pairs: list[Any]) -> tuple[tuple[time, time | None], ...]:
    """Check and convert one day's [start, end] pairs."""
    intervals = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationError(
                f"Hours for {day} must be pairs of start and end times.",
                code="bad_hours",
            )
        start, end = (_clock(day, value) for value in pair)
        if start is None or (end is not None and end <= start):
            raise ValidationError(
                f"On {day}, {pair[0]}-{pair[1]} ends before it starts; "
                "split hours that cross midnight into two days.",
                code="bad_hours",
            )
        intervals.append((start, end))
    return tuple(sorted(intervals, key=lambda interval: interval[0]))


def _clock(day: str, value: Any) -> time | None:
    """Parse HH:MM; 24:00 gives None, the end of the day."""
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        raise ValidationError(
            f"{value!r} on {day} is not a time; write it as HH:MM, e.g. 09:30.",
            code="bad_hours",
        )
    if value.strip() == "24:00":
        return None
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def _holiday(value: Any) -> date:
    """Parse a holiday written as YYYY-MM-DD."""
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as error:
        raise ValidationError(
            f"{value!r} is not a date; write holidays as YYYY-MM-DD.",
            code="bad_holiday",
        ) from error


def from_text(timezone: str, days: dict[str, str], holidays: str) -> dict[str, Any]:
    """Build stored hours from the admin form's text, checking every part.

    ``days`` maps a day to text like ``09:00-12:00, 13:00-17:30`` (empty for
    closed); ``holidays`` holds one date per line. Returns ``{}`` when no day
    has hours and no holiday is given, which means always open.
    """
    weekly: dict[str, list[list[str]]] = {}
    for day in DAYS:
        text = (days.get(day) or "").strip()
        if not text:
            continue
        pairs = []
        for part in text.split(","):
            start, _, end = part.strip().partition("-")
            pairs.append([start.strip(), end.strip()])
        weekly[day] = pairs
    dates = [line.strip() for line in holidays.splitlines() if line.strip()]
    if not weekly and not dates:
        return {}
    data = {"timezone": timezone.strip() or "UTC", "weekly": weekly, "holidays": dates}
    parse(data)
    return data


def to_text(data: dict[str, Any] | None) -> tuple[str, dict[str, str], str]:
    """Return stored hours as the admin form's time zone, day texts and holidays."""
    data = data or {}
    weekly = data.get("weekly") or {}
    days = {
        day: ", ".join(f"{start}-{end}" for start, end in weekly.get(day) or [])
        for day in DAYS
    }
    return data.get("timezone") or "UTC", days, "\n".join(data.get("holidays") or [])
