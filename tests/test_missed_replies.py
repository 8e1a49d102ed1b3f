"""Replies a visitor missed are emailed once, only while they are away."""

import pytest

from app.extensions import db, presence
from app.jobs.missed_replies import email_missed_replies
from app.models import AuthorKind, Conversation


@pytest.fixture
def settings(settings):
    """No waiting before the email, so the test sees it."""
    return settings.but(missed_reply_email_delay_seconds=0)


def _talk(make, email="vi@example.com"):
    agent = make.agent(name="Alex Agent")
    visitor = make.visitor(email=email, name="Vi", last_page={})
    conversation = make.conversation(
        visitor=visitor, context={"url": "https://shop.example/help"}
    )
    make.message(conversation, "Is my order late?")
    return agent, conversation


def test_an_away_visitor_gets_the_reply_by_email(app, make, smtp_server):
    """An agent's reply to a visitor who is not online is emailed with a link back."""
    agent, conversation = _talk(make)
    make.message(
        conversation, "It ships <today>.", kind=AuthorKind.AGENT, author_id=agent.id
    )
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "vi@example.com"
    text = mail.get_body(("plain",)).get_content()
    assert "It ships <today>." in text and "Alex Agent" in text
    assert "https://shop.example/help" in text
    assert "It ships &lt;today&gt;." in mail.get_body(("html",)).get_content()

    db.session.expire_all()
    assert db.session.get(Conversation, conversation.id).emailed_seq == 2
    assert email_missed_replies(conversation_id=conversation.id) is False
    assert len(smtp_server.messages) == 1


def test_read_or_online_visitors_get_no_email(app, make, smtp_server):
    """Nothing is emailed for replies already read, nor to a visitor online now."""
    agent, conversation = _talk(make)
    conversation.visitor_read_seq = 5
    db.session.commit()
    make.message(
        conversation, "Read already", kind=AuthorKind.AGENT, author_id=agent.id
    )
    assert email_missed_replies(conversation_id=conversation.id) is False

    other = make.conversation(visitor=make.visitor(email="on@example.com"))
    presence.connected("visitor", other.workspace_id, other.visitor_id, "a-socket")
    make.message(other, "Live reply", kind=AuthorKind.AGENT, author_id=agent.id)
    assert email_missed_replies(conversation_id=other.id) is False
    assert smtp_server.messages == []


def test_no_email_address_no_email(app, make, smtp_server):
    """A visitor who left no email gets nothing."""
    agent, conversation = _talk(make, email=None)
    make.message(conversation, "Hello?", kind=AuthorKind.AGENT, author_id=agent.id)
    assert email_missed_replies(conversation_id=conversation.id) is False
    assert smtp_server.messages == []
