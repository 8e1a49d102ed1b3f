"""Health and readiness checks."""

from sqlalchemy import text

from app.extensions import db


def test_healthz_answers(client):
    """/healthz answers 200 JSON while the process runs."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_when_migrated(client):
    """/readyz is 200 on a migrated database in embedded mode."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["redis"] == {"ok": True, "mode": "embedded"}


def test_readyz_reports_pending_migrations(client):
    """/readyz is 503 and says what to run when migrations are behind."""
    db.session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "parley db upgrade" in response.json["checks"]["database"]["error"]


def test_readyz_checks_redis(settings, redis_server):
    """/readyz is 503 when the configured Redis does not answer."""
    from app import create_app

    app = create_app(settings.but(redis_url=redis_server.url))
    with app.app_context():
        first = app.test_client().get("/readyz")
        assert first.status_code == 200, first.json
        redis_server.stop()
        try:
            response = app.test_client().get("/readyz")
        finally:
            redis_server.start()
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["ok"] is False


def test_request_id_is_echoed(client):
    """Each response carries the request id, the proxy's when it sent one."""
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc123"}).headers[
            "X-Request-ID"
        ]
        == "abc123"
    )
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 16


def test_errors_are_json_for_api_clients(client):
    """An unknown URL gives the one JSON error shape to a JSON client."""
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_errors_are_html_for_browsers(client):
    """An unknown URL gives an HTML page to a browser."""
    response = client.get("/nowhere", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert b"<h1>404</h1>" in response.data
