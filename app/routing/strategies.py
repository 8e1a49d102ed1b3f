"""Choosing an agent among a team's candidates. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.models.routing import Availability, Strategy

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """An agent as routing sees them at the moment of choosing."""

    user_id: int
    load: int
    capacity: int
    availability: Availability = Availability.ONLINE
    last_assigned_at: datetime | None = None

    @property
    def can_take(self) -> bool:
        """True if the agent is online and under capacity."""
        return self.availability == Availability.ONLINE and self.load < self.capacity


def choose(
    strategy: Strategy,
    candidates: Sequence[Candidate],
    last_user_id: int | None = None,
) -> Candidate | None:
    """Return the agent ``strategy`` picks, or None when nobody can take one.

    Manual teams never pick: their conversations wait for an agent to take
    them. ``last_user_id`` is round-robin's place in the rotation.
    """
    able = [candidate for candidate in candidates if candidate.can_take]
    if not able or strategy == Strategy.MANUAL:
        return None
    if strategy == Strategy.ROUND_ROBIN:
        return round_robin(able, last_user_id)
    return least_busy(able)


def least_busy(able: Sequence[Candidate]) -> Candidate:
    """Fewest open conversations; a tie goes to the longest since an assignment."""
    return min(
        able,
        key=lambda c: (c.load, c.last_assigned_at or _NEVER, c.user_id),
    )


def round_robin(able: Sequence[Candidate], last_user_id: int | None) -> Candidate:
    """The next agent by id after the one who got the last conversation."""
    ordered = sorted(able, key=lambda c: c.user_id)
    if last_user_id is None:
        return ordered[0]
    for candidate in ordered:
        if candidate.user_id > last_user_id:
            return candidate
    return ordered[0]
