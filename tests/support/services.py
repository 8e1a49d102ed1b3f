"""Real services for the suite: PostgreSQL databases, Redis servers, SMTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import psycopg2
import redis
from aiosmtpd.controller import Controller

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    predicate, timeout: float = 10.0, interval: float = 0.05, what: str = ""
):
    """Poll ``predicate`` until it returns a true value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {timeout}s waiting for {what or predicate}"
            )
        time.sleep(interval)


class PostgresDatabase:
    """A PostgreSQL database made for the suite and dropped afterwards."""

    def __init__(self, prefix: str = "parley_t") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = PG_URL.format(name=self.name)
        self._admin("CREATE DATABASE {}")

    def _admin(self, statement: str) -> None:
        connection = psycopg2.connect(PG_ADMIN_DSN)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement.format(self.name))
        finally:
            connection.close()

    def truncate_all(self, revision: str) -> None:
        """Empty every table and set Alembic's marker back to ``revision``."""
        connection = psycopg2.connect(f"{PG_ADMIN_DSN[: -len('postgres')]}{self.name}")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
                tables = [row[0] for row in cursor.fetchall()]
                if tables:
                    cursor.execute(
                        f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
                    )
                cursor.execute(
                    "UPDATE alembic_version SET version_num = %s", (revision,)
                )
        finally:
            connection.close()

    def drop(self) -> None:
        """Drop the database, ending any session still connected to it."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


class RedisServer:
    """A private redis-server on a free loopback port, started and stopped here."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = Path(tempfile.mkdtemp(prefix="parley-redis-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), timeout=10, what="redis-server")
        return self

    def stop(self) -> None:
        """Stop the server at once (like a crash: nothing is saved)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def flush(self) -> None:
        """Empty every Redis database of this server."""
        redis.Redis.from_url(self.url).flushall()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@dataclass
class _Inbox:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.messages.append(
                message_from_bytes(envelope.original_content, policy=policy.default)
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        """Start listening; after :meth:`stop`, again on the same port."""
        if self.controller is None:
            self.controller = Controller(
                self.inbox, hostname="127.0.0.1", port=self.port
            )
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening, so that connections are refused until started again."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Message]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def wait_for(self, count: int = 1, timeout: float = 20.0) -> list[Message]:
        """Wait until at least ``count`` messages have arrived; return them."""
        wait_until(
            lambda: len(self.messages) >= count,
            timeout=timeout,
            what=f"{count} email(s)",
        )
        return self.messages
