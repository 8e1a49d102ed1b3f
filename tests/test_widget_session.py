"""POST /api/widget/session: tokens, origins and tenancy."""

from app.extensions import db
from app.models import Visitor


def _open(client, key, token=None, origin="https://shop.example", **extra):
    body = {"key": key, **extra}
    if token:
        body["token"] = token
    return client.post("/api/widget/session", json=body, headers={"Origin": origin})


def test_new_visitor_gets_a_token(client, make):
    """A first visit creates an anonymous visitor and returns a token for it."""
    workspace = make.workspace(greeting="Hello there", color="#123456")
    response = _open(
        client,
        workspace.widget_key,
        page={"url": "https://shop.example/cart", "title": "Cart"},
    )
    assert response.status_code == 200
    body = response.json
    assert body["token"] and body["conversations"] == []
    assert body["workspace"] == {
        "name": workspace.name,
        "greeting": "Hello there",
        "color": "#123456",
        "language": None,
        "prechat": None,
        "availability": {"online": False, "reason": "no_agents"},
    }
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    visitor = db.session.query(Visitor).one()
    assert visitor.public_id == body["visitor"]["id"]
    assert visitor.last_page["url"] == "https://shop.example/cart"


def test_token_brings_back_the_same_visitor(client, make):
    """A returning browser keeps its visitor and sees its open conversations."""
    workspace = make.workspace()
    first = _open(client, workspace.widget_key).json
    visitor = db.session.query(Visitor).one()
    conversation = make.conversation(workspace, visitor=visitor)
    again = _open(client, workspace.widget_key, token=first["token"]).json
    assert again["visitor"]["id"] == first["visitor"]["id"]
    assert [c["id"] for c in again["conversations"]] == [conversation.id]
    assert db.session.query(Visitor).count() == 1


def test_token_of_another_workspace_is_not_joined(client, make):
    """A token from workspace A never reaches a visitor's history in workspace B."""
    a, b = make.workspace(), make.workspace()
    token_a = _open(client, a.widget_key).json["token"]
    in_b = _open(client, b.widget_key, token=token_a).json
    visitors = db.session.query(Visitor).order_by(Visitor.id).all()
    assert len(visitors) == 2
    assert {v.workspace_id for v in visitors} == {a.id, b.id}
    assert in_b["visitor"]["id"] == visitors[1].public_id


def test_forged_token_gives_a_new_visitor(client, make):
    """A tampered token is ignored: the bearer becomes a new visitor."""
    workspace = make.workspace()
    token = _open(client, workspace.widget_key).json["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    again = _open(client, workspace.widget_key, token=forged).json
    assert db.session.query(Visitor).count() == 2
    assert again["token"] != token


def test_foreign_origin_is_refused(client, make):
    """A page outside the allowed origins gets 403 origin_forbidden."""
    workspace = make.workspace(allowed_origins=["https://shop.example"])
    assert _open(client, workspace.widget_key).status_code == 200
    refused = _open(client, workspace.widget_key, origin="https://evil.example")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "origin_forbidden"


def test_unknown_key_and_bad_bodies(client, make):
    """Unknown keys are 404 and malformed bodies 400, in the one error shape."""
    assert _open(client, "wk_nope").json["error"]["code"] == "unknown_key"
    bad = client.post("/api/widget/session", data="nonsense", content_type="text/plain")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid"
    workspace = make.workspace()
    wrong_page = _open(client, workspace.widget_key, page="not an object")
    assert wrong_page.status_code == 400


def test_preflight_is_answered(client):
    """The browser's CORS preflight gets 204 with the allowed method."""
    response = client.options(
        "/api/widget/session",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert response.status_code == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_sessions_are_rate_limited(client, make):
    """More than 30 sessions a minute from one address get 429."""
    workspace = make.workspace()
    codes = [_open(client, workspace.widget_key).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30
    assert codes[30] == 429


def test_verified_identity_follows_the_visitor_across_browsers(client, make):
    """A valid identity hash joins a second browser to the same visitor's history."""
    from app.domain.visitors import identity_hash, identity_secret

    workspace = make.workspace()
    secret = identity_secret(db.session, workspace)
    who = {"id": "user-42", "name": "Ada", "hash": identity_hash(secret, "user-42")}
    first = _open(client, workspace.widget_key, identity=who).json
    visitor = db.session.query(Visitor).filter_by(external_id="user-42").one()
    conversation = make.conversation(workspace, visitor=visitor)
    other_browser = _open(client, workspace.widget_key, identity=who).json
    assert other_browser["visitor"]["id"] == first["visitor"]["id"]
    assert [c["id"] for c in other_browser["conversations"]] == [conversation.id]
    assert visitor.name == "Ada"


def test_unverified_identity_never_joins_a_known_history(client, make):
    """A wrong or missing hash keeps the visitor anonymous and apart."""
    from app.domain.visitors import identity_hash, identity_secret

    workspace = make.workspace()
    secret = identity_secret(db.session, workspace)
    real = {"id": "user-7", "hash": identity_hash(secret, "user-7")}
    _open(client, workspace.widget_key, identity=real)
    forged = _open(
        client, workspace.widget_key, identity={"id": "user-7", "hash": "0" * 64}
    )
    assert forged.status_code == 200
    visitors = db.session.query(Visitor).order_by(Visitor.id).all()
    assert [v.external_id for v in visitors] == ["user-7", None]
    assert forged.json["visitor"]["id"] == visitors[1].public_id


def test_enforced_identity_refuses_unverified(client, make):
    """With enforcement on, an unverifiable identity gets 403 identity_invalid."""
    workspace = make.workspace(enforce_identity=True)
    response = _open(client, workspace.widget_key, identity={"id": "user-9"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "identity_invalid"
    assert db.session.query(Visitor).filter_by(external_id="user-9").count() == 0


def test_attributes_are_stored_and_checked(client, make):
    """setAttributes values are kept flat; nested values are refused."""
    workspace = make.workspace()
    ok = _open(client, workspace.widget_key, attributes={"plan": "pro", "seats": 5})
    assert ok.status_code == 200
    assert db.session.query(Visitor).one().attributes == {"plan": "pro", "seats": 5}
    nested = _open(client, workspace.widget_key, attributes={"x": {"y": 1}})
    assert nested.status_code == 400


def test_identity_secret_command(app, make):
    """`parley identity-secret` prints the secret that verifies identify hashes."""
    from app.domain.visitors import identify, identity_hash

    workspace = make.workspace(name="Acme")
    result = app.test_cli_runner().invoke(
        args=["identity-secret", "--workspace", "Acme"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    again = app.test_cli_runner().invoke(
        args=["identity-secret", "--workspace", "Acme"]
    )
    assert again.output.strip() == secret and len(secret) == 64
    visitor = make.visitor(workspace)
    claimed = {"id": "u1", "hash": identity_hash(secret, "u1")}
    assert identify(db.session, workspace, visitor, claimed).external_id == "u1"
    missing = app.test_cli_runner().invoke(
        args=["identity-secret", "--workspace", "Nope"]
    )
    assert missing.exit_code != 0 and "No workspace" in missing.output
