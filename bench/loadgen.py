"""Load generator: thousands of Socket.IO clients in one asyncio process.

Each client speaks Engine.IO 4 / Socket.IO 5 over one aiohttp WebSocket,
offering permessage-deflate as browsers do. A python-socketio client per
connection would cost far more memory and CPU than the server under test.

Visitors connect to ``/widget`` with ``auth: {key, token}`` and sync their
conversation; agents connect to ``/agent`` with the console's session cookie
and sync the conversations they answer. Each timed step then sends messages at
a fixed rate, half from visitors and half from agents, and records when the
other side receives each one, matched by a marker in the body.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

logger = logging.getLogger(__name__)

ENGINEIO_PATH = "/socket.io/?EIO=4&transport=websocket"
# zlib's largest window: what browsers offer ("permessage-deflate;
# client_max_window_bits"). Parley is expected to decline it.
BROWSER_DEFLATE = 15
MARK = "bench:"
FILLER = "Hi, my order has not arrived yet, could you check where it is?"
HANDSHAKE_TIMEOUT = 30.0
# An agent's first sync answers 40 conversations at once; give it longer.
AGENT_HANDSHAKE_TIMEOUT = 180.0


class ConnectFailed(Exception):
    """A client could not open its socket or join its namespace."""


@dataclass
class VisitorSeat:
    """One visitor the generator plays: its token and its conversation, if any."""

    token: str
    conversation_id: int | None = None


@dataclass
class AgentSeat:
    """One agent the generator plays: a session cookie and the chats it answers."""

    cookie: str
    conversation_ids: list[int] = field(default_factory=list)


@dataclass
class Audience:
    """Who connects where: the server's address and every seat."""

    url: str
    origin: str
    widget_key: str
    visitors: list[VisitorSeat]
    agents: list[AgentSeat]


@dataclass
class Record:
    """One sent message: when it left, and what came back."""

    sent: float
    to_role: str
    acked: bool = False
    error: str | None = None
    deliveries: int = 0
    latency: float | None = None


@dataclass
class ConnectStats:
    """How connecting a group of clients went."""

    attempted: int
    connected: int
    seconds: float
    failures: Counter


@dataclass
class StepResult:
    """What one timed step at a fixed rate produced."""

    rate: int
    sent: int
    seconds: float
    latencies: dict[str, list[float]]
    acked: int
    unacked: int
    lost: int
    duplicated: int
    errors: Counter
    closed: int

    def percentile(self, direction: str, share: float) -> float | None:
        """Return a latency percentile in milliseconds, or None with no data."""
        values = sorted(self.latencies[direction])
        if not values:
            return None
        index = min(len(values) - 1, int(share * len(values)))
        return values[index] * 1000

    def worst(self) -> float | None:
        """Return the p99 of the worse direction, in milliseconds."""
        p99s = [self.percentile(d, 0.99) for d in self.latencies]
        known = [value for value in p99s if value is not None]
        return max(known) if known else None

    def good(self, p99_limit_ms: float) -> bool:
        """True when every send was answered and delivered once, fast enough."""
        worst = self.worst()
        return (
            worst is not None
            and worst < p99_limit_ms
            and self.lost == 0
            and self.duplicated == 0
            and self.unacked == 0
            and not self.errors
            and not self.closed
        )


