"""The visitor widget end to end: real Chromium, a real Parley, real sockets.

A `parley serve` process runs on a fresh database. The pages that embed the
widget come from a separate little HTTP server on another port, so the widget
is cross-origin as on a company's site. The agent's side is a python-socketio
client on /agent with a signed-in session cookie.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import socketio
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.domain.tenancy import Tenant
from app.models import AuthorKind, Availability, Conversation, Message, User, Visitor
from app.routing.assignment import (
    agent_load,
    assign_to,
    estimated_wait,
    queued_conversations,
    set_availability,
    set_capacity,
)
from app.routing.setup import create_team, set_members
from tests.support.factories import PASSWORD, Factory
from tests.support.http import csrf_token, sign_in
from tests.support.processes import ROOT, WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgresql_only]

SECRET = "browser-test-secret-of-more-than-32-characters"
AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"
HOSTILE_CSS = (
    "* { all: unset !important } "
    "div { z-index: 2147483647 !important; display: none !important }"
)
# A page element pinned over the corner the launcher sits in, as high as
# z-index goes, and earlier in the document than the widget.
OVERLAY_CSS = (
    "aside { display: block !important; position: fixed !important; "
    "right: 0 !important; bottom: 0 !important; width: 50vw !important; "
    "height: 50vh !important; z-index: 2147483647 !important; "
    "background: #fc0 !important }"
)
WAIT_MS = 20_000


# Host pages -----------------------------------------------------------------


@dataclass
class HostPages:
    """A tiny web server for the company's pages, on its own origin."""

    pages: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, html: str, headers: dict[str, str] | None = None) -> str:
        """Serve ``html`` at ``path``; return its URL."""
        self.pages[path] = (html, headers or {})
        return self.origin + path

    def start(self) -> HostPages:
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                html, headers = pages.get(self.path, ("Not found", {}))
                body = html.encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def page_html(parley_url: str, key: str, title: str, head: str = "") -> str:
    """Return a company page that embeds the widget with the one tag."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body><main><h1>{title}</h1><div><p>Our products.</p></div>
<button id="page-button" type="button">A button of the page</button></main>
<aside>A banner of the page</aside>
<script async src="{parley_url}/widget.js" data-key="{key}"></script>
</body></html>"""


# The agent ----------------------------------------------------------------------


class Agent:
    """An agent on /agent through python-socketio, signed in by the form."""

    def __init__(self, base_url: str, email: str) -> None:
        http = requests.Session()
        landed = sign_in(http, base_url, email, PASSWORD)
        assert landed.status_code == 200, landed.text
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        self.received: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("message", self.received.append, namespace="/agent")
        self.client.connect(
            base_url,
            namespaces=["/agent"],
            headers={"Cookie": cookie},
            transports=["websocket"],
            wait_timeout=10,
        )

    def call(self, event: str, payload: dict) -> dict:
        ack = self.client.call(event, payload, namespace="/agent", timeout=10)
        assert ack["ok"], ack
        return ack

    def join(self, conversation_id: int) -> None:
        """Follow a conversation, taking in what it holds already."""
        ack = self.call(
            "conversation:join", {"conversation_id": conversation_id, "last_seq": 0}
        )
        self.received.extend(ack["conversation"]["messages"])

    def say(self, conversation_id: int, body: str) -> dict:
        """Send a reply and return the stored message."""
        payload = {
            "conversation_id": conversation_id,
            "client_msg_id": uuid.uuid4().hex,
            "body": body,
        }
        return self.call("message:send", payload)["message"]

    def heard(self, body: str) -> int:
        """How many times a message with ``body`` reached this agent."""
        return sum(1 for message in self.received if message["body"] == body)

    def close(self) -> None:
        self.client.disconnect()


# Fixtures -------------------------------------------------------------------------


