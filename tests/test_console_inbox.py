"""The inbox: views, live counts, order, waits, pages and their queries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.db import utcnow
from app.domain import console
from app.domain.tenancy import Tenant
from app.models import AuthorKind, Conversation, ConversationStatus, Message
from app.routing.assignment import assign_to
from tests.support.console import JSON, signed_in
from tests.support.statements import statements


def _age(make, conversation, minutes: int) -> None:
    """Make a conversation's messages look ``minutes`` old."""
    then = utcnow() - timedelta(minutes=minutes)
    make.session.execute(
        update(Message)
        .where(Message.conversation_id == conversation.id)
        .values(created_at=then)
    )
    make.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(created_at=then)
    )
    make.session.commit()


def test_views_sort_conversations_and_count_them(app, make):
    """Each view holds the right conversations and the counts agree."""
    agent = make.agent()
    other = make.agent(agent.workspace)
    team = make.team(agent.workspace, members=[agent])
    unassigned = make.conversation(agent.workspace)
    mine = make.conversation(agent.workspace)
    theirs = make.conversation(agent.workspace)
    teams = make.conversation(agent.workspace, team_id=team.id)
    snoozed = make.conversation(agent.workspace, status=ConversationStatus.SNOOZED)
    closed = make.conversation(agent.workspace, status=ConversationStatus.CLOSED)
    assign_to(make.session, mine.id, agent.id)
    assign_to(make.session, theirs.id, other.id)
    assign_to(make.session, teams.id, other.id)

    tenant = Tenant(make.session, agent.workspace_id)
    ids = {
        view: {row.id for row in console.inbox_page(tenant, agent.id, view).rows}
        for view in console.VIEWS
    }
    assert ids == {
        "unassigned": {unassigned.id},
        "mine": {mine.id},
        "teams": {teams.id},
        "open": {unassigned.id, mine.id, theirs.id, teams.id},
        "snoozed": {snoozed.id},
        "closed": {closed.id},
    }
    counts = console.view_counts(tenant, agent.id)
    assert {view: counts[view] for view in console.VIEWS} == {
        view: len(found) for view, found in ids.items()
    }


def test_longest_waiting_first_and_flagged_past_target(app, make):
    """Rows put the longest unanswered wait first and flag waits past target."""
    agent = make.agent()
    workspace = agent.workspace
    workspace.settings = {"wait_target_seconds": 600}
    make.session.commit()
    recent = make.conversation(workspace, make.visitor(workspace, name="Recent"))
    make.message(recent, "Just now")
    old = make.conversation(workspace, make.visitor(workspace, name="Olga"))
    make.message(old, "Hello?")
    _age(make, old, 30)
    answered = make.conversation(workspace, make.visitor(workspace, name="Ann"))
    make.message(answered, "Question")
    _age(make, answered, 60)
    make.message(answered, "Answer", kind=AuthorKind.AGENT, author_id=agent.id)

    client = signed_in(app, agent)
    rows = console.inbox_page(
        Tenant(make.session, workspace.id), agent.id, "unassigned"
    ).rows
    assert [row.visitor_name for row in rows] == ["Olga", "Recent", "Ann"]
    assert rows[2].waiting_since is None

    page = client.get("/console/?view=unassigned").get_data(as_text=True)
    olga = page[page.index("Olga") :]
    assert 'class="late"' in olga[: olga.index("</tr>")]
    recent_row = page[page.index("Recent") :]
    assert 'class="late"' not in recent_row[: recent_row.index("</tr>")]


def test_rows_show_last_message_assignee_and_tags(app, make):
    """A row shows the visitor, last message, assignee, team and tags."""
    agent = make.agent(name="Alex Agent")
    team = make.team(agent.workspace, members=[agent], name="Billing")
    visitor = make.visitor(agent.workspace, name="Vera", email="vera@example.com")
    conversation = make.conversation(agent.workspace, visitor, team_id=team.id)
    make.message(conversation, "My invoice is wrong")
    assign_to(make.session, conversation.id, agent.id)
    make.message(conversation, "Looking into it", AuthorKind.AGENT, agent.id)
    console.add_tag(
        Tenant(make.session, agent.workspace_id), conversation.id, "Billing"
    )

    client = signed_in(app, agent)
    rows = client.get("/console/inbox/rows?view=mine").get_data(as_text=True)
    for text in ("Vera", "vera@example.com", "Looking into it", "Alex Agent"):
        assert text in rows
    assert '<span class="tag">billing</span>' in rows
    assert '<span class="muted">Billing</span>' in rows


