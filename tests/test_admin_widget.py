"""The admin's widget page: admins only, one workspace, served to the widget."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.domain import widget_settings
from app.domain.visitors import identify, identity_hash, identity_secret
from app.errors import Forbidden, ValidationError
from app.extensions import db
from app.models import AuditEvent, Workspace
from tests.conftest import ROOT
from tests.support.console import signed_in

SHOP = "https://shop.example"


@pytest.fixture
def acme(make) -> Workspace:
    """The admin's workspace, with a greeting already set."""
    return make.workspace("Acme", greeting="Hello from Acme", color="#111111")


@pytest.fixture
def admin(app, make, acme):
    """A client signed in as an admin of Acme."""
    return signed_in(app, make.admin(acme))


@pytest.fixture
def outsider(app, make):
    """A client signed in as the admin of another workspace."""
    return signed_in(app, make.admin(make.workspace("Globex", greeting="Globex hi")))


def widget_form(**overrides) -> dict[str, str]:
    """Return a complete widget settings form."""
    data = {
        "greeting": "Hello from Acme",
        "color": "#111111",
        "language": "",
        "allowed_origins": "",
        "ask_name": "off",
        "ask_email": "off",
        "ask_topic": "off",
        "topic_options": "",
    }
    data.update(overrides)
    return data


def settings_of(workspace: Workspace) -> dict:
    """Return a workspace's settings as the database holds them now."""
    db.session.refresh(workspace)
    return dict(workspace.settings or {})


def open_session(client, workspace: Workspace, origin: str = SHOP, **extra):
    """Open a visitor session through the real widget endpoint."""
    return client.post(
        "/api/widget/session",
        json={"key": workspace.widget_key, **extra},
        headers={"Origin": origin},
    )


def audits(workspace: Workspace, action: str) -> list[AuditEvent]:
    """Return a workspace's audit events of one action, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.workspace_id == workspace.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/widget"),
        ("post", "/admin/widget"),
        ("post", "/admin/widget/identity-secret"),
    ],
)
def test_agents_are_refused(agent_client, method, path):
    """An agent who is not an admin gets 403, and nothing changes."""
    workspace = agent_client.user.workspace
    before = settings_of(workspace)
    response = getattr(agent_client, method)(
        path, data=widget_form(greeting="Mine", confirm="y")
    )
    assert response.status_code == 403
    assert "Only admins" in response.get_data(as_text=True)
    assert settings_of(workspace) == before


def test_anonymous_visitors_are_sent_to_sign_in(client):
    """Without a session the widget page redirects to the sign-in page."""
    response = client.get("/admin/widget")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_forms_without_csrf_token_are_refused(app, make, acme):
    """A POST without the CSRF token is refused with 400 and changes nothing."""
    client = app.test_client()
    user = make.admin(acme)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    response = client.post("/admin/widget", data=widget_form(greeting="Forged"))
    assert response.status_code == 400
    secret = client.post("/admin/widget/identity-secret", data={"confirm": "y"})
    assert secret.status_code == 400
    assert settings_of(acme) == {"greeting": "Hello from Acme", "color": "#111111"}


def test_page_shows_the_snippet_and_the_widget_key(admin, acme):
    """The embed tag carries the PUBLIC_URL and the workspace's real key."""
    page = admin.get("/admin/widget").get_data(as_text=True)
    snippet = (
        "&lt;script async src=&#34;http://testserver/widget.js&#34; "
        f"data-key=&#34;{acme.widget_key}&#34;&gt;&lt;/script&gt;"
    )
    assert snippet in page
    assert f"<code>{acme.widget_key}</code>" in page
    assert 'href="/admin/widget" aria-current="page">Widget</a>' in page
    assert 'value="Hello from Acme"' in page