@dataclass
class Stack:
    """A running Parley, its workspace and agent, and the company's pages."""

    parley: WebProcess
    make: Factory
    key: str
    agent_email: str
    pages: HostPages
    browser: Browser

    def agent(self) -> Agent:
        return Agent(self.parley.url, self.agent_email)

    def conversations(self) -> list[Conversation]:
        session = self.make.session
        session.expire_all()
        return list(session.scalars(select(Conversation).order_by(Conversation.id)))

    def visitor_bodies(self, conversation_id: int) -> list[str]:
        """The bodies stored in a conversation, in order."""
        session = self.make.session
        session.expire_all()
        query = (
            select(Message.body)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq)
        )
        return list(session.scalars(query))

    def visitor_count(self) -> int:
        session = self.make.session
        session.expire_all()
        return len(session.scalars(select(Visitor.id)).all())

    def plain_page(self) -> str:
        html = page_html(self.parley.url, self.key, "Plain shop")
        return self.pages.add("/plain.html", html)

    def hostile_page(self) -> str:
        head = f"<style>{HOSTILE_CSS} {OVERLAY_CSS}</style>"
        html = page_html(self.parley.url, self.key, "Hostile shop", head)
        return self.pages.add("/hostile.html", html)


@pytest.fixture
def stack(app, make, database_url, tmp_path, browser) -> Iterator[Stack]:
    """Serve Parley on the test's database, with a workspace and an agent."""
    workspace = make.workspace("Acme", greeting="Hello from Acme!", color="#0b6e4f")
    agent = make.agent(workspace, name="Alex Agent")
    port = free_port()
    env = base_env(
        PARLEY_ENV="development",
        PARLEY_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    parley = WebProcess("parley serve", env, port).start()
    pages = HostPages().start()
    try:
        parley.wait_ready()
        yield Stack(parley, make, workspace.widget_key, agent.email, pages, browser)
    finally:
        pages.stop()
        parley.kill()


def open_widget(page: Page) -> None:
    """Open the panel with the launcher and wait for the composer."""
    page.locator("parley-widget .launcher").click()
    expect(page.locator("parley-widget textarea")).to_be_visible(timeout=WAIT_MS)


def send(page: Page, body: str) -> None:
    """Type ``body`` into the composer and press Enter."""
    box = page.locator("parley-widget textarea")
    box.fill(body)
    box.press("Enter")


def bubbles(page: Page):
    return page.locator("parley-widget .log .bubble")


def first_conversation(stack: Stack) -> Conversation:
    return wait_until(
        lambda: next(iter(stack.conversations()), None),
        timeout=20,
        what="the visitor's conversation",
    )


# Tests ------------------------------------------------------------------------------


def test_hostile_page_visitor_and_agent_talk(stack):
    """On a page whose CSS unsets everything, a visitor and an agent chat."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.hostile_page())

    launcher = page.locator("parley-widget .launcher")
    expect(launcher).to_be_visible(timeout=WAIT_MS)
    box = launcher.bounding_box()
    assert box["width"] >= 40 and box["height"] >= 40
    # Nothing of the page covers the launcher: a click there reaches it.
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).tagName",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top == "PARLEY-WIDGET"
    # The page's banner is there, under the launcher.
    beneath = page.evaluate(
        "([x, y]) => document.elementsFromPoint(x, y).map((e) => e.tagName)",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert beneath[:2] == ["PARLEY-WIDGET", "ASIDE"]

    open_widget(page)
    expect(page.locator("parley-widget h2")).to_have_text("Chat with Acme")
    expect(bubbles(page).first).to_have_text("Hello from Acme!")
    send(page, "Hello, is anyone there?")

    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        wait_until(lambda: agent.heard("Hello, is anyone there?") == 1, timeout=20)
        agent.say(conversation.id, "Yes, Alex here. How can I help?")
        expect(bubbles(page).last).to_have_text(
            "Yes, Alex here. How can I help?", timeout=WAIT_MS
        )
        expect(page.locator("parley-widget .log")).to_contain_text("Alex Agent")
    finally:
        agent.close()
        context.close()


def stored_token(page: Page, key: str) -> str | None:
    return page.evaluate("(key) => localStorage.getItem(`parley:${key}:token`)", key)


def test_reload_keeps_the_conversation(stack):
    """After a reload the same visitor sees the whole conversation again."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "My order has not arrived.")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "Let me check that for you.")
        expect(bubbles(page).last).to_have_text("Let me check that for you.")
        assert stored_token(page, stack.key)

        page.reload()
        open_widget(page)
        expect(bubbles(page)).to_have_text(
            [
                "Hello from Acme!",
                "My order has not arrived.",
                "Let me check that for you.",
            ],
            timeout=WAIT_MS,
        )
        assert stored_token(page, stack.key)
        assert [c.id for c in stack.conversations()] == [conversation.id]
        assert stack.visitor_count() == 1
    finally:
        agent.close()
        context.close()


def test_two_tabs_show_the_same_conversation(stack):
    """Two open tabs share one conversation: messages, replies and read marks."""
    context = stack.browser.new_context()
    first = context.new_page()
    first.goto(stack.plain_page())
    second = context.new_page()
    second.goto(stack.plain_page())
    expect(second.locator("parley-widget .launcher")).to_be_visible()

    open_widget(first)
    send(first, "Written in the first tab")
    conversation = first_conversation(stack)
    first.keyboard.press("Escape")

    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "A reply for both tabs")
        for page in (first, second):
            expect(page.locator("parley-widget .badge")).to_have_text(
                "1", timeout=WAIT_MS
            )

        open_widget(second)
        expect(bubbles(second)).to_have_text(
            ["Hello from Acme!", "Written in the first tab", "A reply for both tabs"]
        )
        # Read in the second tab, so no longer unread in the first.
        expect(first.locator("parley-widget .badge")).to_be_hidden()

        send(second, "Written in the second tab")
        open_widget(first)
        expect(bubbles(first).last).to_have_text("Written in the second tab")
        assert stack.visitor_bodies(conversation.id) == [
            "Written in the first tab",
            "A reply for both tabs",
            "Written in the second tab",
        ]
        expect(bubbles(second)).to_have_count(4)
        expect(bubbles(first)).to_have_count(4)
    finally:
        agent.close()
        context.close()


