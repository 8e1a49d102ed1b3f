"""`make run` on a fresh machine: migrate, seed the demo once, serve, sign in.

The test runs the `parley` commands of the Makefile's `run` target, in their
order, against a fresh instance folder, exactly as a new clone would.
"""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.http import sign_in
from tests.support.processes import ROOT, ParleyProcess, WebProcess, base_env
from tests.support.services import free_port

LOGIN_LINE = re.compile(r"^\s+(admin|agent)\s+(\S+@\S+)\s+(\S+)$", re.MULTILINE)


def run_target_commands() -> list[str]:
    """Return the `parley ...` command lines of the Makefile's `run` target."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "The Makefile has no run target."
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    return [line.removeprefix("$(BIN)/") for line in lines if "$(BIN)/parley " in line]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A fresh instance folder after the run target's migrate and seed steps."""
    folder = tmp_path_factory.mktemp("make-run") / "instance"
    env = base_env(PARLEY_INSTANCE=str(folder), PORT=str(free_port()))
    upgrade, seed, _ = run_target_commands()
    ParleyProcess(upgrade, env, "upgrade").run()
    logins = LOGIN_LINE.findall(ParleyProcess(seed, env, "seed").run())
    assert [role for role, _, _ in logins] == ["admin", "agent", "agent"]
    return folder, env, logins


def _demo_counts(folder) -> tuple[int, int, int]:
    """Count demo workspaces, users and teams in the instance's database."""
    engine = create_engine(f"sqlite:///{folder / 'parley.db'}")
    try:
        with engine.connect() as connection:
            return tuple(
                connection.scalar(text(query))
                for query in (
                    "SELECT count(*) FROM workspaces WHERE name = 'Demo Co'",
                    "SELECT count(*) FROM users",
                    "SELECT count(*) FROM teams",
                )
            )
    finally:
        engine.dispose()


def test_run_target_migrates_seeds_and_serves():
    """The run target migrates, seeds the demo and serves, in that order."""
    assert run_target_commands() == [
        "parley db upgrade",
        "parley seed-demo",
        "parley serve",
    ]


def test_served_demo_admin_signs_in(seeded):
    """/healthz answers 200 and the printed demo admin signs in to the console."""
    folder, env, logins = seeded
    assert (folder / "parley.db").exists()

    web = WebProcess(run_target_commands()[-1], env, int(env["PORT"]), "serve")
    try:
        web.start().wait_ready("/healthz")
        health = requests.get(f"{web.url}/healthz", timeout=5)
        _, email, password = logins[0]
        landed = sign_in(requests.Session(), web.url, email, password)
    finally:
        web.kill()
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert landed.status_code == 200
    assert landed.url == f"{web.url}/console/"
    assert 'action="/logout"' in landed.text


def test_seed_demo_again_keeps_one_demo(seeded):
    """A second seed-demo prints the same sign-ins and adds no data."""
    folder, env, logins = seeded
    counts = _demo_counts(folder)
    assert counts == (1, 3, 1)

    again = ParleyProcess("parley seed-demo", env, "seed").run()
    assert LOGIN_LINE.findall(again) == logins
    assert _demo_counts(folder) == counts
