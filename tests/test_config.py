"""Settings come from the environment and bad ones stop the start clearly."""

import re

import pytest

from config import VARIABLES, ConfigError, Settings
from tests.conftest import ROOT

PROD = {
    "PARLEY_ENV": "production",
    "SECRET_KEY": "x" * 40,
    "DATABASE_URL": "postgres://u@db.internal/parley",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def test_defaults_are_embedded_mode(tmp_path):
    """With nothing set, Parley runs on SQLite in the instance folder, no Redis."""
    settings = Settings.from_env({}, instance_path=tmp_path)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'parley.db'}"
    assert settings.redis_url is None and settings.jobs_inline
    assert settings.async_mode == "eventlet"
    assert settings.log_format == "text"


def test_development_secret_is_kept_across_starts(tmp_path):
    """A generated development secret survives a restart, so sessions do too."""
    first = Settings.from_env({}, instance_path=tmp_path).secret_key
    second = Settings.from_env({}, instance_path=tmp_path).secret_key
    assert first == second and len(first) >= 32


def test_database_url_implies_production(tmp_path):
    """Setting DATABASE_URL switches to production mode with JSON logs."""
    env = {k: v for k, v in PROD.items() if k != "PARLEY_ENV"}
    settings = Settings.from_env(env, instance_path=tmp_path)
    assert settings.production
    assert settings.database_url == "postgresql+psycopg2://u@db.internal/parley"
    assert settings.log_format == "json"
    assert settings.session_cookie_secure is True
    assert not settings.jobs_inline


def test_sends_in_flight_follows_the_pool_unless_set(tmp_path):
    """Admitted sends default to the kept connections; either can be set."""
    settings = Settings.from_env(PROD, instance_path=tmp_path)
    assert (settings.db_pool_size, settings.sends_in_flight) == (20, 20)
    settings = Settings.from_env({**PROD, "DB_POOL_SIZE": "8"}, instance_path=tmp_path)
    assert (settings.db_pool_size, settings.sends_in_flight) == (8, 8)
    env = {**PROD, "DB_POOL_SIZE": "8", "SENDS_IN_FLIGHT": "0"}
    settings = Settings.from_env(env, instance_path=tmp_path)
    assert (settings.db_pool_size, settings.sends_in_flight) == (8, 0)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_names_a_missing_variable(missing, tmp_path):
    """A missing required setting stops the start with the variable's name."""
    env = {k: v for k, v in PROD.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env, instance_path=tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://cache"),
        ("ASYNC_MODE", "asyncio"),
        ("SMTP_STARTTLS", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("SECRET_KEY", "short"),
        ("DB_POOL_SIZE", "0"),
        ("SENDS_IN_FLIGHT", "-1"),
    ],
)
def test_malformed_setting_is_named(name, value, tmp_path):
    """A malformed value is refused with a sentence that names the variable."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**PROD, name: value}, instance_path=tmp_path)


def test_readme_documents_every_variable():
    """The README's table lists exactly the variables the code reads."""
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, re.MULTILINE))
    assert documented == {variable.name for variable in VARIABLES}


def test_code_reads_no_undocumented_variable():
    """Every environment variable named in config/ is in VARIABLES."""
    source = (ROOT / "config" / "__init__.py").read_text()
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    assert read <= {variable.name for variable in VARIABLES}


def test_instance_folder_comes_from_parley_instance(tmp_path):
    """PARLEY_INSTANCE moves the SQLite database and the development secret."""
    folder = tmp_path / "elsewhere"
    settings = Settings.from_env({"PARLEY_INSTANCE": str(folder)})
    assert settings.instance_path == folder
    assert settings.database_url == f"sqlite:///{folder / 'parley.db'}"
    assert (folder / "secret_key").read_text() == settings.secret_key