def test_counts_endpoint_gives_counts_unread_and_load(app, make):
    """The counts endpoint reports views, unread conversations and load."""
    agent = make.agent(capacity=5)
    first = make.conversation(agent.workspace)
    second = make.conversation(agent.workspace)
    assign_to(make.session, first.id, agent.id)
    assign_to(make.session, second.id, agent.id)
    make.message(first, "Are you there?")

    data = signed_in(app, agent).get("/console/inbox/counts", headers=JSON).json
    assert data["counts"]["mine"] == 2
    assert data["counts"]["unread"] == 1
    assert (data["load"], data["capacity"]) == (2, 5)
    page = signed_in(app, agent).get("/console/").get_data(as_text=True)
    assert "<span data-load>2</span> of <span data-capacity>5</span>" in page


def test_pages_of_fifty(app, make):
    """A view shows fifty rows a page and links to the next page."""
    agent = make.agent()
    for _ in range(console.PAGE_SIZE + 3):
        make.conversation(agent.workspace)
    tenant = Tenant(make.session, agent.workspace_id)
    first = console.inbox_page(tenant, agent.id, "open", 1)
    second = console.inbox_page(tenant, agent.id, "open", 2)
    assert (len(first.rows), first.more) == (console.PAGE_SIZE, True)
    assert (len(second.rows), second.more) == (3, False)
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    page = signed_in(app, agent).get("/console/?view=open").get_data(as_text=True)
    assert "/console/?view=open&amp;page=2" in page


def _fill(make, agent, how_many: int) -> None:
    team = make.team(agent.workspace, members=[agent])
    tenant = Tenant(make.session, agent.workspace_id)
    for number in range(how_many):
        visitor = make.visitor(agent.workspace, name=f"V{number}")
        conversation = make.conversation(agent.workspace, visitor, team_id=team.id)
        make.message(conversation, f"Question {number}")
        console.add_tag(tenant, conversation.id, f"tag{number % 3}")


def test_list_query_count_does_not_grow_with_page_size(app, make):
    """Listing 50 conversations takes as many queries as listing 5."""
    small, large = make.agent(), make.agent(make.workspace())
    _fill(make, small, 5)
    _fill(make, large, 50)
    counts = []
    for agent, size in ((small, 5), (large, 50)):
        tenant = Tenant(make.session, agent.workspace_id)
        make.session.expunge_all()
        listed: list[console.InboxPage] = []

        def list_teams(t=tenant, a=agent, out=listed):
            """List the agent's teams view."""
            out.append(console.inbox_page(t, a.id, "teams"))

        counts.append(len(statements(app, list_teams)))
        assert len(listed[0].rows) == size
        assert all(row.tags for row in listed[0].rows)
    assert counts[0] == counts[1]

    pages = []
    for agent in (small, large):
        client = signed_in(app, agent)

        def rows(c=client):
            """Fetch the agent's teams view."""
            c.get("/console/inbox/rows?view=teams")

        pages.append(len(statements(app, rows)))
    assert pages[0] == pages[1]


def test_unknown_view_is_a_clear_404(agent_client):
    """An unknown view name answers 404 with a sentence, as HTML or JSON."""
    page = agent_client.get("/console/?view=everything")
    assert page.status_code == 404
    assert "There is no inbox view" in page.get_data(as_text=True)
    rows = agent_client.get("/console/inbox/rows?view=nope", headers=JSON)
    assert rows.status_code == 404 and rows.json["error"]["code"] == "not_found"
    bad_page = agent_client.get("/console/?view=open&page=two", headers=JSON)
    assert bad_page.status_code == 400