def test_messages_written_offline_arrive_once(stack):
    """Sends queued while the browser is offline are delivered exactly once."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "Before the outage")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        expect(page.locator("parley-widget .msg.mine .status")).to_contain_text(
            ["Sent"], timeout=WAIT_MS
        )

        context.set_offline(True)
        notice = page.locator("parley-widget .notice")
        expect(notice).to_contain_text("Reconnecting…", timeout=WAIT_MS)
        queued = ["Queued one", "Queued two", "Queued three"]
        for body in queued:
            send(page, body)
        expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
            ["Sent", "Sending", "Sending", "Sending"], timeout=WAIT_MS
        )
        assert stack.visitor_bodies(conversation.id) == ["Before the outage"]

        context.set_offline(False)
        expect(notice).not_to_contain_text("Reconnecting", timeout=WAIT_MS)
        expected = ["Before the outage", *queued]
        wait_until(
            lambda: len(stack.visitor_bodies(conversation.id)) >= len(expected),
            timeout=30,
            what="the queued messages",
        )
        expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
            ["Sent"] * 4, timeout=WAIT_MS
        )
        assert stack.visitor_bodies(conversation.id) == expected
        wait_until(lambda: all(agent.heard(body) for body in queued), timeout=20)
        assert [agent.heard(body) for body in expected] == [1, 1, 1, 1]
        assert bubbles(page).all_inner_texts() == ["Hello from Acme!", *expected]
    finally:
        agent.close()
        context.close()


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target),
  }));
}"""


def serious_violations(page: Page) -> list[dict]:
    """Run axe-core on the page; return its serious and critical findings."""
    found = page.evaluate(AXE_RUN)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_axe_finds_nothing_serious(stack):
    """axe-core reports no serious or critical violation, closed or open."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    expect(page.locator("parley-widget .launcher")).to_be_visible(timeout=WAIT_MS)
    page.add_script_tag(path=str(AXE))
    assert serious_violations(page) == []

    open_widget(page)
    send(page, "Checking accessibility")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "Replying so the log has both sides.")
        expect(bubbles(page).last).to_have_text("Replying so the log has both sides.")
        scanned = page.evaluate(AXE_RUN)
        assert isinstance(scanned, list)
        assert serious_violations(page) == []
    finally:
        agent.close()
        context.close()


def test_keyboard_alone_opens_uses_and_closes_the_widget(stack):
    """Tab reaches the launcher, focus stays in the open panel, Escape returns."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    expect(page.locator("parley-widget .launcher")).to_be_visible(timeout=WAIT_MS)
    in_widget = "() => document.activeElement?.tagName === 'PARLEY-WIDGET'"
    focused = (
        "() => document.querySelector('parley-widget')"
        ".shadowRoot.activeElement?.className"
    )

    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate(in_widget):
            break
    assert page.evaluate(focused) == "launcher"
    page.keyboard.press("Enter")
    expect(page.locator("parley-widget .panel")).to_be_visible()
    assert (
        page.evaluate(
            "() => document.querySelector('parley-widget')"
            ".shadowRoot.activeElement.tagName"
        )
        == "TEXTAREA"
    )
    page.keyboard.type("Typed with the keyboard")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("on two lines")
    page.keyboard.press("Enter")
    expect(bubbles(page).last).to_have_text("Typed with the keyboard\non two lines")

    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate(in_widget)
    page.keyboard.press("Escape")
    expect(page.locator("parley-widget .panel")).to_be_hidden()
    assert page.evaluate(focused) == "launcher"
    context.close()


