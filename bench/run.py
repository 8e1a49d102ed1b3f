"""Benchmark Parley against a bare relay: connections, memory and latency.

For each async mode, this starts a private PostgreSQL database and Redis,
seeds a workspace, runs ``parley serve`` in production mode and drives it with
the generator in ``bench/loadgen.py``; then it runs ``bench/relay.py`` (the
same transport with no database) under the same load, and prints each figure
beside the relay's as a ratio. ``make bench`` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.loadgen import (  # noqa: E402
    AgentSeat,
    Audience,
    ConnectStats,
    StepResult,
    Swarm,
    VisitorSeat,
)

BIN = Path(sys.executable).parent
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PASSWORD = "bench-password-" + secrets.token_hex(4)
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DEFAULT_RATES = (100, 200, 400, 800, 1600, 3200)
BENCH_NICENESS = -20


@dataclass
class Options:
    """What to run: the audience, the rates and the modes."""

    visitors: int = 2000
    agents: int = 50
    idle: int = 8000
    rates: tuple[int, ...] = DEFAULT_RATES
    modes: tuple[str, ...] = ("eventlet", "gevent")
    targets: tuple[str, ...] = ("parley", "relay")
    seconds: float = 8.0
    drain: float = 4.0
    p99_limit_ms: float = 100.0
    refine: bool = True
    json_path: Path | None = None


@dataclass
class RunResult:
    """Everything measured for one server in one async mode."""

    target: str
    mode: str
    agents: ConnectStats | None = None
    visitors: ConnectStats | None = None
    deflate_accepted: int = 0
    rss_start_kb: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    steps: list[dict] = field(default_factory=list)
    highest_good_rate: int | None = None
    failure: str | None = None

    @property
    def kb_per_connection(self) -> float | None:
        """Server memory added per visitor connection, in KB."""
        held = self.visitors.connected if self.visitors else 0
        if not held:
            return None
        return (self.rss_after_kb - self.rss_before_kb) / held


def parse_args(argv: list[str] | None = None) -> Options:
    """Read the command line into Options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, help="active visitors (2000)")
    parser.add_argument("--agents", type=int, help="agents (50)")
    parser.add_argument("--idle", type=int, help="extra idle visitors (8000)")
    parser.add_argument("--rates", help="messages a second, comma-separated")
    parser.add_argument("--modes", help="eventlet,gevent")
    parser.add_argument("--targets", help="parley,relay")
    parser.add_argument("--seconds", type=float, help="length of each step (8)")
    parser.add_argument("--quick", action="store_true", help="a small, short run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    options = Options()
    if args.quick:
        options = Options(visitors=200, agents=10, idle=800, rates=(100, 200, 400))
        options.seconds, options.drain, options.refine = 4.0, 3.0, False
    for name in ("visitors", "agents", "idle", "seconds"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    if args.rates:
        options.rates = tuple(int(r) for r in args.rates.split(","))
    if args.modes:
        options.modes = tuple(m.strip() for m in args.modes.split(","))
    if args.targets:
        options.targets = tuple(t.strip() for t in args.targets.split(","))
    options.json_path = args.json
    return options


def raise_file_limit() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def raise_priority(pids: list[int] | None = None) -> bool:
    """Run ahead of other work on a shared machine; True if allowed.

    The targets are for a machine of its own. Where other jobs share it, the
    benchmark's processes (this one, the servers and Redis it starts, and the
    PostgreSQL sessions of its database) are given a higher priority so that
    they get the cores when they need them.
    """
    try:
        for pid in pids or [0]:
            os.setpriority(os.PRIO_PROCESS, pid, BENCH_NICENESS)
    except (PermissionError, ProcessLookupError):
        return False
    return True


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A fresh PostgreSQL database for one run, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"parley_bench_{uuid.uuid4().hex[:8]}"
        self.url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"
        self._admin(f"CREATE DATABASE {self.name}")

    def _admin(self, statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(PG_ADMIN_DSN)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def backend_pids(self) -> list[int]:
        """Return the process ids of the PostgreSQL sessions on this database."""
        import psycopg2

        connection = psycopg2.connect(PG_ADMIN_DSN)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
                )
                return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()

    def drop(self) -> None:
        """Drop the database, ending any session still on it."""
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Redis:
    """A private redis-server on a free port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
                *("--maxclients", "10000"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until something listens on ``port``; fail if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The process for port {port} exited early.")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Nothing listened on port {port} after {timeout} s.")


class Server:
    """A server process under test, with its output kept in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        """Wait until ``/readyz`` answers 200; fail with the log if it dies."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Server exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Server not ready after {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """Return the end of the server's log."""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def rss_kb(self) -> int:
        """Return the server's resident memory (VmRSS) in KB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def cpu_seconds(self) -> float:
        """Return the CPU time the server has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the server's process group, hard if it does not end soon."""
        if self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(10)


def machine_busy() -> tuple[float, float]:
    """Return (busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split()[1:11]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def settle_rss(server: Server, timeout: float = 20.0) -> int:
    """Wait until the server's memory stops growing; return it in KB."""
    last = server.rss_kb()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = server.rss_kb()
        if abs(now - last) < max(256, last // 500):
            return now
        last = now
    return last


async def measure(
    server: Server,
    audience: Audience,
    options: Options,
    result: RunResult,
    database: Postgres | None = None,
) -> None:
    """Connect the audience, weigh the connections and step the message rate."""
    result.rss_start_kb = server.rss_kb()
    async with Swarm(audience) as swarm:
        result.agents = await swarm.connect_agents()
        result.rss_before_kb = await settle_rss(server)
        result.visitors = await swarm.connect_visitors()
        result.rss_after_kb = await settle_rss(server)
        result.deflate_accepted = swarm.deflate_accepted
        swarm.before_step = lambda: database and raise_priority(database.backend_pids())
        report.progress(result)
        # A short unrecorded step first: the first sends take code paths and
        # a full collection after the connection burst that steady traffic
        # does not.
        await swarm.run_step(options.rates[0], 3.0, options.drain)
        await asyncio.sleep(2)
        await step_rates(server, swarm, options, result)


async def step_rates(
    server: Server, swarm: Swarm, options: Options, result: RunResult
) -> None:
    """Step up the rate until two steps in a row fail, then try between."""
    good: int | None = None
    failed_in_a_row = 0
    for rate in options.rates:
        step = await timed_step(server, swarm, options, rate)
        result.steps.append(step)
        if step["good"]:
            good, failed_in_a_row = max(rate, good or 0), 0
        else:
            failed_in_a_row += 1
            if failed_in_a_row == 2:
                break
    above = [s["rate"] for s in result.steps if good and s["rate"] > good]
    if options.refine and good and above:
        middle = (good + min(above)) // 2
        step = await timed_step(server, swarm, options, middle)
        result.steps.append(step)
        good = middle if step["good"] else good
    result.highest_good_rate = good


async def timed_step(server: Server, swarm: Swarm, options: Options, rate: int) -> dict:
    """Run one step at ``rate`` with the generator's collector paused."""
    # Let the server work off what an overloaded step queued first.
    await swarm.quiesce(60)
    swarm.before_step()
    gc.collect()
    gc.freeze()
    gc.disable()
    cpu, machine, own = server.cpu_seconds(), machine_busy(), time.process_time()
    started = time.perf_counter()
    try:
        outcome: StepResult = await swarm.run_step(rate, options.seconds, options.drain)
    finally:
        gc.enable()
    # The sends and as much of the drain as it took: the drain ends once
    # everything is answered and delivered.
    elapsed = time.perf_counter() - started
    busy = [b - a for a, b in zip(machine, machine_busy(), strict=True)]
    step = report.step_summary(outcome, options.p99_limit_ms)
    step["server_cpu"] = (server.cpu_seconds() - cpu) / max(elapsed, 0.001)
    step["machine_cpu"] = busy[0] / max(busy[1], 1) * os.cpu_count()
    step["generator_cpu"] = (time.process_time() - own) / max(elapsed, 0.001)
    report.progress_step(step)
    await asyncio.sleep(2)
    return step


def seed(database_url: str, options: Options) -> dict:
    """Create a workspace, its agents, visitors and conversations. Bulk SQL."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("://", "+psycopg2://", 1))
    try:
        with engine.begin() as connection:
            seeded = Seeder(connection).run(options)
        # Statistics and the visibility map now, so that autovacuum does not
        # wake up for the bulk rows in the middle of a measured step.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
        return seeded
    finally:
        engine.dispose()


class Seeder:
    """Inserts the benchmark's workspace in bulk through SQLAlchemy Core."""

    def __init__(self, connection) -> None:
        from app.db import utcnow

        self.db = connection
        self.now = utcnow()

    def run(self, options: Options) -> dict:
        """Insert everything; return the ids and keys the run needs."""
        from app.models.workspace import new_widget_key

        key = new_widget_key()
        workspace_id, team_id = self.workspace(key)
        emails = [f"agent{n}@bench.parley.test" for n in range(options.agents)]
        agent_ids = self.agents(workspace_id, team_id, emails)
        visitor_ids = self.visitors(workspace_id, options.visitors + options.idle)
        active = visitor_ids[: options.visitors]
        conversations = self.conversations(workspace_id, team_id, active, agent_ids)
        return {
            "key": key,
            "workspace_id": workspace_id,
            "visitor_ids": visitor_ids,
            "conversations": conversations,
            "emails": emails,
        }

    def workspace(self, key: str) -> tuple[int, int]:
        """Insert the workspace (any origin allowed) and its one team."""
        from sqlalchemy import insert

        from app.models import Team, Workspace

        workspace_id = self.db.scalar(
            insert(Workspace)
            .values(name="Bench Co", widget_key=key, settings={}, created_at=self.now)
            .returning(Workspace.id)
        )
        team_id = self.db.scalar(
            insert(Team)
            .values(workspace_id=workspace_id, name="Support", created_at=self.now)
            .returning(Team.id)
        )
        return workspace_id, team_id

    def agents(self, workspace_id: int, team_id: int, emails: list[str]) -> list:
        """Insert the agents, all with one password hash, in the team."""
        from sqlalchemy import insert, select

        from app.domain.accounts import hash_password
        from app.models import Role, TeamMembership, User

        common = {
            "workspace_id": workspace_id,
            "password_hash": hash_password(PASSWORD),
            "role": Role.AGENT,
            "is_active": True,
            "created_at": self.now,
        }
        rows = [
            {**common, "email": email, "name": f"Agent {n}"}
            for n, email in enumerate(emails)
        ]
        self.db.execute(insert(User), rows)
        agent_ids = list(self.db.scalars(select(User.id).order_by(User.id)))
        memberships = [
            {"team_id": team_id, "user_id": agent_id, "created_at": self.now}
            for agent_id in agent_ids
        ]
        self.db.execute(insert(TeamMembership), memberships)
        return agent_ids

    def visitors(self, workspace_id: int, count: int) -> list[int]:
        """Insert ``count`` anonymous visitors; return their ids in order."""
        from sqlalchemy import insert, select

        from app.models import Visitor

        common = {
            "workspace_id": workspace_id,
            "attributes": {},
            "last_page": {},
            "created_at": self.now,
            "last_seen_at": self.now,
        }
        rows = [{**common, "public_id": uuid.uuid4().hex} for _ in range(count)]
        self.db.execute(insert(Visitor), rows)
        return list(self.db.scalars(select(Visitor.id).order_by(Visitor.id)))

    def conversations(
        self, workspace_id: int, team_id: int, visitor_ids: list, agent_ids: list
    ) -> dict[int, int]:
        """Open one conversation per visitor, assigned round-robin to agents."""
        from sqlalchemy import insert, select

        from app.models import Conversation, ConversationStatus

        common = {
            "workspace_id": workspace_id,
            "team_id": team_id,
            "status": ConversationStatus.OPEN,
            "created_at": self.now,
            "context": {},
        }
        rows = [
            {**common, "visitor_id": v, "assignee_id": agent_ids[n % len(agent_ids)]}
            for n, v in enumerate(visitor_ids)
        ]
        self.db.execute(insert(Conversation), rows)
        query = select(Conversation.visitor_id, Conversation.id)
        return dict(self.db.execute(query).all())


def mint_tokens(secret_key: str, workspace_id: int, visitor_ids: list[int]) -> list:
    """Sign a visitor token for each visitor, as the server's sessions do."""
    from app.domain.visitors import VisitorTokens
    from app.models import Visitor

    tokens = VisitorTokens(secret_key)
    return [
        tokens.issue(Visitor(id=visitor_id, workspace_id=workspace_id))
        for visitor_id in visitor_ids
    ]


async def sign_in(url: str, emails: list[str], origin: str) -> list[str]:
    """Sign each agent in through the console's form; return session cookies.

    Parley allows 30 sign-ins per client address in five minutes, so each
    agent signs in from an address of its own in 127.0.0.0/8, all of which
    lead to this machine.
    """
    gate = asyncio.Semaphore(4)

    async def one(number: int, email: str) -> str:
        jar = aiohttp.CookieJar(unsafe=True)
        address = f"127.0.{1 + number // 250}.{1 + number % 250}"
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with (
            gate,
            aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http,
        ):
            async with http.get(url + "/login") as page:
                token = CSRF_FIELD.search(await page.text()).group(1)
            form = {"email": email, "password": PASSWORD, "csrf_token": token}
            headers = {"Origin": origin, "Referer": url + "/login"}
            async with http.post(
                url + "/login", data=form, headers=headers, allow_redirects=False
            ) as answer:
                if answer.status not in (302, 303):
                    raise RuntimeError(f"Sign-in of {email} answered {answer.status}.")
            return "; ".join(f"{c.key}={c.value}" for c in jar)

    return await asyncio.gather(*(one(n, email) for n, email in enumerate(emails)))


def parley_audience(
    seeded: dict, tokens: list[str], cookies: list[str], url: str
) -> Audience:
    """Seat the seeded visitors and agents: conversation n goes to agent n % M."""
    conversations = seeded["conversations"]
    visitors = [
        VisitorSeat(token, conversations.get(visitor_id))
        for visitor_id, token in zip(seeded["visitor_ids"], tokens, strict=True)
    ]
    agents = [AgentSeat(cookie) for cookie in cookies]
    for n, conversation_id in enumerate(sorted(conversations.values())):
        agents[n % len(agents)].conversation_ids.append(conversation_id)
    return Audience(url, url, seeded["key"], visitors, agents)


def relay_audience(options: Options, url: str) -> Audience:
    """Seat the same audience for the relay, which checks no identity."""
    visitors = [
        VisitorSeat(f"relay-{n}", n + 1 if n < options.visitors else None)
        for n in range(options.visitors + options.idle)
    ]
    agents = [AgentSeat("relay=1") for _ in range(options.agents)]
    for n in range(options.visitors):
        agents[n % len(agents)].conversation_ids.append(n + 1)
    return Audience(url, url, "relay", visitors, agents)


def base_env(mode: str, port: int, max_connections: int) -> dict[str, str]:
    """Return the environment shared by Parley and the relay."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLEY_", "DATABASE_", "REDIS_", "SENTRY_"))
    }
    env.update(
        ASYNC_MODE=mode,
        HOST="127.0.0.1",
        PORT=str(port),
        MAX_CONNECTIONS=str(max_connections),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run_parley(mode: str, options: Options, workdir: Path) -> RunResult:
    """Seed a database, start Redis and ``parley serve``, and measure it."""
    result = RunResult("parley", mode)
    database, redis, server = Postgres(), Redis(workdir), None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(48)
    env = base_env(mode, port, max_connections(options))
    env.update(
        PARLEY_ENV="production",
        DATABASE_URL=database.url,
        REDIS_URL=redis.url,
        SECRET_KEY=secret,
        PUBLIC_URL=url,
        # Plain HTTP on loopback: a proxy terminates TLS in production.
        SESSION_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
    )
    try:
        subprocess.run(
            [str(BIN / "parley"), "db", "upgrade"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        seeded = seed(database.url, options)
        tokens = mint_tokens(secret, seeded["workspace_id"], seeded["visitor_ids"])
        server = Server(
            [str(BIN / "parley"), "serve"], env, workdir / f"parley-{mode}.log"
        )
        server.wait_ready(url)
        cookies = asyncio.run(sign_in(url, seeded["emails"], url))
        audience = parley_audience(seeded, tokens, cookies, url)
        run_async(measure(server, audience, options, result, database))
    except Exception as error:  # noqa: BLE001
        result.failure = f"{type(error).__name__}: {error}"
        if isinstance(error, subprocess.CalledProcessError):
            result.failure += "\n" + error.stderr.decode(errors="replace")[-2000:]
        if server is not None:
            result.failure += f"\n{server.tail()}"
    finally:
        if server is not None:
            server.stop()
        redis.stop()
        database.drop()
    return result


def run_relay(mode: str, options: Options, workdir: Path) -> RunResult:
    """Start the bare relay and measure it with the same audience."""
    result = RunResult("relay", mode)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(mode, port, max_connections(options))
    command = [sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(port)]
    command += ["--max-connections", str(max_connections(options))]
    server = Server(command, env, workdir / f"relay-{mode}.log")
    try:
        server.wait_ready(url)
        run_async(measure(server, relay_audience(options, url), options, result))
    except Exception as error:  # noqa: BLE001
        result.failure = f"{type(error).__name__}: {error}\n{server.tail()}"
    finally:
        server.stop()
    return result


def max_connections(options: Options) -> int:
    """Return a connection cap with room for the whole audience."""
    return max(20000, 2 * (options.visitors + options.idle + options.agents))


def run_async(coroutine) -> None:
    """Run ``coroutine`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def _jsonable(value: object) -> object:
    """``value`` with every dict key turned into text (steps are keyed by tuples)."""
    if isinstance(value, dict):
        return {
            (key if isinstance(key, str) else str(key)): _jsonable(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Run every mode against Parley and the relay; print the comparison."""
    options = parse_args(argv)
    # Stopped from outside, still stop the servers and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    limit = raise_file_limit()
    needed = options.visitors + options.idle + options.agents + 200
    if limit < needed:
        print(f"The open-file limit is {limit}; {needed} sockets need more.")
        return 2
    report.header(options, raise_priority())
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        for mode in options.modes:
            for target in options.targets:
                report.starting(target, mode)
                runner = run_parley if target == "parley" else run_relay
                result = runner(mode, options, Path(tmp))
                results.append(result)
                if result.failure:
                    print(f"  failed: {result.failure}", flush=True)
    print(report.table(results, options))
    if options.json_path:
        data = [asdict(r) | {"kb_per_connection": r.kb_per_connection} for r in results]
        options.json_path.write_text(json.dumps(_jsonable(data), indent=2, default=str))
    return 0 if all(r.failure is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