class Client:
    """One Socket.IO connection in one namespace."""

    def __init__(self, swarm: Swarm, namespace: str, role: str) -> None:
        self.swarm = swarm
        self.namespace = namespace
        self.role = role
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.acks: dict[int, Callable[[object], None]] = {}
        self.ack_ids = itertools.count(1)
        self.reader: asyncio.Task | None = None

    async def open(self, headers: dict[str, str], auth: dict | None) -> None:
        """Open the WebSocket, then join the namespace (raise ConnectFailed)."""
        url = self.swarm.audience.url.replace("http", "ws", 1) + ENGINEIO_PATH
        try:
            self.ws = await self.swarm.http.ws_connect(
                url,
                headers=headers,
                compress=BROWSER_DEFLATE,
                autoping=True,
                heartbeat=None,
                max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
            )
        except (aiohttp.ClientError, OSError) as error:
            raise ConnectFailed(type(error).__name__) from None
        if self.ws.compress:
            self.swarm.deflate_accepted += 1

        await self._expect("0")
        payload = json.dumps(auth, separators=(",", ":")) if auth else ""
        await self.ws.send_str(f"40{self.namespace},{payload}")
        reply = await self._expect("4")
        if reply.startswith("44"):
            raise ConnectFailed(_connect_error_code(reply))
        self.reader = asyncio.create_task(self.read())

    async def _expect(self, kind: str) -> str:
        """Return the next Engine.IO packet of ``kind``, answering pings."""
        while True:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectFailed(f"closed ({message.type.name})")
            if message.data == "2":
                await self.ws.send_str("3")
            elif message.data.startswith(kind):
                return message.data

    async def call(self, event: str, data: object) -> object:
        """Emit ``event`` with an ack and wait for the answer."""
        future = asyncio.get_running_loop().create_future()
        self.emit(event, data, future.set_result)
        return await future

    def emit(self, event: str, data: object, on_ack: Callable[[object], None]) -> None:
        """Send ``event`` with ``data``; call ``on_ack`` with the answer."""
        ack = next(self.ack_ids)
        self.acks[ack] = on_ack
        body = json.dumps([event, data], separators=(",", ":"))
        self.swarm.outbox(self, f"42{self.namespace},{ack}{body}")

    async def read(self) -> None:
        """Handle every packet until the socket closes."""
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = message.data
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith("4"):
                self.packet(data[1:])
        self.swarm.closed += 1

    def packet(self, data: str) -> None:
        """Dispatch one Socket.IO packet (without its Engine.IO type)."""
        kind, rest = data[0], data[1:]
        if rest.startswith(self.namespace):
            rest = rest[len(self.namespace) + 1 :]
        if kind == "2":
            self.swarm.event(self, rest)
        elif kind == "3":
            digits = len(rest) - len(rest.lstrip("0123456789"))
            callback = self.acks.pop(int(rest[:digits]), None)
            if callback is not None:
                answer = json.loads(rest[digits:])
                callback(answer[0] if answer else None)
        elif kind == "1":
            self.swarm.closed += 1

    async def close(self) -> None:
        """Close the socket and stop reading."""
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def _connect_error_code(reply: str) -> str:
    """Return the ``code`` of a Socket.IO connect_error packet."""
    try:
        data = json.loads(reply[reply.index(",") + 1 :])
    except ValueError:
        return "connect_error"
    return str(data.get("code", "connect_error")) if isinstance(data, dict) else data


