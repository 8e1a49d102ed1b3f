"""The demo workspace that ``make run`` seeds on a fresh machine."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.accounts import create_user, create_workspace
from app.models import Role, Team, TeamMembership, Workspace

DEMO_WORKSPACE = "Demo Co"
DEMO_PEOPLE = (
    (Role.ADMIN, "admin@demo.parley.chat", "Ada Admin"),
    (Role.AGENT, "agent1@demo.parley.chat", "Alex Agent"),
    (Role.AGENT, "agent2@demo.parley.chat", "Sam Support"),
)


def seed(session: Session) -> list[tuple[str, str, str]] | None:
    """Create the demo workspace with an admin, two agents and a team. Commits.

    Returns (role, email, password) for each account created, or None when
    the demo workspace already exists, in which case nothing is changed.
    """
    if session.scalar(select(Workspace.id).where(Workspace.name == DEMO_WORKSPACE)):
        return None

    workspace = create_workspace(session, DEMO_WORKSPACE)
    workspace.settings = {
        "greeting": "Hi! Ask us anything, we usually answer within minutes.",
        "color": "#2457d6",
        "allowed_origins": [],
    }
    team = Team(workspace_id=workspace.id, name="Support", is_default=True)
    session.add(team)
    session.flush()

    logins = []
    for role, email, name in DEMO_PEOPLE:
        password = secrets.token_urlsafe(9)
        user = create_user(
            session, workspace, email=email, name=name, password=password, role=role
        )
        if role == Role.AGENT:
            session.add(TeamMembership(team_id=team.id, user_id=user.id))
        logins.append((role.value, email, password))
    session.commit()
    return logins
