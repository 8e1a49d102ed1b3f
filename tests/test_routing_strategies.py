"""Choosing among candidates: least busy, round-robin, manual. Pure."""

from datetime import UTC, datetime, timedelta

from app.models import Availability, Strategy
from app.routing.strategies import Candidate, choose

T0 = datetime(2026, 12, 3, 9, tzinfo=UTC)


def agent(user_id, load=0, capacity=3, availability=Availability.ONLINE, last=None):
    """Build a candidate with sensible defaults."""
    return Candidate(user_id, load, capacity, availability, last)


def test_least_busy_picks_fewest_open():
    """The agent with the fewest open conversations is chosen."""
    picked = choose(Strategy.LEAST_BUSY, [agent(1, 2), agent(2, 1), agent(3, 2)])
    assert picked.user_id == 2


def test_least_busy_tie_goes_to_longest_since_last_assignment():
    """Among equally busy agents the one assigned longest ago wins; never beats all."""
    candidates = [
        agent(1, 1, last=T0),
        agent(2, 1, last=T0 - timedelta(minutes=5)),
        agent(3, 1, last=T0 + timedelta(minutes=1)),
    ]
    assert choose(Strategy.LEAST_BUSY, candidates).user_id == 2
    assert choose(Strategy.LEAST_BUSY, [*candidates, agent(4, 1)]).user_id == 4


def test_only_online_agents_under_capacity_are_candidates():
    """Away, offline and full agents are never chosen, by any strategy."""
    candidates = [
        agent(1, 0, availability=Availability.AWAY),
        agent(2, 0, availability=Availability.OFFLINE),
        agent(3, 3, capacity=3),
        agent(4, 0, capacity=0),
    ]
    for strategy in Strategy:
        assert choose(strategy, candidates) is None
    assert choose(Strategy.LEAST_BUSY, [*candidates, agent(5, 2)]).user_id == 5


def test_round_robin_rotates_by_id_and_wraps():
    """Round-robin takes the next agent after the last one, ignoring load."""
    candidates = [agent(3, 2), agent(1, 0), agent(7, 1)]
    assert choose(Strategy.ROUND_ROBIN, candidates, None).user_id == 1
    assert choose(Strategy.ROUND_ROBIN, candidates, 1).user_id == 3
    assert choose(Strategy.ROUND_ROBIN, candidates, 3).user_id == 7
    assert choose(Strategy.ROUND_ROBIN, candidates, 7).user_id == 1
    # The last one left the team: the rotation carries on after their id.
    assert choose(Strategy.ROUND_ROBIN, candidates, 5).user_id == 7


def test_round_robin_skips_full_agents():
    """A full agent's turn passes to the next one who has room."""
    candidates = [agent(1), agent(2, 3, capacity=3), agent(3)]
    assert choose(Strategy.ROUND_ROBIN, candidates, 1).user_id == 3


def test_manual_never_picks():
    """A manual team's conversations wait for an agent to take them."""
    assert choose(Strategy.MANUAL, [agent(1)]) is None
