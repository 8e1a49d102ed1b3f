"""Agents' presence feeds routing: who can take conversations right now.

Presence knows who is connected (across processes, with a grace period);
routing keeps each agent's availability in the database, where its row
locks make assignment safe. This module carries the one into the other, and
runs routing's sweep for agents who stayed offline past their team's grace.
"""

from __future__ import annotations

import logging

from app.extensions import db, presence
from app.routing.assignment import set_availability, sweep_offline_agents

logger = logging.getLogger(__name__)


def agent_availability(
    kind: str, workspace_id: int, member_id: int, status: str
) -> None:
    """Record an agent's new presence status for routing (which may assign)."""
    if kind != "agent":
        return
    with db.new_session() as session:
        assigned = set_availability(session, member_id, status)
    if assigned:
        logger.info(
            "Agent %s online: %d conversation(s) assigned", member_id, len(assigned)
        )


def requeue_lapsed_agents() -> None:
    """Put back in the queue what agents offline past the grace period held."""
    with db.new_session() as session:
        requeued = sweep_offline_agents(session)
    if requeued:
        logger.info("Requeued conversations %s of agents who went offline", requeued)


presence.listen(agent_availability)
presence.every_beat(requeue_lapsed_agents)
