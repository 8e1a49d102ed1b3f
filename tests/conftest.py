"""Fixtures: a fresh database per test, private Redis, SMTP, apps and factories.

The backend comes from PARLEY_TEST_DATABASE: ``sqlite`` (default) or
``postgresql``; ``make test`` runs the suite once with each. Tests marked
``postgresql_only`` are left out of the SQLite run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app import create_app, migrate
from app.extensions import jobs, presence
from config import Settings
from tests.support.factories import Factory
from tests.support.services import PostgresDatabase, RedisServer, SmtpServer

BACKEND = os.environ.get("PARLEY_TEST_DATABASE", "sqlite").strip().lower()
assert BACKEND in ("sqlite", "postgresql"), f"Unknown PARLEY_TEST_DATABASE {BACKEND!r}"


# aiosmtpd logs every connection at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def pytest_report_header(config):
    return f"parley: database backend {BACKEND}"


def pytest_collection_modifyitems(config, items):
    if BACKEND == "postgresql":
        return
    kept, left = [], []
    for item in items:
        (left if item.get_closest_marker("postgresql_only") else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """A migrated database that each test starts from."""
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("template") / "parley.db"
        migrated(f"sqlite:///{path}")
        yield path
        return
    database = PostgresDatabase()
    migrated(database.url)
    yield database
    database.drop()


@pytest.fixture
def database_url(_template, tmp_path) -> str:
    """URL of a freshly migrated, empty database for this test."""
    if BACKEND == "sqlite":
        path = tmp_path / "parley.db"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"
        return
    _template.truncate_all(migrate.head_revision())
    yield _template.url
    _template.truncate_all(migrate.head_revision())


@pytest.fixture
def fresh_postgres():
    """An empty PostgreSQL database (not migrated), dropped after the test."""
    database = PostgresDatabase(prefix="parley_fresh")
    yield database
    database.drop()


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the whole session."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server) -> str:
    """URL of the private Redis, emptied for this test."""
    if redis_server.process.poll() is not None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback that keeps what it receives."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url, tmp_path, smtp_server) -> Settings:
    """Settings of an embedded-mode app on this test's database."""
    return Settings(
        env="development",
        secret_key="test-secret-key-of-at-least-thirty-two-characters",
        database_url=database_url,
        redis_url=None,
        async_mode="threading",
        public_url="http://testserver",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        instance_path=tmp_path / "instance",
        testing=True,
    )


@pytest.fixture
def app(settings):
    """The Flask app, with an app context pushed."""
    application = create_app(settings)
    with application.app_context():
        yield application
        application.extensions["database"].session.remove()
        presence.stop()
        jobs.stop()
    application.extensions["database"].engine.dispose()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def make(app) -> Factory:
    """Factories for workspaces, users, visitors and conversations."""
    return Factory(app.extensions["database"].session)


@pytest.fixture
def agent_client(app, make):
    """A test client signed in as an agent of a fresh workspace."""
    agent = make.agent()
    test_client = app.test_client()
    with test_client.session_transaction() as session:
        session["_user_id"] = str(agent.id)
        session["_fresh"] = True
    page = test_client.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    # Sent on every request, as the console's own forms and scripts do.
    test_client.environ_base["HTTP_X_CSRFTOKEN"] = token
    test_client.user = agent
    return test_client


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from Debian's package, for a module's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield chromium
        chromium.close()