def test_an_admin_sees_and_changes_only_their_own_workspace(outsider, acme):
    """Globex's admin sees Globex's widget, and their posts never touch Acme."""
    globex = outsider.user.workspace
    page = outsider.get("/admin/widget").get_data(as_text=True)
    assert globex.widget_key in page and acme.widget_key not in page
    assert "Hello from Acme" not in page
    identity_secret(db.session, acme)
    before = settings_of(acme)

    response = outsider.post(
        "/admin/widget",
        data=widget_form(greeting="Taken over", workspace_id=str(acme.id)),
    )
    assert response.status_code == 302
    outsider.post("/admin/widget/identity-secret", data={"confirm": "y"})
    assert settings_of(acme) == before
    assert settings_of(globex)["greeting"] == "Taken over"
    assert settings_of(globex)["identity_secret"] != before["identity_secret"]
    assert audits(acme, "widget.update") == []


def test_each_setting_is_saved_and_served_to_the_widget(admin, client, acme):
    """After a save, a new visitor session returns every new value."""
    response = admin.post(
        "/admin/widget",
        data=widget_form(
            greeting="  Hi there,\n we answer fast ",
            color="#A1B2C3",
            language="de",
            allowed_origins=f"{SHOP}\nhttp://localhost:8000",
            ask_name="required",
            ask_email="optional",
            ask_topic="required",
            topic_options="billing = Billing questions\nsales\n\n",
        ),
    )
    assert response.status_code == 302
    assert "Widget settings saved." in admin.get("/admin/widget").get_data(as_text=True)

    served = open_session(client, acme)
    assert served.status_code == 200
    workspace = served.json["workspace"]
    assert workspace["greeting"] == "Hi there, we answer fast"
    assert workspace["color"] == "#a1b2c3"
    assert workspace["language"] == "de"
    assert workspace["prechat"] == {
        "fields": [
            {"name": "name", "required": True},
            {"name": "email", "required": False},
            {
                "name": "topic",
                "required": True,
                "options": [
                    {"value": "billing", "label": "Billing questions"},
                    {"value": "sales", "label": "sales"},
                ],
            },
        ]
    }
    assert open_session(client, acme, origin="http://localhost:8000").status_code == 200
    foreign = open_session(client, acme, origin="https://evil.example")
    assert foreign.status_code == 403
    assert foreign.json["error"]["code"] == "origin_forbidden"


def test_clearing_settings_serves_the_widget_defaults(admin, client, acme):
    """An empty greeting, automatic language and no questions are served as null."""
    admin.post("/admin/widget", data=widget_form(ask_name="required"))
    response = admin.post("/admin/widget", data=widget_form(greeting=""))
    assert response.status_code == 302
    workspace = open_session(client, acme).json["workspace"]
    assert workspace["greeting"] is None
    assert workspace["language"] is None
    assert workspace["prechat"] is None


def test_origins_are_normalised(admin, acme):
    """Origins are stored as browsers send them, once each, and shown so."""
    admin.post(
        "/admin/widget",
        data=widget_form(
            allowed_origins="HTTPS://Shop.Example:443/\n\n"
            "https://shop.example\n  http://LOCALHOST:8000  \nhttps://Bücher.example"
        ),
    )
    assert settings_of(acme)["allowed_origins"] == [
        SHOP,
        "http://localhost:8000",
        "https://xn--bcher-kva.example",
    ]
    page = admin.get("/admin/widget").get_data(as_text=True)
    assert f"{SHOP}\nhttp://localhost:8000\nhttps://xn--bcher-kva.example" in page