class Swarm:
    """Every client of one run, and the bookkeeping of the current step."""

    def __init__(self, audience: Audience, concurrency: int = 100) -> None:
        self.audience = audience
        self.concurrency = concurrency
        self.http: aiohttp.ClientSession | None = None
        self.visitors: list[tuple[Client, VisitorSeat]] = []
        self.agents: list[tuple[Client, AgentSeat]] = []
        self.owner: dict[int, Client] = {}
        self.records: dict[str, Record] = {}
        self.events: Counter = Counter()
        self.closed = 0
        self.deflate_accepted = 0
        self.pending_writes: list[tuple[Client, str]] = []
        self.flusher: asyncio.Task | None = None
        self.before_step: Callable[[], object] = lambda: None

    async def __aenter__(self) -> Swarm:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        self.http = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect_agents(self) -> ConnectStats:
        """Connect every agent and sync the conversations each one answers."""
        seats = self.audience.agents
        stats = await self._connect_all(
            seats, self._connect_agent, AGENT_HANDSHAKE_TIMEOUT
        )
        for client, seat in self.agents:
            for conversation_id in seat.conversation_ids:
                self.owner[conversation_id] = client
        return stats

    async def connect_visitors(self) -> ConnectStats:
        """Connect every visitor and sync its conversation."""
        return await self._connect_all(self.audience.visitors, self._connect_visitor)

    async def _connect_all(
        self, seats, connect, timeout: float = HANDSHAKE_TIMEOUT
    ) -> ConnectStats:
        """Run ``connect`` for every seat, at most ``concurrency`` at a time."""
        gate = asyncio.Semaphore(self.concurrency)
        failures: Counter = Counter()

        async def one(seat) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(connect(seat), timeout)
                except ConnectFailed as error:
                    failures[str(error)] += 1
                except TimeoutError:
                    failures["timeout"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(seat) for seat in seats))
        seconds = time.perf_counter() - started
        connected = len(seats) - sum(failures.values())
        return ConnectStats(len(seats), connected, seconds, failures)

    async def _connect_visitor(self, seat: VisitorSeat) -> None:
        """Open one visitor's socket and sync as the widget does."""
        client = Client(self, "/widget", "visitor")
        auth = {"key": self.audience.widget_key, "token": seat.token}
        await client.open({"Origin": self.audience.origin}, auth)
        held = {str(seat.conversation_id): 0} if seat.conversation_id else {}
        await self._sync(client, held)
        self.visitors.append((client, seat))

    async def _connect_agent(self, seat: AgentSeat) -> None:
        """Open one agent's socket and sync the conversations it answers."""
        client = Client(self, "/agent", "agent")
        headers = {"Origin": self.audience.origin, "Cookie": seat.cookie}
        await client.open(headers, None)
        await self._sync(client, {str(c): 0 for c in seat.conversation_ids})
        self.agents.append((client, seat))

    async def _sync(self, client: Client, held: dict[str, int]) -> None:
        """Send ``sync`` and fail unless it is acknowledged."""
        answer = await client.call("sync", {"conversations": held})
        if not (isinstance(answer, dict) and answer.get("ok")):
            code = answer.get("error", {}).get("code") if answer else None
            await client.close()
            raise ConnectFailed(f"sync {code or 'failed'}")

    def outbox(self, client: Client, frame: str) -> None:
        """Queue a frame; one task writes them so that emit never waits."""
        self.pending_writes.append((client, frame))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write every queued frame."""
        while self.pending_writes:
            batch, self.pending_writes = self.pending_writes, []
            for client, frame in batch:
                try:
                    await client.ws.send_str(frame)
                except (aiohttp.ClientError, ConnectionError, RuntimeError):
                    self.closed += 1

    def event(self, client: Client, rest: str) -> None:
        """Count a server event; time it if it is a benchmark message."""
        if not rest.startswith('["message",'):
            name = rest[2 : rest.find('"', 2)]
            self.events[f"{client.role}:{name}"] += 1
            return
        now = time.perf_counter()
        body = json.loads(rest)[1].get("body", "")
        if not body.startswith(MARK):
            return
        record = self.records.get(body[len(MARK) : body.index(" ")])
        if record is None or record.to_role != client.role:
            return
        record.deliveries += 1
        if record.latency is None:
            record.latency = now - record.sent

    def active_conversations(self) -> list[tuple[Client, int]]:
        """Return (visitor client, conversation id) for every active visitor."""
        return [
            (client, seat.conversation_id)
            for client, seat in self.visitors
            if seat.conversation_id in self.owner
        ]

    async def run_step(
        self, rate: int, seconds: float, drain: float
    ) -> StepResult | None:
        """Send ``rate`` messages a second for ``seconds``; wait up to ``drain``."""
        active = self.active_conversations()
        if not active:
            return None
        self.records = {}
        closed_before = self.closed
        total = int(rate * seconds)
        started = time.perf_counter()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            for number in range(sent, due):
                self._send(active, number)
            sent = due
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started

        deadline = time.perf_counter() + drain
        while time.perf_counter() < deadline and not self._settled():
            await asyncio.sleep(0.05)
        return self._result(rate, sent, elapsed, self.closed - closed_before)

    def _send(self, active: list[tuple[Client, int]], number: int) -> None:
        """Send message ``number``: even from a visitor, odd from an agent."""
        visitor, conversation_id = active[(number // 2) % len(active)]
        from_visitor = number % 2 == 0
        client = visitor if from_visitor else self.owner[conversation_id]
        marker = uuid.uuid4().hex
        record = Record(time.perf_counter(), "agent" if from_visitor else "visitor")
        self.records[marker] = record

        def acked(answer: object) -> None:
            if isinstance(answer, dict) and answer.get("ok"):
                record.acked = True
            else:
                error = answer.get("error", {}) if isinstance(answer, dict) else {}
                record.error = error.get("code", "bad_ack")

        data = {
            "conversation_id": conversation_id,
            "client_msg_id": marker,
            "body": f"{MARK}{marker} {FILLER}",
        }
        client.emit("message:send", data, acked)

    async def quiesce(self, timeout: float) -> bool:
        """Wait until the last step's sends are all answered; True if they are."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(r.acked or r.error for r in self.records.values()):
                return True
            await asyncio.sleep(0.1)
        return False

    def _settled(self) -> bool:
        """True when every send is answered and every accepted one delivered."""
        return all(
            (r.acked and r.deliveries) or r.error is not None
            for r in self.records.values()
        )

    def _result(self, rate: int, sent: int, elapsed: float, closed: int) -> StepResult:
        """Summarise the records of the step just run."""
        latencies: dict[str, list[float]] = {"v2a": [], "a2v": []}
        errors: Counter = Counter()
        acked = unacked = lost = duplicated = 0
        for record in self.records.values():
            direction = "v2a" if record.to_role == "agent" else "a2v"
            if record.latency is not None:
                latencies[direction].append(record.latency)
            if record.error is not None:
                errors[record.error] += 1
            elif not record.acked:
                unacked += 1
            else:
                acked += 1
                lost += record.deliveries == 0
            duplicated += record.deliveries > 1
        return StepResult(
            rate, sent, elapsed, latencies, acked, unacked, lost, duplicated,
            errors, closed,
        )  # fmt: skip

    async def close(self) -> None:
        """Close every client and the HTTP session."""
        clients = [c for c, _ in self.visitors] + [c for c, _ in self.agents]
        for start in range(0, len(clients), 500):
            batch = clients[start : start + 500]
            await asyncio.gather(*(c.close() for c in batch), return_exceptions=True)
        self.visitors, self.agents = [], []
        if self.http is not None:
            await self.http.close()
            self.http = None
