"""The ``parley`` command: serve, work, migrate, create admins, seed the demo.

``parley`` is ``flask --app app`` with Parley's commands; the web process is
``parley serve``, which patches the standard library for eventlet or gevent
before anything else is imported.
"""

from __future__ import annotations

import logging
import os
import sys

import click

logger = logging.getLogger(__name__)


def main() -> None:
    """Entry point of the ``parley`` command."""
    if sys.argv[1:2] == ["serve"]:
        # Must happen before Flask, SQLAlchemy or redis are imported.
        from app import runtime

        runtime.patch(_async_mode_from_env())

    from flask.cli import FlaskGroup

    from app import create_app

    group = FlaskGroup(
        name="parley",
        create_app=lambda: create_app(),
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        help="Parley: customer-support chat.",
    )
    from flask.cli import routes_command, shell_command

    group.add_command(shell_command)
    group.add_command(routes_command)
    group.main(prog_name="parley")


def _async_mode_from_env() -> str:
    from config import ASYNC_MODES, ConfigError

    mode = (os.environ.get("ASYNC_MODE") or "eventlet").strip().lower()
    if mode not in ASYNC_MODES:
        raise SystemExit(
            str(
                ConfigError(
                    f"ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {mode!r}."
                )
            )
        )
    return mode


def register_commands(app) -> None:
    """Attach Parley's commands to ``app.cli``."""
    for command in (serve, worker, db_group, create_admin, seed_demo, identity_secret):
        app.cli.add_command(command)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default HOST).")
@click.option(
    "--port", default=None, type=int, help="Port to listen on (default PORT)."
)
def serve(host: str | None, port: int | None) -> None:
    """Run the web and Socket.IO server."""
    from flask import current_app

    from app import runtime

    settings = current_app.config["SETTINGS"]
    runtime.serve(
        current_app._get_current_object(),
        host or settings.host,
        port or settings.port,
        settings.max_connections,
    )


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for Parley's jobs (production mode)."""
    from flask import current_app

    from app.jobs.worker import run_worker

    settings = current_app.config["SETTINGS"]
    if settings.jobs_inline:
        raise click.ClickException(
            "REDIS_URL is not set: in embedded mode jobs run inside the web "
            "process and no worker is needed."
        )
    run_worker(settings.redis_url, burst=burst)


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app import migrate
    from app.extensions import db

    migrate.upgrade(db.engine, revision)
    click.echo(f"Database is at {revision}.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION."""
    from app import migrate
    from app.extensions import db

    migrate.downgrade(db.engine, revision)
    click.echo(f"Database is at {revision}.")


@db_group.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    from app import migrate
    from app.extensions import db

    with db.engine.connect() as connection:
        click.echo(migrate.current_revision(connection) or "empty")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Admin")
@click.option(
    "--workspace",
    "workspace_name",
    default=None,
    help="Create a new workspace with this name (default: the first one).",
)
@click.password_option(help="Password (asked for when not given).")
def create_admin(
    email: str, name: str, workspace_name: str | None, password: str
) -> None:
    """Create an admin account."""
    from sqlalchemy import select

    from app.domain.accounts import create_user, create_workspace
    from app.errors import ParleyError
    from app.extensions import db
    from app.models import Role, Workspace

    session = db.session
    workspace = (
        create_workspace(session, workspace_name)
        if workspace_name
        else session.scalar(select(Workspace).order_by(Workspace.id).limit(1))
    )
    if workspace is None:
        raise click.ClickException(
            "No workspace yet; pass --workspace NAME to create one."
        )
    try:
        user = create_user(
            session,
            workspace,
            email=email,
            name=name,
            password=password,
            role=Role.ADMIN,
        )
    except ParleyError as error:
        session.rollback()
        raise click.ClickException(error.message) from None
    session.commit()
    click.echo(f"Admin {user.email} created in workspace {workspace.name!r}.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo workspace once, and print its sign-ins."""
    from flask import current_app

    from app.domain.demo import seed
    from app.extensions import db

    settings = current_app.config["SETTINGS"]
    # Passwords are stored only as hashes; the instance folder keeps the
    # demo's for printing on later runs (it is never committed).
    saved = settings.instance_path / "demo-logins.txt"
    logins = seed(db.session)
    if logins is not None:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        saved.write_text("".join(f"{r}\t{e}\t{p}\n" for r, e, p in logins))
        saved.chmod(0o600)
    elif saved.exists():
        logins = [tuple(line.split("\t")) for line in saved.read_text().splitlines()]
    else:
        click.echo("The demo workspace exists; its passwords were not kept here.")
        return
    click.echo(f"Demo sign-ins at {settings.public_url}/login")
    for role, email, password in logins:
        click.echo(f"  {role:<6} {email:<26} {password}")
    click.echo(f"Widget demo page: {settings.public_url}/demo")


@click.command("identity-secret")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name.")
def identity_secret(workspace_name: str) -> None:
    """Print the workspace's identity secret (for Parley.identify hashes)."""
    from sqlalchemy import select

    from app.domain.visitors import identity_secret as secret_of
    from app.extensions import db
    from app.models import Workspace

    workspace = db.session.scalar(
        select(Workspace).where(Workspace.name == workspace_name)
    )
    if workspace is None:
        raise click.ClickException(f"No workspace is named {workspace_name!r}.")
    click.echo(secret_of(db.session, workspace))