@pytest.mark.parametrize(
    ("overrides", "explained"),
    [
        ({"color": "blue"}, "is not a colour"),
        ({"color": "#12345g"}, "is not a colour"),
        ({"color": "#fff"}, "is not a colour"),
        ({"greeting": "x" * 301}, "keep it to 300"),
        (
            {"allowed_origins": "shop.example"},
            "Line 1: shop.example has no scheme; write it as https://shop.example.",
        ),
        (
            {"allowed_origins": f"{SHOP}\nhttps://shop.example/cart"},
            "Line 2: https://shop.example/cart has a path",
        ),
        ({"allowed_origins": "https://*.example.com"}, "Line 1: https://*.example"),
        ({"allowed_origins": "ftp://files.example"}, "must start with https://"),
        ({"allowed_origins": "https://shop.example:99999"}, "has a bad port"),
        (
            {"ask_topic": "required", "topic_options": "= Billing"},
            "Line 1: the value before = is missing.",
        ),
        (
            {"ask_topic": "optional", "topic_options": "a = A\nb\na = Again"},
            "Line 3: a is already on line 1",
        ),
        ({"topic_options": "billing = Billing"}, "Ask for the topic"),
        ({"language": "es"}, "Not a valid choice"),
        ({"ask_name": "always"}, "Not a valid choice"),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(
    admin, client, acme, overrides, explained
):
    """A bad field re-renders the form with its error; no other field is saved."""
    response = admin.post(
        "/admin/widget", data=widget_form(**{"greeting": "Changed too", **overrides})
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert explained in page.replace("&#39;", "'")
    assert 'class="error" role="alert"' in page
    assert settings_of(acme) == {"greeting": "Hello from Acme", "color": "#111111"}
    assert open_session(client, acme).json["workspace"]["greeting"] == (
        "Hello from Acme"
    )
    assert audits(acme, "widget.update") == []


def test_every_bad_origin_line_is_named(admin):
    """Each bad line gets its own sentence, and good lines stay in the form."""
    response = admin.post(
        "/admin/widget",
        data=widget_form(allowed_origins=f"{SHOP}\nexample.org\n\nhttp://a..b"),
    )
    page = response.get_data(as_text=True)
    assert "Line 2: example.org has no scheme" in page
    assert "Line 4: http://a..b does not have a valid host name." in page
    assert f"{SHOP}\nexample.org" in page


def test_warning_shows_while_any_origin_may_embed(admin):
    """With no allowed origins both pages warn; with one, neither does."""
    warning = "any website can embed your chat and open conversations as your visitors"
    page = admin.get("/admin/widget").get_data(as_text=True)
    teams = " ".join(admin.get("/admin/teams").get_data(as_text=True).split())
    assert warning in page
    assert "Any website can embed your chat</strong> and open conversations" in teams

    admin.post("/admin/widget", data=widget_form(allowed_origins=SHOP))
    assert warning not in admin.get("/admin/widget").get_data(as_text=True)
    teams = admin.get("/admin/teams").get_data(as_text=True)
    assert "Any website can embed your chat" not in teams


def test_saving_records_an_audit_event(admin, acme):
    """A save records who changed which settings to what; a no-op records nothing."""
    admin.post("/admin/widget", data=widget_form(color="#222222", allowed_origins=SHOP))
    [event] = audits(acme, "widget.update")
    assert (event.actor_kind, event.actor_id) == ("user", admin.user.id)
    assert (event.object_type, event.object_id) == ("workspace", acme.id)
    assert event.data == {"changed": {"color": "#222222", "allowed_origins": [SHOP]}}

    again = admin.post(
        "/admin/widget", data=widget_form(color="#222222", allowed_origins=SHOP)
    )
    assert again.status_code == 302
    assert len(audits(acme, "widget.update")) == 1


def test_settings_the_page_does_not_edit_are_kept(app, make):
    """The secret, enforcement, wait target and custom questions survive a save."""
    custom = {"name": "order", "label": "Order number"}
    workspace = make.workspace(
        enforce_identity=True,
        wait_target_seconds=90,
        identity_secret="s" * 64,
        prechat={"fields": [{"name": "email", "label": "Work email"}, custom]},
    )
    client = signed_in(app, make.admin(workspace))
    page = client.get("/admin/widget").get_data(as_text=True)
    assert "set outside this page and kept as they are: order." in page
    assert re.search(r'<option selected value="optional">', page)

    client.post("/admin/widget", data=widget_form(ask_email="required"))
    settings = settings_of(workspace)
    assert settings["enforce_identity"] is True
    assert settings["wait_target_seconds"] == 90
    assert settings["identity_secret"] == "s" * 64
    assert settings["prechat"] == {
        "fields": [{"name": "email", "required": True, "label": "Work email"}, custom]
    }


def test_secret_is_masked_until_revealed(admin, acme):
    """The page holds the secret only when asked to reveal it, and is not cached."""
    secret = identity_secret(db.session, acme)
    masked = admin.get("/admin/widget")
    assert secret not in masked.get_data(as_text=True)
    assert 'href="/admin/widget?reveal=1#identity"' in masked.get_data(as_text=True)
    assert masked.headers["Cache-Control"] == "no-store"
    revealed = admin.get("/admin/widget?reveal=1")
    assert f'<code class="secret" id="secret">{secret}</code>' in revealed.get_data(
        as_text=True
    )


def test_regenerating_needs_confirmation(admin, acme):
    """Without the confirming tick the secret stays and the page says why."""
    secret = identity_secret(db.session, acme)
    response = admin.post("/admin/widget/identity-secret", data={})
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert settings_of(acme)["identity_secret"] == secret
    assert audits(acme, "widget.regenerate_secret") == []


def test_regenerated_secret_replaces_the_old_one(admin, make, acme):
    """A new secret differs; old hashes stop verifying and new ones verify."""
    old = identity_secret(db.session, acme)
    response = admin.post("/admin/widget/identity-secret", data={"confirm": "y"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/widget?reveal=1#identity"
    new = settings_of(acme)["identity_secret"]
    assert new != old and len(new) == 64
    assert new in admin.get("/admin/widget?reveal=1").get_data(as_text=True)

    anonymous = identify(
        db.session,
        acme,
        make.visitor(acme),
        {"id": "u1", "hash": identity_hash(old, "u1")},
    )
    assert anonymous.external_id is None
    verified = identify(
        db.session,
        acme,
        make.visitor(acme),
        {"id": "u1", "hash": identity_hash(new, "u1")},
    )
    assert verified.external_id == "u1"

    [event] = audits(acme, "widget.regenerate_secret")
    assert event.actor_id == admin.user.id and event.data == {"replaced": True}
    assert old not in str(event.data) and new not in str(event.data)


def test_old_hash_is_refused_where_verification_is_enforced(admin, make, acme):
    """With enforcement on, a hash made with the replaced secret is refused."""
    old = identity_secret(db.session, acme)
    acme.settings = {**acme.settings, "enforce_identity": True}
    db.session.commit()
    admin.post("/admin/widget/identity-secret", data={"confirm": "y"})
    with pytest.raises(Forbidden):
        identify(
            db.session,
            acme,
            make.visitor(acme),
            {"id": "u2", "hash": identity_hash(old, "u2")},
        )


def test_a_workspace_without_a_secret_can_create_one(admin, acme):
    """With no secret yet, one button makes it without a confirming tick."""
    page = admin.get("/admin/widget").get_data(as_text=True)
    assert "no identity secret yet" in page and "Create a secret" in page
    response = admin.post("/admin/widget/identity-secret", data={})
    assert response.status_code == 302
    assert len(settings_of(acme)["identity_secret"]) == 64
    [event] = audits(acme, "widget.regenerate_secret")
    assert event.data == {"replaced": False}


def test_languages_are_those_the_widget_ships():
    """The language choices match the widget's LANGUAGES in widget/src/i18n.js."""
    source = (ROOT / "widget" / "src" / "i18n.js").read_text()
    shipped = re.search(r"export const LANGUAGES = \{([^}]*)\}", source).group(1)
    assert [name.strip() for name in shipped.split(",")] == list(
        widget_settings.LANGUAGES
    )


@pytest.mark.parametrize(
    ("typed", "origin"),
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example:443/", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("https://shop.example:8443", "https://shop.example:8443"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://Bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_written_as_browsers_send_them(typed, origin):
    """normalise_origin gives the form of a browser's Origin header."""
    assert widget_settings.normalise_origin(typed) == origin


@pytest.mark.parametrize(
    "typed",
    [
        "shop.example",
        "https://",
        "https://user:pw@shop.example",
        "https://shop.example/?q=1",
        "https://shop.example#top",
        "https://shop.example:0",
        "https://-shop.example",
        "https://shop.example.",
        "https://1.2.3",
        "javascript:alert(1)",
    ],
)
def test_what_is_not_an_origin_is_refused(typed):
    """normalise_origin refuses anything a browser would not send as an Origin."""
    with pytest.raises(ValidationError):
        widget_settings.normalise_origin(typed)
