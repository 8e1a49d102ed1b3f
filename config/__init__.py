"""Parley's settings, read from environment variables alone.

Every variable is declared once in ``VARIABLES`` with its default and meaning;
the README's table is checked against that list by a test. Nothing is read at
import: call :func:`Settings.from_env`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

ASYNC_MODES = ("eventlet", "gevent")
LOG_FORMATS = ("text", "json")
ENVIRONMENTS = ("development", "production")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default and meaning."""

    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "PARLEY_ENV",
        "`production` when `DATABASE_URL` is set, else `development`",
        "`development` (embedded: SQLite, one process, jobs in-process) or "
        "`production` (PostgreSQL, Redis, RQ workers; strict checks).",
    ),
    Variable(
        "PARLEY_INSTANCE",
        "`instance`",
        "Folder for what one installation keeps locally: the embedded SQLite "
        "database, the generated development secret key and the demo's "
        "sign-ins. Relative paths start from the working directory.",
    ),
    Variable(
        "SECRET_KEY",
        "development: generated once into `instance/secret_key`",
        "Signs sessions, CSRF tokens and visitor tokens. Required in "
        "production, at least 32 characters.",
    ),
    Variable(
        "DATABASE_URL",
        "`sqlite:///instance/parley.db`",
        "SQLAlchemy URL of the database. `postgres://` and `postgresql://` "
        "both work. Required in production.",
    ),
    Variable(
        "REDIS_URL",
        "unset (embedded mode)",
        "Redis for Socket.IO rooms shared between web processes, presence, "
        "rate limits and the RQ job queue. Required in production.",
    ),
    Variable(
        "ASYNC_MODE",
        "`eventlet`",
        "Concurrency of the web process: `eventlet` or `gevent`.",
    ),
    Variable("HOST", "`127.0.0.1`", "Address the web process listens on."),
    Variable("PORT", "`5000`", "Port the web process listens on."),
    Variable(
        "PUBLIC_URL",
        "`http://HOST:PORT`",
        "Address visitors and agents reach Parley at; used in links, "
        "emails and the widget snippet.",
    ),
    Variable(
        "MAX_CONNECTIONS",
        "`20000`",
        "Most simultaneous connections one web process accepts.",
    ),
    Variable(
        "LOG_LEVEL", "`INFO`", "Lowest level logged: DEBUG, INFO, WARNING, ERROR."
    ),
    Variable(
        "LOG_FORMAT",
        "`text` in development, `json` in production",
        "`text` for readable lines, `json` for one JSON object per line.",
    ),
    Variable(
        "SENTRY_DSN",
        "unset",
        "When set, errors and slow transactions go to Sentry (Flask, RQ "
        "and Redis integrations).",
    ),
    Variable(
        "SENTRY_TRACES_SAMPLE_RATE",
        "`0`",
        "Share of requests traced for Sentry performance, 0 to 1.",
    ),
    Variable("SMTP_HOST", "`localhost`", "Mail server for transcripts."),
    Variable("SMTP_PORT", "`25`", "Port of the mail server."),
    Variable("SMTP_USERNAME", "unset", "Login for the mail server, if it needs one."),
    Variable("SMTP_PASSWORD", "unset", "Password for the mail server."),
    Variable(
        "SMTP_STARTTLS",
        "`false`",
        "`true` to upgrade the mail connection with STARTTLS.",
    ),
    Variable(
        "MAIL_FROM",
        "`Parley <parley@localhost>`",
        "Sender of the emails Parley sends.",
    ),
    Variable(
        "SESSION_COOKIE_SECURE",
        "`true` in production, else `false`",
        "Send the console's session cookie over HTTPS only.",
    ),
    Variable(
        "PRESENCE_GRACE_SECONDS",
        "`30`",
        "How long a visitor or agent stays online after their last connection "
        "closes, so that a reload is not an offline blip.",
    ),
    Variable(
        "PING_INTERVAL_SECONDS",
        "`25`",
        "How often the server pings each socket; lower it below a proxy's "
        "idle timeout if the proxy cuts quiet connections.",
    ),
    Variable(
        "PING_TIMEOUT_SECONDS",
        "`20`",
        "How long a ping may go unanswered before the socket is closed (and "
        "its visitor or agent counted gone after the grace period).",
    ),
    Variable(
        "MISSED_REPLY_EMAIL_DELAY_SECONDS",
        "`120`",
        "How long an agent's reply waits unread before it is emailed to a "
        "visitor who left an email and is not online (the web processes "
        "queue the email on their next presence heartbeat after that).",
    ),
    Variable(
        "DB_POOL_SIZE",
        "`20`",
        "Database connections kept open by each process (PostgreSQL), and as "
        "many again opened for bursts and closed after use.",
    ),
    Variable(
        "SENDS_IN_FLIGHT",
        "`DB_POOL_SIZE`",
        "Messages one web process stores at once; past it, sends get a "
        "`rate_limited` ack and the client retries, instead of every message "
        "waiting in line. The default lets every admitted send use a kept "
        "connection. `0` turns the limit off.",
    ),
)


def _flag(name: str, raw: str) -> bool:
    """Read a true/false variable, refusing anything ambiguous."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _integer(name: str, raw: str, low: int, high: int) -> int:
    """Read a whole number within bounds."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}.")
    return value


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    """Read one of a fixed set of words."""
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}.")
    return value


def _database_url(raw: str) -> str:
    """Normalise a database URL and check its scheme."""
    url = raw.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        # psycopg2 is the driver that psycogreen makes cooperative; newer
        # SQLAlchemy would otherwise pick psycopg 3 for a bare postgresql://.
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in ("postgresql", "sqlite"):
        raise ConfigError(
            f"DATABASE_URL must start with postgresql:// or sqlite:///, not {raw!r}."
        )
    return url