def test_strict_csp_page_works(stack):
    """A page that allows no inline script, no eval and no style runs the widget."""
    parley = stack.parley.url
    policy = (
        f"default-src 'none'; script-src {parley}; "
        f"connect-src {parley} {parley.replace('http', 'ws', 1)}; "
        "style-src 'none'; img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    url = stack.pages.add(
        "/strict.html",
        page_html(parley, stack.key, "Strict shop"),
        {"Content-Security-Policy": policy},
    )
    context = stack.browser.new_context()
    page = context.new_page()
    refusals: list[str] = []
    page.on(
        "console",
        lambda m: refusals.append(m.text) if "Content Security Policy" in m.text else 0,
    )
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(url)
    launcher = page.locator("parley-widget .launcher")
    expect(launcher).to_be_visible(timeout=WAIT_MS)
    # The stylesheet applied: the launcher wears the workspace's colour.
    expect(launcher).to_have_css("background-color", "rgb(11, 110, 79)")

    open_widget(page)
    send(page, "Hello from a strict page")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "Strict pages are welcome.")
        expect(bubbles(page).last).to_have_text("Strict pages are welcome.")
        assert refusals == []
        assert sockets and sockets[0].startswith(parley.replace("http", "ws", 1))
    finally:
        agent.close()
        context.close()


def test_reply_while_closed_raises_badge_and_flashes_title(stack):
    """A reply to a closed widget shows an unread badge and flashes the title."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "Please write back")
    conversation = first_conversation(stack)
    page.keyboard.press("Escape")
    badge = page.locator("parley-widget .badge")
    expect(badge).to_be_hidden()

    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "Here is my answer.")
        expect(badge).to_have_text("1", timeout=WAIT_MS)
        launcher = page.locator("parley-widget .launcher")
        expect(launcher).to_have_attribute("aria-label", "Open chat, 1 unread")
        wait_until(lambda: page.title() == "(1) New message", timeout=10)

        open_widget(page)
        expect(badge).to_be_hidden()
        wait_until(lambda: page.title() == "Plain shop", timeout=10)
        session = stack.make.session
        wait_until(
            lambda: (
                session.get(
                    Conversation, conversation.id, populate_existing=True
                ).visitor_read_seq
                == 2
            ),
            timeout=10,
            what="the visitor's read mark",
        )
    finally:
        agent.close()
        context.close()


def test_page_url_title_and_referrer_travel_with_the_conversation(stack):
    """The conversation records the page the visitor wrote from."""
    context = stack.browser.new_context()
    page = context.new_page()
    url = stack.plain_page()
    page.goto(url, referer="https://search.example/?q=acme")
    open_widget(page)
    send(page, "Where am I?")
    conversation = first_conversation(stack)
    assert conversation.context["url"] == url
    assert conversation.context["title"] == "Plain shop"
    assert conversation.context["referrer"] == "https://search.example/?q=acme"
    context.close()


def test_phone_sized_screen_gets_a_full_screen_panel(stack):
    """Below 480 px wide the open panel covers the whole viewport."""
    context = stack.browser.new_context(viewport={"width": 400, "height": 740})
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    box = page.locator("parley-widget .panel").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 400, 740)
    page.set_viewport_size({"width": 1024, "height": 740})
    box = page.locator("parley-widget .panel").bounding_box()
    assert box["width"] < 500 and box["x"] > 500
    context.close()


def test_german_browser_gets_german_words(stack):
    """The widget speaks the browser's language when it knows it."""
    context = stack.browser.new_context(locale="de-DE")
    page = context.new_page()
    page.goto(stack.plain_page())
    launcher = page.locator("parley-widget .launcher")
    expect(launcher).to_have_attribute("aria-label", "Chat öffnen", timeout=WAIT_MS)
    open_widget(page)
    expect(page.locator("parley-widget h2")).to_have_text("Chat mit Acme")
    box = page.locator("parley-widget textarea")
    expect(box).to_have_attribute("placeholder", "Nachricht schreiben…")
    send(page, "Hallo")
    expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
        ["Gesendet"], timeout=WAIT_MS
    )
    context.close()


