"""The routing admin pages: admins only, CSRF-checked, one workspace at a time."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, RoutingRule, RuleKind, Strategy, Team, User


def signed_in(app, user):
    """Return a test client signed in as ``user``, sending the CSRF header."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    send = client.open

    def open_as_user(*args, **kwargs):
        """Send a request as this client's own user."""
        # The app fixture's context is shared by every request of the test,
        # and Flask-Login and Flask-WTF cache the user and the CSRF token in
        # it; forget them so that each request reads its own client's session.
        for name in ("_login_user", "csrf_token", "csrf_valid"):
            g.pop(name, None)
        return send(*args, **kwargs)

    client.open = open_as_user
    page = client.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    client.user = user
    return client


@pytest.fixture
def admin(app, make):
    """A client signed in as an admin of a fresh workspace."""
    return signed_in(app, make.admin(make.workspace("Acme")))


@pytest.fixture
def outsider(app, make):
    """A client signed in as the admin of another workspace."""
    return signed_in(app, make.admin(make.workspace("Globex")))


def workspace_of(client):
    """Return the workspace id of the client's user."""
    return client.user.workspace_id


def rules_in(workspace_id: int) -> list[tuple[str, str]]:
    """Return (kind, pattern) of a workspace's rules in order."""
    rows = db.session.execute(
        select(RoutingRule.kind, RoutingRule.pattern)
        .where(RoutingRule.workspace_id == workspace_id)
        .order_by(RoutingRule.position)
        .execution_options(populate_existing=True)
    )
    return [(kind.value, pattern) for kind, pattern in rows]


