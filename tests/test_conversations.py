"""Messages are numbered, idempotent and cleaned; closing sends a transcript."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.domain import console
from app.domain.conversations import (
    agent_send,
    close_conversation,
    messages_after,
    post_message,
    visitor_send,
)
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import (
    AuditEvent,
    AuthorKind,
    Conversation,
    ConversationStatus,
    Message,
    User,
    Workspace,
)
from tests.support.statements import sent_with_mode, statements


def test_sequence_numbers_count_up_from_one(make):
    """Each conversation numbers its messages 1, 2, 3 on its own."""
    first, second = make.conversation(), make.conversation()
    seqs = [make.message(first).seq for _ in range(3)]
    assert seqs == [1, 2, 3]
    assert make.message(second).seq == 1


def test_retry_with_same_client_id_stores_once(make):
    """A retried send returns the first message and stores nothing new."""
    conversation = make.conversation()
    kwargs = dict(
        author_kind=AuthorKind.VISITOR,
        author_id=conversation.visitor_id,
        body="Where is my order?",
        client_msg_id="c-1",
    )
    first, created = post_message(db.session, conversation.id, **kwargs)
    again, created_again = post_message(db.session, conversation.id, **kwargs)
    assert created and not created_again
    assert again.id == first.id and again.seq == first.seq == 1
    assert make.message(conversation).seq == 2  # the retry used no number
    assert db.session.query(Message).count() == 2


def test_same_client_id_from_another_author_is_a_new_message(make):
    """Client ids are unique per author, not across authors."""
    conversation = make.conversation()
    agent = make.agent()
    make.message(conversation, client_msg_id="same")
    reply = make.message(
        conversation, kind=AuthorKind.AGENT, author_id=agent.id, client_msg_id="same"
    )
    assert reply.seq == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "empty_body"),
        ("  \n ", "empty_body"),
        ("x" * 5001, "body_too_long"),
        (42, "invalid_body"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_stored(make, body, code):
    """Empty, oversized or non-text bodies raise a coded error and store nothing."""
    conversation = make.conversation()
    with pytest.raises(ValidationError) as raised:
        make.message(conversation, body=body)
    assert raised.value.code == code
    assert db.session.query(Message).count() == 0
    db.session.refresh(conversation)
    assert conversation.last_seq == 0


def test_control_characters_are_stripped(make):
    """Control characters go; newlines and tabs stay."""
    message = make.message(make.conversation(), body="a\x00b\x1b[31m\r\nc\td\x7f")
    assert message.body == "ab[31m\nc\td"


def test_messages_after_leaves_out_notes_for_visitors(make):
    """Catch-up for a visitor never includes internal notes."""
    conversation = make.conversation()
    agent = make.agent()
    make.message(conversation, "hi")
    make.message(conversation, "secret", kind=AuthorKind.NOTE, author_id=agent.id)
    make.message(conversation, "hello", kind=AuthorKind.AGENT, author_id=agent.id)
    visitor_view = messages_after(db.session, conversation.id, 0, include_notes=False)
    agent_view = messages_after(db.session, conversation.id, 1, include_notes=True)
    assert [m.body for m in visitor_view] == ["hi", "hello"]
    assert [m.seq for m in agent_view] == [2, 3]


def test_first_response_is_stamped_once(make):
    """The first agent reply sets first_response_at; later replies keep it."""
    conversation = make.conversation()
    agent = make.agent()
    first = make.message(conversation, kind=AuthorKind.AGENT, author_id=agent.id)
    make.message(conversation, kind=AuthorKind.AGENT, author_id=agent.id)
    db.session.refresh(conversation)
    assert conversation.first_response_at == first.created_at


def test_close_leaves_system_message_and_audit(make):
    """Closing stamps the time, adds a system message and an audit record."""
    agent = make.agent()
    conversation = make.conversation()
    close_conversation(
        Tenant(db.session, agent.workspace_id), conversation.id, by=agent
    )
    db.session.refresh(conversation)
    assert conversation.status == ConversationStatus.CLOSED
    assert conversation.closed_at is not None
    last = messages_after(db.session, conversation.id, 0, include_notes=True)[-1]
    assert last.author_kind == AuthorKind.SYSTEM and agent.name in last.body
    event = db.session.query(AuditEvent).one()
    assert (event.action, event.object_id, event.actor_id) == (
        "conversation.close",
        conversation.id,
        agent.id,
    )
    with pytest.raises(Conflict):
        close_conversation(
            Tenant(db.session, agent.workspace_id), conversation.id, by=agent
        )


def test_tenant_cannot_reach_another_workspace(make):
    """A tenant scope treats another workspace's conversation as missing."""
    other = make.workspace()
    intruder = make.agent(other)
    conversation = make.conversation()
    with pytest.raises(NotFound):
        close_conversation(Tenant(db.session, other.id), conversation.id, by=intruder)
    db.session.refresh(conversation)
    assert conversation.status == ConversationStatus.OPEN