def test_javascript_api_opens_closes_reports_and_shuts_down(stack):
    """Parley.open, close, on and shutdown do what the README says."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    page.wait_for_function("() => window.Parley && window.Parley.version === 1")
    page.evaluate(
        """() => {
          window.seen = [];
          for (const name of ["open", "close", "unread", "message"]) {
            Parley.on(name, (detail) => seen.push([name, detail ?? null]));
          }
        }"""
    )
    page.evaluate("() => Parley.open()")
    expect(page.locator("parley-widget .panel")).to_be_visible()
    send(page, "Testing the API")
    conversation = first_conversation(stack)
    page.evaluate("() => Parley.close()")
    expect(page.locator("parley-widget .panel")).to_be_hidden()

    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "An answer for the API")
        page.wait_for_function("() => seen.some(([name]) => name === 'message')")
        seen = page.evaluate("() => seen")
        assert ["open", None] in seen and ["close", None] in seen
        assert ["unread", 1] in seen
        [message] = [detail for name, detail in seen if name == "message"]
        assert message["body"] == "An answer for the API"
        assert message["author"]["name"] == "Alex Agent"

        page.evaluate("() => Parley.shutdown()")
        assert stored_token(page, stack.key) is None
        page.reload()
        open_widget(page)
        expect(bubbles(page)).to_have_text(["Hello from Acme!"])
        wait_until(lambda: stack.visitor_count() == 2, timeout=10)
    finally:
        agent.close()
        context.close()


def test_agent_typing_read_marks_and_notes(stack):
    """The visitor sees typing and read marks, never notes, and no message lost."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "Is my parcel lost?")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        typing = {"conversation_id": conversation.id, "typing": True}
        agent.client.emit("typing", typing, namespace="/agent")
        line = page.locator("parley-widget .typing")
        expect(line).to_have_text("Alex Agent is typing…", timeout=WAIT_MS)
        agent.call("read", {"conversation_id": conversation.id, "seq": 1})
        expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
            ["Read"], timeout=WAIT_MS
        )

        note = {
            "conversation_id": conversation.id,
            "client_msg_id": uuid.uuid4().hex,
            "body": "Internal: check the courier",
            "note": True,
        }
        agent.call("message:send", note)
        agent.say(conversation.id, "It is on its way.")
        expect(bubbles(page)).to_have_text(
            ["Hello from Acme!", "Is my parcel lost?", "It is on its way."],
            timeout=WAIT_MS,
        )
        expect(line).to_be_hidden()
        assert "courier" not in page.locator("parley-widget .log").inner_text()
    finally:
        agent.close()
        context.close()


def serve_workspace_fields(page: Page, **fields) -> None:
    """Add proposed ``workspace`` fields to the real session answer."""

    def handle(route):
        response = route.fetch()
        data = response.json()
        data["workspace"].update(fields)
        route.fulfill(response=response, json=data)

    page.route("**/api/widget/session", handle)


