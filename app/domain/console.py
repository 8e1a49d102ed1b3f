"""What agents do in the console besides chatting: inbox views, search, tags,
canned replies, taking, snoozing and reopening.

Every function takes a :class:`Tenant`, so nothing here can reach another
workspace's data; none of it touches Flask's globals.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from app.db import utcnow
from app.domain import audit, events
from app.domain.conversations import append_message
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ValidationError
from app.models import (
    AuthorKind,
    Conversation,
    ConversationStatus,
    Message,
    Team,
    TeamMembership,
    User,
    Visitor,
)
from app.models.console import CannedReply, ConversationTag, Snooze, Tag
from app.routing.assignment import assign_next, assign_to, settle_reopened

logger = logging.getLogger(__name__)

#: Rows on one page of an inbox view or of search results.
PAGE_SIZE = 50

#: The views of the inbox, in the order the console lists them.
VIEWS = ("unassigned", "mine", "teams", "open", "snoozed", "closed")

VIEW_TITLES = {
    "unassigned": "Unassigned",
    "mine": "Mine",
    "teams": "My teams",
    "open": "All open",
    "snoozed": "Snoozed",
    "closed": "Closed",
}

#: How long a visitor may wait for an answer before their row is flagged,
#: when the workspace sets no ``wait_target_seconds`` of its own.
DEFAULT_WAIT_TARGET_SECONDS = 300

#: Longest tag name and canned-reply shortcut.
MAX_TAG = 40
MAX_SHORTCUT = 40
MAX_CANNED_BODY = 5000

#: Longest a conversation may be snoozed.
MAX_SNOOZE = timedelta(days=90)

_OPEN = (ConversationStatus.OPEN, ConversationStatus.PENDING)
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class InboxRow:
    """One line of an inbox list: plain values, ready for a template."""

    id: int
    status: str
    visitor_id: int
    visitor_name: str
    visitor_email: str | None
    last_body: str | None
    last_kind: str | None
    created_at: datetime
    waiting_since: datetime | None
    assignee_id: int | None
    assignee_name: str | None
    team_id: int | None
    team_name: str | None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InboxPage:
    """One page of a view: its rows and whether more follow."""

    view: str
    rows: list[InboxRow]
    page: int
    more: bool


# Inbox views


def my_team_ids(tenant: Tenant, user_id: int) -> list[int]:
    """Return the ids of the teams ``user_id`` belongs to in this workspace."""
    return list(
        tenant.session.scalars(
            select(TeamMembership.team_id)
            .join(Team, Team.id == TeamMembership.team_id)
            .where(
                TeamMembership.user_id == user_id,
                Team.workspace_id == tenant.workspace_id,
            )
        )
    )


def _view_condition(view: str, user_id: int, team_ids: list[int]):
    """Return the WHERE condition selecting a view's conversations."""
    is_open = Conversation.status.in_(_OPEN)
    conditions = {
        "unassigned": and_(is_open, Conversation.assignee_id.is_(None)),
        "mine": and_(is_open, Conversation.assignee_id == user_id),
        "teams": and_(is_open, Conversation.team_id.in_(team_ids)),
        "open": is_open,
        "snoozed": Conversation.status == ConversationStatus.SNOOZED,
        "closed": Conversation.status == ConversationStatus.CLOSED,
    }
    if view not in conditions:
        raise ValidationError(
            f"There is no inbox view {view!r}; use one of {', '.join(VIEWS)}.",
            code="unknown_view",
        )
    return conditions[view]


def view_counts(tenant: Tenant, user_id: int) -> dict[str, int]:
    """Count every view's conversations, and the agent's unread ones."""
    team_ids = my_team_ids(tenant, user_id)
    columns = [
        func.coalesce(
            func.sum(case((_view_condition(view, user_id, team_ids), 1), else_=0)),
            0,
        ).label(view)
        for view in VIEWS
    ]
    last = aliased(Message)
    unread = func.coalesce(
        func.sum(
            case(
                (
                    and_(
                        _view_condition("mine", user_id, team_ids),
                        last.author_kind == AuthorKind.VISITOR,
                        Conversation.last_seq > Conversation.agent_read_seq,
                    ),
                    1,
                ),
                else_=0,
            )
        ),
        0,
    ).label("unread")
    row = tenant.session.execute(
        select(*columns, unread)
        .outerjoin(
            last,
            and_(
                last.conversation_id == Conversation.id,
                last.seq == Conversation.last_seq,
            ),
        )
        .where(Conversation.workspace_id == tenant.workspace_id)
    ).one()
    return {name: int(row._mapping[name]) for name in (*VIEWS, "unread")}