@pytest.mark.postgresql_only
def test_a_send_is_one_statement_on_postgresql(app, make):
    """Claim, retry check, insert and counters go to PostgreSQL as one call."""
    conversation = make.conversation()
    stored = []

    def send():
        stored.append(
            post_message(
                db.session,
                conversation.id,
                author_kind=AuthorKind.AGENT,
                author_id=None,
                body="On its way",
                client_msg_id="a-1",
            )
        )

    sent = statements(app, send)
    [(message, created)] = stored
    assert created and message.seq == 1
    assert len(sent) == 1 and "parley_append_message" in sent[0], sent
    db.session.expire_all()
    row = db.session.get(type(conversation), conversation.id)
    assert (row.last_seq, row.last_visible_seq) == (1, 1)
    assert row.first_response_at == message.created_at


def _stored(conversation_id):
    """The conversation's counters and messages as another connection sees them."""
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Conversation.last_seq, Conversation.last_visible_seq).where(
                Conversation.id == conversation_id
            )
        ).one()
        bodies = connection.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq)
        ).all()
    return tuple(row), bodies


def _sender(make, **conversation_fields):
    """An agent, a conversation of theirs, and a session with nothing begun."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace, **conversation_fields)
    me = SimpleNamespace(id=agent.id, name=agent.name)
    ids = SimpleNamespace(
        workspace=agent.workspace_id,
        conversation=conversation.id,
        visitor=conversation.visitor_id,
    )
    db.session.rollback()
    return me, ids, Tenant(db.session, ids.workspace)


@pytest.mark.postgresql_only
def test_a_send_with_nothing_else_to_change_commits_on_its_own(app, make):
    """With no transaction begun, a send is one call in autocommit: no BEGIN, COMMIT."""
    me, ids, tenant = _sender(make)

    def both_sides():
        visitor_send(
            db.session,
            tenant,
            ids.visitor,
            ids.conversation,
            body="Hello?",
            client_msg_id="v-1",
        )
        agent_send(tenant, me, ids.conversation, body="Hi!", client_msg_id="a-1")

    sent = sent_with_mode(app, both_sides)
    assert [("parley_append_message" in s.statement, s.alone) for s in sent] == [
        (True, True),
        (True, True),
    ], sent
    assert _stored(ids.conversation) == ((2, 2), ["Hello?", "Hi!"])


def test_refused_sends_claim_and_store_nothing(make):
    """Closed, another visitor's, another workspace's: an error, and no number used."""
    me, ids, tenant = _sender(make, status=ConversationStatus.CLOSED)
    stranger = make.visitor(tenant.session.get(Workspace, ids.workspace))
    outsider = make.agent(make.workspace())
    outsider = SimpleNamespace(
        id=outsider.id, name=outsider.name, workspace_id=outsider.workspace_id
    )
    db.session.rollback()

    def visitor(visitor_id):
        return visitor_send(
            db.session,
            tenant,
            visitor_id,
            ids.conversation,
            body="Anyone?",
            client_msg_id="v-1",
        )

    with pytest.raises(Conflict) as closed:
        visitor(ids.visitor)
    assert closed.value.code == "conversation_closed"
    with pytest.raises(NotFound):
        visitor(stranger.id)
    with pytest.raises(Conflict) as reply:
        agent_send(tenant, me, ids.conversation, body="Hi", client_msg_id="a-1")
    assert reply.value.code == "conversation_closed"
    with pytest.raises(NotFound):
        agent_send(
            Tenant(db.session, outsider.workspace_id),
            outsider,
            ids.conversation,
            body="Hi",
            client_msg_id="a-2",
            note=True,
        )
    assert _stored(ids.conversation) == ((0, 0), [])
    # A note is still allowed on a closed conversation, with the next number.
    note, created = agent_send(
        tenant, me, ids.conversation, body="Called back", client_msg_id="n-1", note=True
    )
    assert created and note.seq == 1
    assert _stored(ids.conversation) == ((1, 0), ["Called back"])


@pytest.mark.postgresql_only
def test_a_visitor_writing_to_a_snoozed_conversation_reopens_it_in_one_transaction(
    app, make
):
    """The send alone refuses a snoozed row; the transaction that reopens it stores."""
    me, ids, tenant = _sender(make)
    agent = tenant.session.get(User, me.id)
    console.snooze(tenant, ids.conversation, utcnow() + timedelta(days=1), by=agent)
    db.session.rollback()
    (seq, _visible), bodies = _stored(ids.conversation)

    def send():
        return visitor_send(
            db.session,
            tenant,
            ids.visitor,
            ids.conversation,
            body="Still there?",
            client_msg_id="v-1",
        )

    sent = sent_with_mode(app, send)
    calls = [s.alone for s in sent if "parley_append_message" in s.statement]
    assert calls == [True, False], sent
    # The refused call used no number: the message takes the next one.
    assert _stored(ids.conversation) == ((seq + 1,) * 2, [*bodies, "Still there?"])
    assert (
        db.session.get(Conversation, ids.conversation).status == ConversationStatus.OPEN
    )
