"""The data model. Every table is created by an Alembic migration, never here."""

from app.db import Base
from app.models.audit import AuditEvent
from app.models.console import (
    CannedReply,
    ConversationTag,
    SignOut,
    Snooze,
    Tag,
)
from app.models.conversation import (
    AuthorKind,
    Conversation,
    ConversationStatus,
    Message,
)
from app.models.routing import Availability, RoutingRule, RuleKind, Strategy
from app.models.visitor import Visitor
from app.models.workspace import Role, Team, TeamMembership, User, Workspace

__all__ = [
    "AuditEvent",
    "AuthorKind",
    "Availability",
    "Base",
    "CannedReply",
    "Conversation",
    "ConversationStatus",
    "ConversationTag",
    "Message",
    "Role",
    "RoutingRule",
    "RuleKind",
    "SignOut",
    "Snooze",
    "Strategy",
    "Tag",
    "Team",
    "TeamMembership",
    "User",
    "Visitor",
    "Workspace",
]
