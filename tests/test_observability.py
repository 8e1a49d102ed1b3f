"""Logs and error tracking: JSON or text lines with request ids; Sentry by DSN."""

from __future__ import annotations

import json
import logging
import re
import warnings

import pytest

from app import create_app, logs
from app.observability import EVENTLET_WARNING, init_sentry
from tests.support.sentry import SentryIngest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=EVENTLET_WARNING)
    import sentry_sdk

logger = logging.getLogger(__name__)

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    tests\.test_observability "
    r"\[(?P<request_id>[^\]]+)\] Conversation 7 viewed$",
    re.MULTILINE,
)


def _add_logging_route(app) -> None:
    """Give ``app`` a route that logs one line with an extra field."""

    @app.get("/test/log")
    def log_something():
        logger.info("Conversation %s viewed", 7, extra={"conversation_id": 7})
        return "ok"


@pytest.fixture
def parley_handler():
    """Remove the handler a test installed with logs.configure afterwards."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "parley", False):
            root.removeHandler(handler)


@pytest.fixture
def sentry_off():
    """Leave no Sentry client behind for the next test."""
    yield
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


def test_production_lines_are_json_with_request_id(app, capsys, parley_handler):
    """In JSON format each line is an object with the request id and extras."""
    logs.configure(app.config["SETTINGS"].but(log_format="json"))
    _add_logging_route(app)
    client = app.test_client()
    capsys.readouterr()

    given = client.get("/test/log", headers={"X-Request-ID": "proxy-req-42"})
    generated = client.get("/test/log")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    ours = [entry for entry in lines if entry["logger"] == __name__]
    assert [entry["request_id"] for entry in ours] == [
        "proxy-req-42",
        generated.headers["X-Request-ID"],
    ]
    assert given.headers["X-Request-ID"] == "proxy-req-42"
    assert ours[0]["message"] == "Conversation 7 viewed"
    assert ours[0]["level"] == "INFO"
    assert ours[0]["conversation_id"] == 7
    assert re.fullmatch(r"[0-9a-f]{16}", ours[1]["request_id"])


def test_development_lines_are_text_with_request_id(app, capsys, parley_handler):
    """In text format each line is readable and shows the request id."""
    logs.configure(app.config["SETTINGS"].but(log_format="text"))
    _add_logging_route(app)
    capsys.readouterr()

    app.test_client().get("/test/log", headers={"X-Request-ID": "proxy-req-43"})
    logger.info("Conversation %s viewed", 7)
    output = capsys.readouterr().err

    assert [m["request_id"] for m in TEXT_LINE.finditer(output)] == [
        "proxy-req-43",
        "-",
    ]
    assert not output.lstrip().startswith("{")


def test_sentry_stays_off_without_dsn(settings, sentry_off):
    """Without SENTRY_DSN, sentry-sdk is not started."""
    assert init_sentry(settings) is False
    assert not sentry_sdk.get_client().is_active()


def test_sentry_starts_with_its_integrations(settings, sentry_off):
    """With SENTRY_DSN, sentry-sdk starts with the Flask, RQ and Redis integrations."""
    assert init_sentry(settings.but(sentry_dsn="http://public@127.0.0.1:9/1"))
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert {"flask", "rq", "redis"} <= set(client.integrations)
    assert client.options["environment"] == "development"
    assert not client.should_send_default_pii()


def test_request_error_reaches_sentry(settings, sentry_off):
    """An unhandled error in a request is reported to the DSN's server."""
    ingest = SentryIngest().start()
    app = create_app(settings.but(sentry_dsn=ingest.dsn))

    @app.get("/test/boom")
    def boom():
        raise RuntimeError("Boom for Sentry")

    try:
        with app.app_context():
            response = app.test_client().get(
                "/test/boom", headers={"Accept": "application/json"}
            )
        sentry_sdk.flush(timeout=10)
        events = ingest.wait_for_events(1)
    finally:
        ingest.stop()
        app.extensions["database"].engine.dispose()

    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal"
    values = [
        exception
        for event in events
        for exception in event.get("exception", {}).get("values", [])
    ]
    assert {"type": "RuntimeError", "value": "Boom for Sentry"}.items() <= (
        values[-1].items()
    )