def _redis_url(raw: str) -> str:
    """Check that a Redis URL has a Redis scheme."""
    url = raw.strip()
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must start with redis:// or rediss://, not {raw!r}."
        )
    return url


def _instance_secret(instance_path: Path) -> str:
    """Keep a development secret key in the instance folder across restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    """Everything Parley reads from its environment, checked and typed."""

    env: str = "development"
    secret_key: str = ""
    database_url: str = ""
    redis_url: str | None = None
    async_mode: str = "eventlet"
    host: str = "127.0.0.1"
    port: int = 5000
    public_url: str = ""
    max_connections: int = 20000
    log_level: str = "INFO"
    log_format: str = "text"
    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = 0.0
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "Parley <parley@localhost>"
    session_cookie_secure: bool = False
    db_pool_size: int = 20
    sends_in_flight: int = 20
    presence_grace_seconds: int = 30
    ping_interval_seconds: int = 25
    ping_timeout_seconds: int = 20
    missed_reply_email_delay_seconds: int = 120
    instance_path: Path = field(default_factory=lambda: Path("instance").resolve())
    testing: bool = False

    @property
    def production(self) -> bool:
        """True when running as a production deployment."""
        return self.env == "production"

    @property
    def jobs_inline(self) -> bool:
        """True when jobs run inside the web process instead of RQ workers."""
        return self.redis_url is None

    def but(self, **changes: object) -> Settings:
        """Return a copy with some settings changed (tests use this)."""
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        instance_path: Path | None = None,
    ) -> Settings:
        """Read and check every variable; raise ConfigError naming the bad one."""
        env = os.environ if environ is None else environ
        get: Callable[[str], str | None] = lambda name: env.get(name) or None  # noqa: E731
        instance = (
            instance_path or Path(get("PARLEY_INSTANCE") or "instance")
        ).resolve()

        mode = get("PARLEY_ENV") or (
            "production" if get("DATABASE_URL") else "development"
        )
        mode = _choice("PARLEY_ENV", mode, ENVIRONMENTS)
        production = mode == "production"

        for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
            if production and not get(name):
                raise ConfigError(
                    f"{name} is required in production; set it in the "
                    "environment (see the README's table of variables)."
                )

        secret = get("SECRET_KEY") or _instance_secret(instance)
        if production and len(secret) < 32:
            raise ConfigError(
                "SECRET_KEY must be at least 32 characters in production."
            )

        database_url = _database_url(
            get("DATABASE_URL") or f"sqlite:///{instance / 'parley.db'}"
        )
        redis_url = _redis_url(get("REDIS_URL")) if get("REDIS_URL") else None
        host = get("HOST") or "127.0.0.1"
        port = _integer("PORT", get("PORT") or "5000", 1, 65535)
        pool_size = _integer("DB_POOL_SIZE", get("DB_POOL_SIZE") or "20", 1, 500)

        try:
            sample_rate = float(get("SENTRY_TRACES_SAMPLE_RATE") or "0")
        except ValueError:
            raise ConfigError(
                "SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1."
            ) from None
        if not 0.0 <= sample_rate <= 1.0:
            raise ConfigError("SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1.")

        return cls(
            env=mode,
            secret_key=secret,
            database_url=database_url,
            redis_url=redis_url,
            async_mode=_choice(
                "ASYNC_MODE", get("ASYNC_MODE") or "eventlet", ASYNC_MODES
            ),
            host=host,
            port=port,
            public_url=(get("PUBLIC_URL") or f"http://{host}:{port}").rstrip("/"),
            max_connections=_integer(
                "MAX_CONNECTIONS", get("MAX_CONNECTIONS") or "20000", 16, 1_000_000
            ),
            log_level=_choice(
                "LOG_LEVEL",
                get("LOG_LEVEL") or "INFO",
                ("debug", "info", "warning", "error"),
            ).upper(),
            log_format=_choice(
                "LOG_FORMAT",
                get("LOG_FORMAT") or ("json" if production else "text"),
                LOG_FORMATS,
            ),
            sentry_dsn=get("SENTRY_DSN"),
            sentry_traces_sample_rate=sample_rate,
            smtp_host=get("SMTP_HOST") or "localhost",
            smtp_port=_integer("SMTP_PORT", get("SMTP_PORT") or "25", 1, 65535),
            smtp_username=get("SMTP_USERNAME"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=_flag("SMTP_STARTTLS", get("SMTP_STARTTLS") or "false"),
            mail_from=get("MAIL_FROM") or "Parley <parley@localhost>",
            session_cookie_secure=_flag(
                "SESSION_COOKIE_SECURE",
                get("SESSION_COOKIE_SECURE") or ("true" if production else "false"),
            ),
            db_pool_size=pool_size,
            sends_in_flight=_integer(
                "SENDS_IN_FLIGHT", get("SENDS_IN_FLIGHT") or str(pool_size), 0, 10_000
            ),
            missed_reply_email_delay_seconds=_integer(
                "MISSED_REPLY_EMAIL_DELAY_SECONDS",
                get("MISSED_REPLY_EMAIL_DELAY_SECONDS") or "120",
                0,
                86400,
            ),
            presence_grace_seconds=_integer(
                "PRESENCE_GRACE_SECONDS", get("PRESENCE_GRACE_SECONDS") or "30", 3, 3600
            ),
            ping_interval_seconds=_integer(
                "PING_INTERVAL_SECONDS", get("PING_INTERVAL_SECONDS") or "25", 1, 300
            ),
            ping_timeout_seconds=_integer(
                "PING_TIMEOUT_SECONDS", get("PING_TIMEOUT_SECONDS") or "20", 1, 300
            ),
            instance_path=instance,
        )