def sent_frames(page: Page) -> list[str]:
    """Collect the Socket.IO frames the page sends from now on."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(f)))
    return frames


def test_prechat_form_goes_with_the_first_message(stack):
    """With the proposed `prechat` setting, its answers go with the first send."""
    context = stack.browser.new_context()
    page = context.new_page()
    prechat = {
        "fields": [
            {"name": "name", "required": True},
            {"name": "email"},
            {
                "name": "topic",
                "options": [
                    {"value": "billing", "label": "Billing"},
                    {"value": "tech", "label": "Technical help"},
                ],
            },
        ]
    }
    serve_workspace_fields(page, prechat=prechat)
    frames = sent_frames(page)
    page.goto(stack.plain_page())
    page.locator("parley-widget .launcher").click()
    form = page.locator("parley-widget form.card").first
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("parley-widget textarea")).to_be_hidden()
    expect(page.get_by_label("Name *")).to_be_focused()

    page.get_by_role("button", name="Start chat").click()
    expect(form).to_be_visible()  # the required name is missing
    page.get_by_label("Name *").fill("Dana")
    page.get_by_label("Topic").select_option("tech")
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("parley-widget textarea")).to_be_focused()
    send(page, "The app crashes")
    first_conversation(stack)
    wait_until(lambda: any('"message:send"' in f for f in frames), timeout=10)
    [frame] = [f for f in frames if '"message:send"' in f]
    assert '"prechat":{"name":"Dana","topic":"tech"}' in frame
    context.close()


def test_offline_notice_asks_for_an_email(stack):
    """With the proposed `availability` offline, the widget asks for an email."""
    context = stack.browser.new_context()
    page = context.new_page()
    serve_workspace_fields(
        page, availability={"online": False, "reason": "outside_hours"}
    )
    frames = sent_frames(page)
    page.goto(stack.plain_page())
    open_widget(page)
    notice = page.locator("parley-widget .notice")
    expect(notice).to_have_text("We are outside our business hours.")
    email = page.get_by_label("Email")
    email.fill("not an email")
    page.get_by_role("button", name="Save").click()
    expect(email).to_be_visible()
    email.fill("dana@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("parley-widget form.card p").last).to_have_text(
        "Thanks, we will reply to dana@example.com."
    )
    expect(email).to_be_hidden()
    wait_until(lambda: any('"visitor:update"' in f for f in frames), timeout=10)
    assert any('{"email":"dana@example.com"}' in f for f in frames)
    send(page, "Please call me back")
    first_conversation(stack)
    context.close()


def test_widget_stays_hidden_on_a_site_the_workspace_does_not_allow(stack):
    """A page outside the allowed origins gets no launcher, and no session."""
    workspace = stack.make.workspace("Locked", allowed_origins=["https://shop.example"])
    html = page_html(stack.parley.url, workspace.widget_key, "Elsewhere")
    url = stack.pages.add("/elsewhere.html", html)
    context = stack.browser.new_context()
    page = context.new_page()
    with page.expect_response("**/api/widget/session") as answer:
        page.goto(url)
    assert answer.value.status == 403
    page.wait_for_function(
        "() => document.querySelector('parley-widget')"
        "?.shadowRoot.querySelector('.root').hidden === true"
    )
    expect(page.locator("parley-widget .launcher")).to_be_hidden()
    assert stored_token(page, workspace.widget_key) is None
    context.close()


def test_widget_reconnects_and_catches_up_after_a_server_restart(stack):
    """When Parley restarts, the widget reconnects, catches up and sends."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "Before the restart")
    conversation = first_conversation(stack)
    expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
        ["Sent"], timeout=WAIT_MS
    )

    stack.parley.kill()
    notice = page.locator("parley-widget .notice")
    expect(notice).to_contain_text("Reconnecting…", timeout=WAIT_MS)
    send(page, "During the restart")
    # A reply stored while the widget is away reaches it by catch-up.
    stack.make.message(
        stack.make.session.get(Conversation, conversation.id),
        "Stored while you were away",
        kind=AuthorKind.AGENT,
        author_id=stack.make.session.scalar(select(User.id)),
    )
    stack.parley.start().wait_ready()

    expect(notice).not_to_contain_text("Reconnecting", timeout=45_000)
    expect(bubbles(page)).to_have_text(
        [
            "Hello from Acme!",
            "Before the restart",
            "Stored while you were away",
            "During the restart",
        ],
        timeout=WAIT_MS,
    )
    expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
        ["Sent", "Sent"], timeout=WAIT_MS
    )
    assert stack.visitor_bodies(conversation.id) == [
        "Before the restart",
        "Stored while you were away",
        "During the restart",
    ]
    context.close()


# How long the default team's last visitors waited for a first agent, oldest
# first: their median, the widget's estimate, is four minutes.
PAST_WAITS = [timedelta(minutes=minutes) for minutes in (3, 4, 4, 10)]


