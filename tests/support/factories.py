"""Factories that build valid objects with as little said as possible."""

from __future__ import annotations

import functools
import itertools

from sqlalchemy.orm import Session

from app.domain import accounts
from app.domain.conversations import post_message, start_conversation
from app.domain.tenancy import Tenant
from app.models import (
    AuthorKind,
    Conversation,
    Message,
    Role,
    Team,
    TeamMembership,
    User,
    Visitor,
    Workspace,
)

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)
_DEFAULT_HASH_MARK = "placeholder-before-the-cached-hash"


@functools.cache
def _default_hash() -> str:
    return accounts.hash_password(PASSWORD)


class Factory:
    """Makes and commits model objects in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._workspace: Workspace | None = None

    @property
    def default_workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = self.workspace()
        return self._workspace

    def workspace(self, name: str | None = None, **settings) -> Workspace:
        workspace = accounts.create_workspace(
            self.session, name or f"Company {next(_numbers)}"
        )
        workspace.settings = settings
        self.session.commit()
        return workspace

    def user(
        self, workspace: Workspace | None = None, role: Role = Role.AGENT, **fields
    ) -> User:
        number = next(_numbers)
        password = fields.pop("password", PASSWORD)
        email = fields.pop("email", f"person{number}@example.com")
        user = User(
            workspace_id=(workspace or self.default_workspace).id,
            email=accounts.normalise_email(email),
            name=fields.pop("name", f"Person {number}"),
            # argon2 is slow on purpose; the usual password is hashed once.
            password_hash=(
                _default_hash()
                if password == PASSWORD
                else accounts.hash_password(password)
            ),
            role=role,
            **fields,
        )
        self.session.add(user)
        self.session.commit()
        return user

    def agent(self, workspace: Workspace | None = None, **fields) -> User:
        return self.user(workspace, Role.AGENT, **fields)

    def admin(self, workspace: Workspace | None = None, **fields) -> User:
        return self.user(workspace, Role.ADMIN, **fields)

    def team(
        self, workspace: Workspace | None = None, members=(), name: str | None = None
    ) -> Team:
        team = Team(
            workspace_id=(workspace or self.default_workspace).id,
            name=name or f"Team {next(_numbers)}",
        )
        self.session.add(team)
        self.session.flush()
        for member in members:
            self.session.add(TeamMembership(team_id=team.id, user_id=member.id))
        self.session.commit()
        return team

    def visitor(self, workspace: Workspace | None = None, **fields) -> Visitor:
        visitor = Visitor(
            workspace_id=(workspace or self.default_workspace).id, **fields
        )
        self.session.add(visitor)
        self.session.commit()
        return visitor

    def conversation(
        self,
        workspace: Workspace | None = None,
        visitor: Visitor | None = None,
        **fields,
    ) -> Conversation:
        workspace = workspace or (
            visitor and self.session.get(Workspace, visitor.workspace_id)
        )
        workspace = workspace or self.default_workspace
        visitor = visitor or self.visitor(workspace)
        conversation = start_conversation(Tenant(self.session, workspace.id), visitor)
        for key, value in fields.items():
            setattr(conversation, key, value)
        self.session.commit()
        return conversation

    def message(
        self,
        conversation: Conversation,
        body: str = "Hello",
        kind: AuthorKind = AuthorKind.VISITOR,
        author_id: int | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        if author_id is None and kind == AuthorKind.VISITOR:
            author_id = conversation.visitor_id
        message, _ = post_message(
            self.session,
            conversation.id,
            author_kind=kind,
            author_id=author_id,
            body=body,
            client_msg_id=client_msg_id,
        )
        return message
