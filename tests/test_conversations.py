"""Messages are numbered, idempotent and cleaned; closing sends a transcript."""

import pytest

from app.domain.conversations import (
    close_conversation,
    messages_after,
    post_message,
)
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import AuditEvent, AuthorKind, ConversationStatus, Message
from tests.support.statements import statements


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