def full_team_with_a_queue(stack: Stack) -> tuple[User, list[Conversation], list]:
    """Give the workspace an open default team whose one agent is full.

    The agent, online, holds one conversation for each of PAST_WAITS, taken
    after that wait, which fills their capacity; two more conversations wait
    in the team's queue. Returns the agent, what they hold and the waiting
    conversations, next first. All through the routing functions, so the
    server reads the state it would have made itself.
    """
    session = stack.make.session
    agent = session.scalar(select(User).where(User.email == stack.agent_email))
    workspace = agent.workspace
    admin = stack.make.admin(workspace)
    tenant = Tenant(session, workspace.id)
    team = create_team(tenant, "Support", by=admin)
    assert team.is_default and team.business_hours == {}  # always open
    set_members(tenant, team.id, {agent.id}, by=admin)
    set_capacity(session, agent.id, len(PAST_WAITS))

    # Nobody is online yet, so each new conversation waits in the queue.
    held = [stack.make.conversation(workspace) for _ in PAST_WAITS]
    for conversation, waited in zip(held, PAST_WAITS, strict=True):
        assign_to(
            session, conversation.id, agent.id, now=conversation.created_at + waited
        )
    assert set_availability(session, agent.id, Availability.ONLINE) == []
    waiting = [stack.make.conversation(workspace) for _ in range(2)]

    assert agent_load(session, agent.id) == agent.capacity == len(PAST_WAITS)
    assert queued_conversations(session, team.id) == [c.id for c in waiting]
    assert estimated_wait(session, team.id) == timedelta(minutes=4)
    return agent, held, waiting


def console_for(stack: Stack, email: str) -> requests.Session:
    """Sign in to the console as ``email``, ready for its actions' posts."""
    http = requests.Session()
    landed = sign_in(http, stack.parley.url, email, PASSWORD)
    assert landed.status_code == 200, landed.text
    inbox = http.get(f"{stack.parley.url}/console/", timeout=10)
    http.headers["X-CSRFToken"] = csrf_token(inbox.text)
    http.headers["Accept"] = "application/json"
    return http


def test_queue_position_shows_while_waiting(stack):
    """The visitor sees their real place in the queue and the wait, kept live.

    Nothing is intercepted: the server computes the `queue` summary field
    from the database, then pushes the new place whenever room frees ahead.
    """
    agent, held, waiting = full_team_with_a_queue(stack)
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "Anyone free?")
    expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
        ["Sent"], timeout=WAIT_MS
    )
    mine = stack.conversations()[-1]
    assert mine.id not in {c.id for c in held + waiting}
    assert mine.assignee_id is None
    notice = page.locator("parley-widget .notice")
    expect(notice).to_have_text(
        "You are number 3 in the queue. Estimated wait: about 4 min.",
        timeout=WAIT_MS,
    )

    # Room frees in the server (an agent's actions in the console), which
    # tells the visitors still waiting their new place at once.
    console = console_for(stack, agent.email)

    def close(conversation: Conversation) -> None:
        url = f"{stack.parley.url}/console/conversations/{conversation.id}/close"
        answer = console.post(url, timeout=10)
        assert answer.status_code == 200 and answer.json()["ok"], answer.text

    try:
        # The visitor at the head of the queue gives up and is closed.
        close(waiting[0])
        expect(notice).to_have_text(
            "You are number 2 in the queue. Estimated wait: about 4 min.",
            timeout=WAIT_MS,
        )
        # The agent ends a chat; the next in the queue gets them.
        close(held[0])
        expect(notice).to_have_text(
            "You are number 1 in the queue. Estimated wait: about 4 min.",
            timeout=WAIT_MS,
        )
        # And another: now it is this visitor's turn, so the notice goes.
        close(held[1])
        expect(page.locator("parley-widget .log")).to_contain_text(
            "Alex Agent joined the conversation.", timeout=WAIT_MS
        )
        expect(notice).to_be_hidden()
        expect(notice).to_have_text("")
        stack.make.session.expire_all()
        assert stack.make.session.get(Conversation, mine.id).assignee_id == agent.id
    finally:
        console.close()
        context.close()