def _waiting_since():
    """The first visitor message not yet followed by an agent's reply."""
    answered = aliased(Message)
    last_answer = (
        select(func.coalesce(func.max(answered.seq), 0))
        .where(
            answered.conversation_id == Conversation.id,
            answered.author_kind == AuthorKind.AGENT,
        )
        .correlate_except(answered)
        .scalar_subquery()
    )
    asked = aliased(Message)
    return (
        select(func.min(asked.created_at))
        .where(
            asked.conversation_id == Conversation.id,
            asked.author_kind == AuthorKind.VISITOR,
            asked.seq > last_answer,
        )
        .correlate_except(asked)
        .scalar_subquery()
    )


def _rows_query(tenant: Tenant) -> tuple[Select, Any]:
    """SELECT an inbox row's columns, for any filter; and its wait column."""
    last = aliased(Message)
    waiting = _waiting_since().label("waiting_since")
    return (
        select(
            Conversation.id,
            Conversation.status,
            Conversation.created_at,
            Conversation.assignee_id,
            Conversation.team_id,
            Conversation.visitor_id,
            Visitor.name,
            Visitor.email,
            Visitor.public_id,
            last.body,
            last.author_kind,
            User.name.label("assignee_name"),
            Team.name.label("team_name"),
            waiting,
        )
        .join(Visitor, Visitor.id == Conversation.visitor_id)
        .outerjoin(
            last,
            and_(
                last.conversation_id == Conversation.id,
                last.seq == Conversation.last_seq,
            ),
        )
        .outerjoin(User, User.id == Conversation.assignee_id)
        .outerjoin(Team, Team.id == Conversation.team_id)
        .where(Conversation.workspace_id == tenant.workspace_id)
    ), waiting


def _to_rows(tenant: Tenant, result) -> list[InboxRow]:
    """Build InboxRows, with every row's tags fetched in one more query."""
    records = list(result)
    tags = tags_by_conversation(tenant, [record.id for record in records])
    return [
        InboxRow(
            id=record.id,
            status=ConversationStatus(record.status).value,
            visitor_id=record.visitor_id,
            visitor_name=record.name
            or record.email
            or f"Visitor {record.public_id[:6]}",
            visitor_email=record.email,
            last_body=record.body,
            last_kind=AuthorKind(record.author_kind).value
            if record.author_kind
            else None,
            created_at=record.created_at,
            waiting_since=record.waiting_since,
            assignee_id=record.assignee_id,
            assignee_name=record.assignee_name,
            team_id=record.team_id,
            team_name=record.team_name,
            tags=tags.get(record.id, []),
        )
        for record in records
    ]


def inbox_page(
    tenant: Tenant, user_id: int, view: str, page: int = 1, size: int = PAGE_SIZE
) -> InboxPage:
    """Return one page of a view, the longest-waiting visitor first.

    Three queries whatever the page size: the agent's teams, the rows
    (visitor, last message, wait, assignee and team joined in), their tags.
    """
    page = max(1, page)
    condition = _view_condition(view, user_id, my_team_ids(tenant, user_id))
    query, waiting = _rows_query(tenant)
    if view == "closed":
        order = (Conversation.closed_at.desc(), Conversation.id.desc())
    else:
        # Unanswered first, longest wait first; then the oldest conversations.
        order = (
            waiting.is_(None),
            waiting,
            Conversation.created_at,
            Conversation.id,
        )
    result = tenant.session.execute(
        query.where(condition)
        .order_by(*order)
        .offset((page - 1) * size)
        .limit(size + 1)
    )
    rows = _to_rows(tenant, result)
    return InboxPage(view=view, rows=rows[:size], page=page, more=len(rows) > size)


def inbox_row(tenant: Tenant, conversation_id: int) -> InboxRow:
    """Return the inbox row of one conversation of this workspace."""
    query, _ = _rows_query(tenant)
    rows = _to_rows(
        tenant, tenant.session.execute(query.where(Conversation.id == conversation_id))
    )
    if not rows:
        raise NotFound(f"No conversation {conversation_id} in this workspace.")
    return rows[0]


def wait_target(settings: dict) -> timedelta:
    """Return how long a visitor should wait at most, from workspace settings."""
    seconds = settings.get("wait_target_seconds", DEFAULT_WAIT_TARGET_SECONDS)
    if not isinstance(seconds, int) or seconds <= 0:
        seconds = DEFAULT_WAIT_TARGET_SECONDS
    return timedelta(seconds=seconds)


