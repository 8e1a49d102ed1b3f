"""Real Socket.IO clients over real sockets, following docs/protocol.md.

``ChatClient`` applies the protocol's client rules: it holds messages by
seq, drops any it already has, and syncs whenever a live message's
``prev_seq`` shows a gap, on every (re)connect, and on ``resync``.
"""

from __future__ import annotations

import re
import threading
import uuid

import requests
import socketio

from tests.support.services import wait_until


def sign_in(base_url: str, email: str, password: str) -> requests.Session:
    """Sign in to the console over HTTP; return the session with its cookie."""
    http = requests.Session()
    page = http.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = http.post(
        f"{base_url}/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return http


def visitor_token(
    base_url: str, key: str, origin: str, token: str | None = None
) -> str:
    """Open a visitor session over HTTP and return its token."""
    body = {"key": key, **({"token": token} if token else {})}
    response = requests.post(
        f"{base_url}/api/widget/session",
        json=body,
        headers={"Origin": origin},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


class ChatClient:
    """One Socket.IO connection to one namespace, keeping a gapless view."""

    def __init__(self, namespace: str, origin: str | None = None) -> None:
        self.namespace = namespace
        # The WebSocket library sends an Origin of its own unless told which.
        options = {"origin": origin} if origin else {}
        self.sio = socketio.Client(reconnection=False, websocket_extra_options=options)
        self.lock = threading.Lock()
        self.held: dict[int, dict[int, dict]] = {}
        self.live_count = 0
        self.refusal: dict | None = None
        self.sio.on("message", self._on_message, namespace=namespace)
        self.sio.on("resync", self._on_resync, namespace=namespace)
        self.sio.on("connect_error", self._on_refused, namespace=namespace)
        self.events: list[tuple[str, dict]] = []
        self.sio.on("*", self._record, namespace=namespace)

    def connect(self, url: str, *, auth=None, headers=None) -> ChatClient:
        """Connect over WebSocket, then sync what this client follows."""
        self.sio.connect(
            url,
            namespaces=[self.namespace],
            transports=["websocket"],
            auth=auth,
            headers=headers or {},
            wait_timeout=10,
        )
        self.sync()
        return self

    def close(self) -> None:
        """Disconnect if connected."""
        if self.sio.connected:
            self.sio.disconnect()

    def call(self, event: str, data: dict) -> dict:
        """Emit and wait for the ack."""
        return self.sio.call(event, data, namespace=self.namespace, timeout=15)

    def follow(self, conversation_id: int) -> None:
        """Start following a conversation (held from seq 0)."""
        with self.lock:
            self.held.setdefault(conversation_id, {})

    def last_seq(self, conversation_id: int) -> int:
        """The newest seq held with nothing missing below it."""
        with self.lock:
            return max(self.held.get(conversation_id, {}), default=0)

    def sync(self) -> None:
        """Ask for everything after what is held, page by page."""
        while True:
            positions = {str(c): self.last_seq(c) for c in list(self.held)}
            answer = self.call("sync", {"conversations": positions})
            assert answer["ok"], answer
            more = False
            for conversation in answer["conversations"]:
                for message in conversation["messages"]:
                    self._hold(message)
                more = more or conversation["more"]
            if not more:
                return

    def send(
        self, conversation_id: int | None, body: str, client_msg_id: str | None = None
    ) -> dict:
        """Send a message and return the ack."""
        return self.call(
            "message:send",
            {
                "conversation_id": conversation_id,
                "client_msg_id": client_msg_id or uuid.uuid4().hex,
                "body": body,
            },
        )

    def bodies(self, conversation_id: int, kind: str | None = None) -> list[str]:
        """The bodies held for a conversation, in seq order."""
        with self.lock:
            messages = [
                self.held[conversation_id][s]
                for s in sorted(self.held[conversation_id])
            ]
        return [
            m["body"] for m in messages if kind is None or m["author"]["kind"] == kind
        ]

    def _hold(self, message: dict) -> bool:
        with self.lock:
            held = self.held.setdefault(message["conversation_id"], {})
            if message["seq"] in held:
                return False
            held[message["seq"]] = message
            return True

    def _on_message(self, message: dict) -> None:
        self.live_count += 1
        conversation_id = message["conversation_id"]
        gap = message["prev_seq"] > self.last_seq(conversation_id)
        if gap:
            threading.Thread(target=self._sync_quietly, daemon=True).start()
            return
        self._hold(message)

    def _on_resync(self, _data: dict) -> None:
        threading.Thread(target=self._sync_quietly, daemon=True).start()

    def _sync_quietly(self) -> None:
        try:
            self.sync()
        except Exception:  # the connection may have gone; the next connect syncs
            pass

    def _record(self, event: str, data=None) -> None:
        with self.lock:
            self.events.append((event, data))

    def received(self, event: str) -> list[dict]:
        """Payloads of the ``event`` events received so far (besides messages)."""
        with self.lock:
            return [data for name, data in self.events if name == event]

    def _on_refused(self, data) -> None:
        self.refusal = (data or {}).get("data") or data


def wait_for_bodies(
    client: ChatClient, conversation_id: int, expected: list[str], kind: str
):
    """Wait until ``client`` holds exactly ``expected`` from ``kind`` authors."""
    wait_until(
        lambda: client.bodies(conversation_id, kind) == expected,
        timeout=30,
        what=f"{len(expected)} {kind} messages",
    )
