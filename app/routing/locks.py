"""The locks routing takes, on PostgreSQL and on SQLite.

See :mod:`app.routing.assignment` for the order they are taken in and why.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import Conversation, Team, User

# The first key of the teams' queue locks among PostgreSQL's advisory locks
# ("PQ"); the second is the team's id.
QUEUE_LOCKS = 0x5051


def write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock before reading anything.

    pysqlite begins a transaction at the first write; a step that read first
    could decide on a snapshot another writer has moved past. A write that
    changes no row takes the lock all the same. PostgreSQL needs nothing here:
    its steps lock the rows they decide on.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE workspaces SET id = id WHERE id IS NULL"))


def lock_queue(session: Session, team_id: int) -> Team | None:
    """Take the team's queue lock (PostgreSQL) and return the team, fresh."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(QUEUE_LOCKS, team_id)))
    return session.scalar(
        select(Team).where(Team.id == team_id).execution_options(populate_existing=True)
    )


def lock_conversation(session: Session, conversation_id: int) -> Conversation:
    """Lock and return a conversation, fresh from the database."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update(of=Conversation)
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        session.rollback()
        raise NotFound(f"No conversation {conversation_id}.")
    return conversation


def lock_agent(session: Session, agent_id: int, workspace_id: int) -> User:
    """Lock and return an active agent of the workspace, or raise NotFound."""
    agent = session.scalar(
        select(User)
        .where(
            User.id == agent_id,
            User.workspace_id == workspace_id,
            User.is_active.is_(True),
        )
        .with_for_update(of=User)
        .execution_options(populate_existing=True)
    )
    if agent is None:
        session.rollback()
        raise NotFound(f"No agent {agent_id} in this workspace.")
    return agent