def test_links_are_clickable_and_markup_stays_text(stack):
    """A reply's link is clickable; markup written in a message shows as text."""
    context = stack.browser.new_context()
    page = context.new_page()
    page.goto(stack.plain_page())
    open_widget(page)
    send(page, "<img src=x onerror=alert(1)> is what I see")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "See https://example.com/help for <b>more</b>")
        link = page.locator("parley-widget .bubble a")
        expect(link).to_have_attribute("href", "https://example.com/help")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener nofollow")
        expect(bubbles(page)).to_have_text(
            [
                "Hello from Acme!",
                "<img src=x onerror=alert(1)> is what I see",
                "See https://example.com/help for <b>more</b>",
            ]
        )
        assert page.locator("parley-widget .bubble img, parley-widget b").count() == 0
    finally:
        agent.close()
        context.close()


def test_identify_sends_the_identity_and_another_user_starts_afresh(stack):
    """identify() sends the proposed identity; a different id forgets the last."""
    context = stack.browser.new_context()
    page = context.new_page()
    sessions: list[dict] = []

    def record(request):
        if request.method == "POST" and request.url.endswith("/api/widget/session"):
            sessions.append(request.post_data_json)

    page.on("request", record)
    page.goto(stack.plain_page())
    page.wait_for_function("() => window.Parley && window.Parley.version === 1")
    page.evaluate(
        "() => Parley.identify({id: 'user-1', email: 'one@example.com',"
        " name: 'One', hash: 'c0ffee'})"
    )
    open_widget(page)
    send(page, "I am user one")
    first_conversation(stack)
    expect(page.locator("parley-widget .msg.mine .status")).to_have_text(
        ["Sent"], timeout=WAIT_MS
    )

    page.evaluate("() => Parley.identify({id: 'user-2'})")
    expect(bubbles(page)).to_have_text(["Hello from Acme!"])
    wait_until(
        lambda: any(s.get("identity") == {"id": "user-2"} for s in sessions),
        timeout=10,
        what="a session for user-2",
    )
    one = next(s for s in sessions if "identity" in s)
    assert one["identity"] == {
        "id": "user-1",
        "email": "one@example.com",
        "name": "One",
        "hash": "c0ffee",
    }
    two = next(s for s in sessions if s.get("identity") == {"id": "user-2"})
    assert "token" not in two
    context.close()


def test_chat_falls_back_to_long_polling_without_websockets(stack):
    """Where WebSockets may not open, the widget chats over long-polling."""
    parley = stack.parley.url
    # connect-src without ws: the browser refuses the WebSocket before it opens.
    policy = f"default-src 'none'; script-src {parley}; connect-src {parley}"
    html = page_html(parley, stack.key, "No WebSocket shop")
    url = stack.pages.add(
        "/no-websocket.html", html, {"Content-Security-Policy": policy}
    )
    context = stack.browser.new_context()
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    polls: list[str] = []
    page.on(
        "request",
        lambda r: polls.append(r.url) if "transport=polling" in r.url else None,
    )
    page.goto(url)
    open_widget(page)
    send(page, "Sent without a WebSocket")
    conversation = first_conversation(stack)
    agent = stack.agent()
    try:
        agent.join(conversation.id)
        agent.say(conversation.id, "Received without one too")
        expect(bubbles(page).last).to_have_text(
            "Received without one too", timeout=WAIT_MS
        )
        assert polls
        assert sockets == []
    finally:
        agent.close()
        context.close()


def test_calls_made_before_the_bundle_loads_are_replayed(stack):
    """Parley.on and Parley.open called before the bundle arrives still work."""
    context = stack.browser.new_context()
    page = context.new_page()
    held = []
    page.route("**/widget/parley-widget.*.js", lambda route: held.append(route))
    page.goto(stack.plain_page(), wait_until="domcontentloaded")
    page.wait_for_function("() => window.Parley && Array.isArray(Parley._queue)")
    page.evaluate(
        """() => {
          window.seen = [];
          Parley.on("open", () => seen.push("open"));
          const stop = Parley.on("close", () => seen.push("close"));
          stop();
          Parley.open();
        }"""
    )
    expect(page.locator("parley-widget")).to_have_count(0)
    for _ in range(200):  # poll (pumping Playwright's events) until it is held
        if held:
            break
        page.wait_for_timeout(50)
    [bundle] = held
    bundle.continue_()
    expect(page.locator("parley-widget .panel")).to_be_visible(timeout=WAIT_MS)
    page.evaluate("() => Parley.close()")
    expect(page.locator("parley-widget .panel")).to_be_hidden()
    assert page.evaluate("() => seen") == ["open"]
    context.close()
