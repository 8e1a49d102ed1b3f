"""Socket.IO clients for tests: in-process ones for handler tests."""

from __future__ import annotations

import uuid

from app.extensions import socketio

ORIGIN = "https://shop.example"


def new_id() -> str:
    """Return a fresh client message id."""
    return uuid.uuid4().hex


def open_widget(app, client, workspace, token=None, origin=ORIGIN):
    """Open a visitor session over HTTP and connect an in-process /widget client."""
    body = {"key": workspace.widget_key}
    if token:
        body["token"] = token
    session = client.post(
        "/api/widget/session", json=body, headers={"Origin": origin}
    ).json
    sock = socketio.test_client(
        app,
        namespace="/widget",
        auth={"key": workspace.widget_key, "token": session["token"]},
        headers={"Origin": origin},
    )
    sock.token = session["token"]
    return sock


def open_agent(app, signed_in_client):
    """Connect an in-process /agent client with a signed-in test client's cookie."""
    return socketio.test_client(
        app, namespace="/agent", flask_test_client=signed_in_client
    )


def call(sock, namespace, event, data):
    """Emit ``event`` and return its ack."""
    return sock.emit(event, data, namespace=namespace, callback=True)


def received(sock, namespace, name):
    """Return the payloads of ``name`` events received since the last call."""
    # The test client keeps the payload of events named "message" unwrapped.
    return [
        item["args"] if name == "message" else item["args"][0]
        for item in sock.get_received(namespace)
        if item["name"] == name
    ]
