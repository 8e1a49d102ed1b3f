"""The schema is made by migrations alone, and matches the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from app import migrate
from app.models import Base


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_migrated_database_matches_models(database_url):
    """An autogenerate comparison of a freshly migrated database finds nothing."""
    assert _differences(database_url) == []


def test_migrations_from_empty_postgres(fresh_postgres):
    """Migrating an empty PostgreSQL database gives exactly the models."""
    engine = create_engine(fresh_postgres.url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
    finally:
        engine.dispose()
    assert _differences(fresh_postgres.url) == []


def test_downgrade_to_empty_and_back(tmp_path):
    """Every migration can be undone and redone."""
    engine = create_engine(f"sqlite:///{tmp_path / 'round.db'}")
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        with engine.connect() as connection:
            assert migrate.current_revision(connection) is None
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert _differences(f"sqlite:///{tmp_path / 'round.db'}") == []


def _message_function_arguments(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(
            text(
                "SELECT pg_get_function_identity_arguments(oid) FROM pg_proc"
                " WHERE proname = 'parley_append_message'"
            )
        ).all()


def test_message_function_migrations_undo_and_redo_on_postgres(fresh_postgres):
    """Each version of the message function replaces the one before, both ways."""
    engine = create_engine(fresh_postgres.url)
    try:
        migrate.upgrade(engine)
        [newest] = _message_function_arguments(engine)
        assert newest.endswith("p_statuses character varying[]")
        migrate.downgrade(engine, "0007")
        [previous] = _message_function_arguments(engine)
        assert previous.endswith("p_answering boolean")
        migrate.downgrade(engine, "0005")
        assert _message_function_arguments(engine) == []
        migrate.upgrade(engine)
        assert _message_function_arguments(engine) == [newest]
    finally:
        engine.dispose()
