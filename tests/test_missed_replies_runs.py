"""When missed-reply runs are queued: one per busy conversation, none early."""

from datetime import timedelta

import pytest

from app.db import utcnow
from app.extensions import db, jobs
from app.jobs.missed_replies import email_missed_replies
from app.models import AuthorKind, Message

DELAY = 60


@pytest.fixture
def settings(settings):
    return settings.but(missed_reply_email_delay_seconds=DELAY)


@pytest.fixture
def queued(monkeypatch):
    """Record the runs asked for instead of starting them (a unit-level fake)."""
    asked = []
    monkeypatch.setattr(
        jobs, "enqueue", lambda name, delay=0, **ids: asked.append((name, delay, ids))
    )
    return asked


def _reply(make, conversation, agent, body):
    return make.message(conversation, body, kind=AuthorKind.AGENT, author_id=agent.id)


def test_replies_in_a_row_queue_one_run(app, make, queued):
    """Three quick replies queue one run; another conversation gets its own."""
    agent = make.agent()
    conversation = make.conversation(agent.workspace)
    other = make.conversation(agent.workspace)
    for body in ("One", "Two", "Three"):
        _reply(make, conversation, agent, body)
    _reply(make, other, agent, "Elsewhere")
    make.message(conversation, "A visitor's message queues nothing")
    assert queued == [
        ("email_missed_replies", DELAY, {"conversation_id": conversation.id}),
        ("email_missed_replies", DELAY, {"conversation_id": other.id}),
    ]


def test_a_run_before_the_delay_emails_nothing_and_comes_back(
    app, make, queued, smtp_server
):
    """A reply younger than the delay is left for a run when it is due."""
    agent = make.agent()
    visitor = make.visitor(email="vi@example.com")
    conversation = make.conversation(visitor=visitor)
    reply = _reply(make, conversation, agent, "Soon")
    queued.clear()

    assert email_missed_replies(conversation_id=conversation.id) is False
    [(name, wait, ids)] = queued
    assert ids == {"conversation_id": conversation.id}
    assert DELAY - 5 < wait <= DELAY
    assert smtp_server.messages == []

    # Once it is old enough, the run emails it.
    stored = db.session.get(Message, reply.id)
    stored.created_at = utcnow() - timedelta(seconds=DELAY + 1)
    db.session.commit()
    assert email_missed_replies(conversation_id=conversation.id) is True
    [mail] = smtp_server.wait_for(1)
    assert "Soon" in mail.get_body(("plain",)).get_content()


def test_an_online_visitor_gets_a_later_run_for_younger_replies(
    app, make, queued, smtp_server
):
    """Seen live now; a reply still too young is checked again when due."""
    from app.extensions import presence

    agent = make.agent()
    conversation = make.conversation(visitor=make.visitor(email="vi@example.com"))
    old = _reply(make, conversation, agent, "Earlier")
    db.session.get(Message, old.id).created_at = utcnow() - timedelta(seconds=600)
    db.session.commit()
    _reply(make, conversation, agent, "Just now")
    presence.connected(
        "visitor", conversation.workspace_id, conversation.visitor_id, "a-socket"
    )
    queued.clear()

    assert email_missed_replies(conversation_id=conversation.id) is False
    [(_name, wait, _ids)] = queued
    assert DELAY - 5 < wait <= DELAY
    assert smtp_server.messages == []