# Search


def search(tenant: Tenant, text_query: str, page: int = 1) -> InboxPage:
    """Find conversations by message text, visitor name or email.

    PostgreSQL matches words with full-text search (any word form the
    ``simple`` dictionary yields); SQLite matches the text as a substring.
    """
    words = " ".join(str(text_query or "").split())[:200]
    if not words:
        raise ValidationError("Type something to search for.", code="empty_query")
    session = tenant.session
    pattern = f"%{_escape_like(words.lower())}%"
    if session.get_bind().dialect.name == "postgresql":
        in_body = func.to_tsvector("simple", Message.body).op("@@")(
            func.plainto_tsquery("simple", words)
        )
    else:
        in_body = func.lower(Message.body).like(pattern, escape="\\")
    matching = (
        select(Message.conversation_id)
        .where(Message.workspace_id == tenant.workspace_id, in_body)
        .distinct()
    )
    by_visitor = or_(
        func.lower(Visitor.name).like(pattern, escape="\\"),
        func.lower(Visitor.email).like(pattern, escape="\\"),
    )
    query, _ = _rows_query(tenant)
    page = max(1, page)
    result = session.execute(
        query.where(or_(Conversation.id.in_(matching), by_visitor))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = _to_rows(tenant, result)
    return InboxPage("search", rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Transcript


def messages_before(
    tenant: Tenant, conversation_id: int, before_seq: int | None, limit: int = 50
) -> tuple[list[Message], bool]:
    """Return up to ``limit`` messages below ``before_seq``, oldest first.

    Notes included (agents only). The flag says whether older ones remain.
    """
    conversation = tenant.get(Conversation, conversation_id)
    query = select(Message).where(Message.conversation_id == conversation.id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    found = list(
        tenant.session.scalars(query.order_by(Message.seq.desc()).limit(limit + 1))
    )
    return list(reversed(found[:limit])), len(found) > limit


def author_names(tenant: Tenant, messages: list[Message]) -> dict[int, str]:
    """Return the names of the agents who wrote ``messages``, by user id."""
    ids = {
        m.author_id
        for m in messages
        if m.author_kind in (AuthorKind.AGENT, AuthorKind.NOTE) and m.author_id
    }
    if not ids:
        return {}
    rows = tenant.session.execute(
        select(User.id, User.name).where(
            User.workspace_id == tenant.workspace_id, User.id.in_(ids)
        )
    )
    return {user_id: name for user_id, name in rows}


def earlier_conversations(
    tenant: Tenant, visitor_id: int, exclude_id: int, limit: int = 10
) -> list[Conversation]:
    """Return the visitor's other conversations, newest first."""
    return list(
        tenant.session.scalars(
            tenant.select(Conversation)
            .where(
                Conversation.visitor_id == visitor_id,
                Conversation.id != exclude_id,
            )
            .order_by(Conversation.created_at.desc())
            .limit(limit)
        )
    )


def pages_seen(tenant: Tenant, visitor_id: int, limit: int = 10) -> list[dict]:
    """Return the pages the visitor started conversations from, newest first."""
    contexts = tenant.session.scalars(
        select(Conversation.context)
        .where(
            Conversation.workspace_id == tenant.workspace_id,
            Conversation.visitor_id == visitor_id,
        )
        .order_by(Conversation.created_at.desc())
        .limit(limit)
    )
    seen, pages = set(), []
    for context in contexts:
        url = (context or {}).get("url")
        if isinstance(url, str) and url and url not in seen:
            seen.add(url)
            pages.append({"url": url, "title": (context or {}).get("title")})
    return pages


# Taking and assigning


def take(tenant: Tenant, conversation_id: int, agent: User) -> Conversation:
    """Assign an unassigned conversation to ``agent``; refuse if someone has it.

    The conversation's row is locked before its assignee is read, so of two
    agents who take it at once, the second waits and is then refused.
    Capacity is checked by routing's :func:`assign_to`. Commits.
    """
    session = tenant.session
    _lock_for_write(session)
    conversation = session.scalar(
        tenant.select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update(of=Conversation)
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        session.rollback()
        raise NotFound(f"No conversation {conversation_id} in this workspace.")
    if conversation.assignee_id not in (None, agent.id):
        holder = session.get(User, conversation.assignee_id)
        session.rollback()
        raise Conflict(
            f"{holder.name if holder else 'Another agent'} has already taken "
            "this conversation.",
            code="already_assigned",
        )
    assign_to(session, conversation.id, agent.id, by=agent)
    return tenant.get(Conversation, conversation_id)


def assign(tenant: Tenant, conversation_id: int, agent_id: int, by: User) -> None:
    """Give a conversation to an agent of this workspace (capacity holds)."""
    tenant.get(Conversation, conversation_id)
    tenant.get(User, agent_id)
    assign_to(tenant.session, conversation_id, agent_id, by=by)


def _lock_for_write(session: Session) -> None:
    """On SQLite, take the database's write lock before reading anything.

    pysqlite opens a transaction at the first write only; a write that
    changes nothing makes the reads that follow see the newest data and
    keeps other writers out until commit.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE workspaces SET id = id WHERE id IS NULL"))


# Reopen and snooze


def reopen(tenant: Tenant, conversation_id: int, by: User) -> Conversation:
    """Open a closed or snoozed conversation again. Commits."""
    session = tenant.session
    conversation = tenant.get(Conversation, conversation_id)
    if conversation.status in _OPEN:
        raise Conflict("This conversation is already open.", code="already_open")
    conversation.status = ConversationStatus.OPEN
    conversation.closed_at = None
    session.execute(delete(Snooze).where(Snooze.conversation_id == conversation.id))
    append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        body=f"{by.name} reopened the conversation.",
    )
    _audit(tenant, by, "conversation.reopen", conversation.id)
    queued = settle_reopened(session, conversation.id)
    session.commit()
    if queued:
        assign_next(session, conversation.team_id)
    return conversation


def snooze(
    tenant: Tenant,
    conversation_id: int,
    until: datetime,
    by: User,
    now: datetime | None = None,
) -> Conversation:
    """Hide a conversation until ``until`` or the visitor's next message."""
    now = now or utcnow()
    if until.tzinfo is None:
        raise ValidationError("Give the snooze time with its time zone.")
    if not now < until <= now + MAX_SNOOZE:
        raise ValidationError(
            "Choose a time in the future, at most 90 days away.", code="invalid_until"
        )
    session = tenant.session
    conversation = tenant.get(Conversation, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("Reopen this conversation before snoozing it.", code="closed")
    conversation.status = ConversationStatus.SNOOZED
    existing = session.get(Snooze, conversation.id)
    if existing is None:
        tenant.add(
            Snooze(conversation_id=conversation.id, until=until, by_user_id=by.id)
        )
    else:
        existing.until, existing.by_user_id = until, by.id
    append_message(
        session,
        conversation.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        body=f"{by.name} snoozed the conversation until "
        f"{until.astimezone(until.tzinfo):%Y-%m-%d %H:%M %Z}.",
    )
    _audit(tenant, by, "conversation.snooze", conversation.id, until=until.isoformat())
    session.commit()
    return conversation


def snoozed_until(tenant: Tenant, conversation_id: int) -> datetime | None:
    """Return when a snoozed conversation comes back, if it is snoozed."""
    row = tenant.session.scalar(
        tenant.select(Snooze).where(Snooze.conversation_id == conversation_id)
    )
    return row.until if row else None


def wake_due(session: Session, now: datetime | None = None) -> list[int]:
    """Reopen every snoozed conversation whose time has come. Commits.

    Safe in several processes at once: a conversation is reopened only by
    the UPDATE that still finds it snoozed.
    """
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Snooze.conversation_id).where(Snooze.until <= now).limit(500)
        )
    )
    woken = []
    waiting: set[int] = set()
    for conversation_id in due:
        changed = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == ConversationStatus.SNOOZED,
            )
            .values(status=ConversationStatus.OPEN)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        session.execute(delete(Snooze).where(Snooze.conversation_id == conversation_id))
        if changed:
            append_message(
                session,
                conversation_id,
                author_kind=AuthorKind.SYSTEM,
                author_id=None,
                body="The snooze ended; the conversation is open again.",
            )
            events.conversation_touched(session, conversation_id)
            woken.append(conversation_id)
            if settle_reopened(session, conversation_id, now=now):
                waiting.add(session.get(Conversation, conversation_id).team_id)
        session.commit()
    for team_id in waiting:
        assign_next(session, team_id, now=now)
    if woken:
        logger.info("Woke snoozed conversations %s", woken)
    return woken


def _audit(tenant: Tenant, by: User, action: str, conversation_id: int, **details):
    audit.record(
        tenant.session,
        tenant.workspace_id,
        actor=("user", by.id),
        action=action,
        obj=("conversation", conversation_id),
        **details,
    )


# Tags


def normalise_tag(name: object) -> str:
    """Return a tag name trimmed and lower-cased, or raise ValidationError."""
    if not isinstance(name, str):
        raise ValidationError("A tag is text.", code="invalid_tag")
    cleaned = " ".join(name.split()).lower()
    if not 0 < len(cleaned) <= MAX_TAG:
        raise ValidationError(
            f"A tag is 1 to {MAX_TAG} characters long.", code="invalid_tag"
        )
    return cleaned


def add_tag(tenant: Tenant, conversation_id: int, name: object) -> Tag:
    """Put a tag on a conversation, creating the tag if new. Commits."""
    cleaned = normalise_tag(name)
    conversation = tenant.get(Conversation, conversation_id)
    session = tenant.session
    tag = session.scalar(tenant.select(Tag).where(Tag.name == cleaned))
    if tag is None:
        tag = tenant.add(Tag(name=cleaned))
        session.flush()
    linked = session.get(ConversationTag, (conversation.id, tag.id))
    if linked is None:
        session.add(ConversationTag(conversation_id=conversation.id, tag_id=tag.id))
    events.conversation_touched(session, conversation.id)
    session.commit()
    return tag


def remove_tag(tenant: Tenant, conversation_id: int, tag_id: int) -> None:
    """Take a tag off a conversation. Commits."""
    conversation = tenant.get(Conversation, conversation_id)
    tag = tenant.get(Tag, tag_id)
    tenant.session.execute(
        delete(ConversationTag).where(
            ConversationTag.conversation_id == conversation.id,
            ConversationTag.tag_id == tag.id,
        )
    )
    events.conversation_touched(tenant.session, conversation.id)
    tenant.session.commit()


def tags_by_conversation(
    tenant: Tenant, conversation_ids: list[int]
) -> dict[int, list[str]]:
    """Return the tag names of each conversation, in one query."""
    if not conversation_ids:
        return {}
    rows = tenant.session.execute(
        select(ConversationTag.conversation_id, Tag.name)
        .join(Tag, Tag.id == ConversationTag.tag_id)
        .where(
            Tag.workspace_id == tenant.workspace_id,
            ConversationTag.conversation_id.in_(conversation_ids),
        )
        .order_by(Tag.name)
    )
    found: dict[int, list[str]] = defaultdict(list)
    for conversation_id, name in rows:
        found[conversation_id].append(name)
    return dict(found)


def tags_of(tenant: Tenant, conversation_id: int) -> list[Tag]:
    """Return the tags on one conversation, by name."""
    return list(
        tenant.session.scalars(
            tenant.select(Tag)
            .join(ConversationTag, ConversationTag.tag_id == Tag.id)
            .where(ConversationTag.conversation_id == conversation_id)
            .order_by(Tag.name)
        )
    )


# Canned replies


def canned_replies(tenant: Tenant) -> list[CannedReply]:
    """Return the workspace's canned replies, by shortcut."""
    return list(
        tenant.session.scalars(
            tenant.select(CannedReply).order_by(CannedReply.shortcut)
        )
    )


def add_canned_reply(tenant: Tenant, shortcut: object, body: object) -> CannedReply:
    """Create a canned reply; shortcuts are unique per workspace. Commits."""
    name = str(shortcut or "").strip().lstrip("/").lower()
    if not _SHORTCUT.match(name) or len(name) > MAX_SHORTCUT:
        raise ValidationError(
            f"A shortcut is 1 to {MAX_SHORTCUT} lower-case letters, digits, "
            "hyphens or underscores.",
            code="invalid_shortcut",
        )
    text_body = str(body or "").strip()
    if not 0 < len(text_body) <= MAX_CANNED_BODY:
        raise ValidationError(
            f"A canned reply is 1 to {MAX_CANNED_BODY} characters.",
            code="invalid_body",
        )
    session = tenant.session
    if session.scalar(tenant.select(CannedReply).where(CannedReply.shortcut == name)):
        raise Conflict(f"The shortcut /{name} is taken.", code="shortcut_taken")
    reply = tenant.add(CannedReply(shortcut=name, body=text_body))
    session.commit()
    return reply


def delete_canned_reply(tenant: Tenant, reply_id: int) -> None:
    """Delete one of the workspace's canned replies. Commits."""
    tenant.session.delete(tenant.get(CannedReply, reply_id))
    tenant.session.commit()
