"""Closing a conversation emails its transcript (embedded mode: in-process job)."""

from app.extensions import db
from app.jobs.transcripts import send_transcript
from app.models import AuthorKind, Conversation
from tests.support.services import wait_until


def _conversation_with_talk(make, email="vi@example.com"):
    agent = make.agent(name="Alex Agent")
    visitor = make.visitor(email=email, name="Vi")
    conversation = make.conversation(visitor=visitor)
    make.message(conversation, "My parcel <b>never</b> came")
    make.message(
        conversation, "Checking the courier", kind=AuthorKind.NOTE, author_id=agent.id
    )
    make.message(
        conversation, "It arrives tomorrow.", kind=AuthorKind.AGENT, author_id=agent.id
    )
    return agent, conversation


def _sent_at(conversation_id: int):
    """Read the conversation's transcript_sent_at afresh from the database."""
    db.session.expire_all()
    return db.session.get(Conversation, conversation_id).transcript_sent_at


def test_close_from_console_emails_transcript(agent_client, make, smtp_server):
    """Closing in the console sends text and HTML to the visitor, without notes."""
    make._workspace = agent_client.user.workspace
    _, conversation = _conversation_with_talk(make)
    response = agent_client.post(f"/console/conversations/{conversation.id}/close")
    assert response.status_code == 302

    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "vi@example.com"
    assert (
        mail["Subject"] == f"Your conversation with {agent_client.user.workspace.name}"
    )
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "My parcel <b>never</b> came" in text
    assert "It arrives tomorrow." in text and "Alex Agent" in text
    assert "My parcel &lt;b&gt;never&lt;/b&gt; came" in html
    assert "Checking the courier" not in text + html

    wait_until(lambda: _sent_at(conversation.id), what="transcript_sent_at")


def test_transcript_is_sent_once(app, make, smtp_server):
    """Running the job again after success sends nothing more."""
    agent, conversation = _conversation_with_talk(make)
    from app.domain.conversations import close_conversation
    from app.domain.tenancy import Tenant

    close_conversation(
        Tenant(db.session, agent.workspace_id), conversation.id, by=agent
    )
    smtp_server.wait_for(1)
    # The mail arrives a moment before the job records that it was sent.
    wait_until(lambda: _sent_at(conversation.id), what="transcript_sent_at")
    assert send_transcript(conversation_id=conversation.id) is False
    assert len(smtp_server.messages) == 1


def test_no_email_no_transcript(app, make, smtp_server):
    """A visitor who gave no email gets nothing, and the job says so."""
    agent, conversation = _conversation_with_talk(make, email=None)
    conversation.status = conversation.status.CLOSED
    db.session.commit()
    assert send_transcript(conversation_id=conversation.id) is False
    assert smtp_server.messages == []


def test_other_workspace_cannot_close(agent_client, make):
    """An agent cannot close another workspace's conversation by URL."""
    foreign = make.conversation(make.workspace())
    response = agent_client.post(
        f"/console/conversations/{foreign.id}/close",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert agent_client.get(f"/console/conversations/{foreign.id}").status_code == 404