ADMIN_PAGES = ["/admin/", "/admin/teams", "/admin/agents", "/admin/rules"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agents_are_refused_admin_pages(agent_client, path):
    """An agent who is not an admin gets 403 on every admin page."""
    response = agent_client.get(path)
    assert response.status_code == 403
    assert "Only admins" in response.get_data(as_text=True)


def test_agents_cannot_change_routing(agent_client, make):
    """An agent's POST is refused and changes nothing."""
    response = agent_client.post("/admin/teams", data={"name": "Mine"})
    assert response.status_code == 403
    assert db.session.scalar(select(Team).where(Team.name == "Mine")) is None


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    """Without a session the admin pages redirect to the sign-in page."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_forms_without_csrf_token_are_refused(app, make):
    """A POST without the CSRF token is refused with 400."""
    client = app.test_client()
    user = make.admin()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    response = client.post("/admin/teams", data={"name": "Forged"})
    assert response.status_code == 400
    assert db.session.scalar(select(Team).where(Team.name == "Forged")) is None


def test_admin_creates_a_team(admin):
    """Creating a team stores it with its strategy, audits it, and opens its page."""
    response = admin.post(
        "/admin/teams", data={"name": " Support ", "strategy": "round_robin"}
    )
    team = db.session.scalar(select(Team).where(Team.name == "Support"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/teams/{team.id}"
    assert team.strategy == Strategy.ROUND_ROBIN and team.is_default
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "team.create")
    )
    assert (event.actor_id, event.object_id) == (admin.user.id, team.id)
    assert "Support" in admin.get("/admin/teams").get_data(as_text=True)


def test_duplicate_team_name_is_refused(admin):
    """A second team with the same name is refused with a message."""
    admin.post("/admin/teams", data={"name": "Sales", "strategy": "least_busy"})
    response = admin.post("/admin/teams", data={"name": "Sales", "strategy": "manual"})
    assert response.status_code == 400
    assert "already a team called Sales" in response.get_data(as_text=True)
    count = db.session.scalars(select(Team).where(Team.name == "Sales")).all()
    assert len(count) == 1


def team_form(**overrides) -> dict:
    """Return a complete team settings form."""
    data = {
        "name": "Support",
        "strategy": "least_busy",
        "offline_grace_seconds": "120",
        "timezone": "UTC",
        "holidays": "",
        **{day: "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    data.update(overrides)
    return data


def test_admin_sets_strategy_requeue_and_business_hours(admin, make):
    """The team form saves strategy, requeue, grace period and hours."""
    team = make.team(db.session.get(User, admin.user.id).workspace, name="Support")
    response = admin.post(
        f"/admin/teams/{team.id}",
        data=team_form(
            strategy="manual",
            requeue_on_offline="y",
            offline_grace_seconds="300",
            timezone="Europe/Paris",
            mon="09:00-12:00, 13:00-17:00",
            holidays="2026-12-25",
        ),
    )
    assert response.status_code == 302
    db.session.refresh(team)
    assert team.strategy == Strategy.MANUAL
    assert team.requeue_on_offline and team.offline_grace_seconds == 300
    assert team.business_hours == {
        "timezone": "Europe/Paris",
        "weekly": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]},
        "holidays": ["2026-12-25"],
    }
    page = admin.get(f"/admin/teams/{team.id}").get_data(as_text=True)
    assert 'value="09:00-12:00, 13:00-17:00"' in page


def test_bad_business_hours_are_explained_and_not_saved(admin, make):
    """Hours that end before they start are refused with a sentence."""
    team = make.team(db.session.get(User, admin.user.id).workspace, name="Support")
    response = admin.post(f"/admin/teams/{team.id}", data=team_form(tue="17:00-09:00"))
    assert response.status_code == 400
    assert "ends before it starts" in response.get_data(as_text=True)
    db.session.refresh(team)
    assert team.business_hours == {}


def test_only_one_default_team(admin, make):
    """Making a team the default takes the mark from the previous one."""
    workspace = db.session.get(User, admin.user.id).workspace
    first, second = make.team(workspace, name="One"), make.team(workspace, name="Two")
    first.is_default = True
    db.session.commit()
    admin.post(f"/admin/teams/{second.id}", data=team_form(name="Two", is_default="y"))
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.is_default, second.is_default) == (False, True)


def test_admin_sets_members_and_capacities(admin, make):
    """Members are set by checkboxes; capacities by the agents page."""
    workspace = db.session.get(User, admin.user.id).workspace
    team = make.team(workspace, name="Support")
    ann, bob = make.agent(workspace, name="Ann"), make.agent(workspace, name="Bob")

    response = admin.post(f"/admin/teams/{team.id}/members", data={"members": [ann.id]})
    assert response.status_code == 302
    db.session.expire(team)
    assert [member.id for member in team.members] == [ann.id]

    assert (
        admin.post(
            f"/admin/agents/{bob.id}/capacity", data={"capacity": "3"}
        ).status_code
        == 302
    )
    bad = admin.post(f"/admin/agents/{bob.id}/capacity", data={"capacity": "-1"})
    assert bad.status_code == 400
    db.session.refresh(bob)
    assert bob.capacity == 3
    assert "Bob" in admin.get("/admin/agents").get_data(as_text=True)


def test_admin_adds_moves_and_deletes_rules(admin, make):
    """Rules are added at the end, moved one place, and deleted."""
    workspace = db.session.get(User, admin.user.id).workspace
    team = make.team(workspace, name="Sales")
    for kind, key, pattern in (
        ("page_url", "", "*/pricing*"),
        ("language", "", "de"),
        ("attribute", "plan", "enterprise"),
    ):
        response = admin.post(
            "/admin/rules",
            data={"kind": kind, "key": key, "pattern": pattern, "team_id": team.id},
        )
        assert response.status_code == 302
    assert rules_in(workspace.id) == [
        ("page_url", "*/pricing*"),
        ("language", "de"),
        ("attribute", "enterprise"),
    ]

    ids = db.session.scalars(
        select(RoutingRule.id).order_by(RoutingRule.position)
    ).all()
    admin.post(f"/admin/rules/{ids[2]}/move", data={"direction": "up"})
    admin.post(f"/admin/rules/{ids[0]}/delete")
    assert rules_in(workspace.id) == [("attribute", "enterprise"), ("language", "de")]
    positions = db.session.scalars(
        select(RoutingRule.position).order_by(RoutingRule.position)
    ).all()
    assert positions == [1, 2]


def test_attribute_rule_needs_a_key(admin, make):
    """An attribute rule without the attribute's name is refused."""
    team = make.team(db.session.get(User, admin.user.id).workspace, name="Sales")
    response = admin.post(
        "/admin/rules",
        data={"kind": "attribute", "key": "", "pattern": "x", "team_id": team.id},
    )
    assert response.status_code == 400
    assert "which pre-chat question or attribute" in response.get_data(as_text=True)
    assert rules_in(workspace_of(admin)) == []


def test_rule_tester_says_which_team_a_visitor_reaches(admin, make):
    """The tester names the team and rule a made-up visitor reaches."""
    workspace = db.session.get(User, admin.user.id).workspace
    general, sales = (
        make.team(workspace, name="General"),
        make.team(workspace, name="Sales"),
    )
    general.is_default = True
    db.session.add(
        RoutingRule(
            workspace_id=workspace.id,
            position=1,
            team_id=sales.id,
            kind=RuleKind.PRECHAT,
            key="topic",
            pattern="pric*",
        )
    )
    db.session.commit()

    hit = admin.get(
        "/admin/rules",
        query_string={"url": "https://a.test/", "prechat": "topic = Pricing"},
    ).get_data(as_text=True)
    miss = admin.get("/admin/rules", query_string={"url": "https://a.test/"})

    assert "reaches <strong>Sales</strong>" in hit and "by rule 1" in hit
    assert "reaches <strong>General</strong>" in miss.get_data(as_text=True)
    assert "as the default team" in miss.get_data(as_text=True)


def test_outsiders_see_and_change_nothing_of_another_workspace(admin, outsider, make):
    """Another workspace's admin gets 404 for every object and sees no names."""
    workspace = db.session.get(User, admin.user.id).workspace
    team = make.team(workspace, name="Secret Team")
    agent = make.agent(workspace, name="Secret Agent")
    admin.post(
        "/admin/rules",
        data={"kind": "page_url", "pattern": "*", "team_id": team.id},
    )
    rule_id = db.session.scalar(select(RoutingRule.id))

    assert outsider.get(f"/admin/teams/{team.id}").status_code == 404
    for path, data in (
        (f"/admin/teams/{team.id}", team_form(name="Taken over")),
        (f"/admin/teams/{team.id}/members", {"members": [agent.id]}),
        (f"/admin/agents/{agent.id}/capacity", {"capacity": "0"}),
        (f"/admin/rules/{rule_id}/delete", {}),
        (f"/admin/rules/{rule_id}/move", {"direction": "down"}),
    ):
        assert outsider.post(path, data=data).status_code == 404, path

    own = make.team(db.session.get(User, outsider.user.id).workspace, name="Own")
    smuggled = outsider.post(
        f"/admin/teams/{own.id}/members", data={"members": [agent.id]}
    )
    assert smuggled.status_code == 404
    foreign_rule = outsider.post(
        "/admin/rules", data={"kind": "page_url", "pattern": "*", "team_id": team.id}
    )
    assert foreign_rule.status_code == 400

    for path in ADMIN_PAGES[1:]:
        page = outsider.get(path).get_data(as_text=True)
        assert "Secret" not in page, path
    db.session.refresh(team)
    db.session.refresh(agent)
    assert (team.name, agent.capacity) == ("Secret Team", 5)
    assert [m.id for m in db.session.get(Team, own.id).members] == []
    assert len(rules_in(workspace.id)) == 1 and rules_in(workspace_of(outsider)) == []
