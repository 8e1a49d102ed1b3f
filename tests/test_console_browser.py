"""The agent console end to end: real Chromium, a real `parley serve`, and a
visitor on a real /widget socket (python-socketio, as tests/support/live.py).

Each test signs agents in through the form, watches the console change live,
and checks what the visitor's socket did and did not receive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.factories import PASSWORD, Factory
from tests.support.live import ChatClient, visitor_token, wait_for_bodies
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgresql_only]

SECRET = "console-browser-test-secret-of-more-than-32-characters"
ORIGIN = "https://shop.example"
WAIT_MS = 20_000


@dataclass
class Stack:
    """A running Parley with a workspace, two agents and two teams."""

    parley: WebProcess
    make: Factory
    key: str
    alex: str
    sam: str
    browser: Browser

    def visitor(self, name: str) -> ChatClient:
        """Connect a visitor on /widget; set their name as the widget would."""
        token = visitor_token(self.parley.url, self.key, ORIGIN)
        client = ChatClient("/widget", origin=ORIGIN)
        client.connect(self.parley.url, auth={"key": self.key, "token": token})
        client.name = name
        return client

    def console(self, email: str) -> Page:
        """Sign ``email`` in through the form in a fresh browser context."""
        page = self.browser.new_context().new_page()
        page.goto(f"{self.parley.url}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Unassigned", timeout=WAIT_MS)
        expect(page.locator("[data-connection]")).to_have_text("Live", timeout=WAIT_MS)
        return page


@pytest.fixture
def stack(request, app, make, database_url, tmp_path, browser) -> Iterator[Stack]:
    """Serve Parley on the test's database with agents Alex and Sam.

    A test may pass more settings as the fixture's parameter.
    """
    workspace = make.workspace("Acme")
    alex = make.agent(workspace, name="Alex Agent", email="alex@acme.test")
    sam = make.agent(workspace, name="Sam Second", email="sam@acme.test")
    # Manual teams: nothing is handed out by itself, agents take or transfer.
    support = make.team(workspace, members=[alex, sam], name="Support")
    billing = make.team(workspace, members=[sam], name="Billing")
    for team in (support, billing):
        team.strategy = "manual"
    make.session.commit()
    port = free_port()
    env = base_env(
        PARLEY_ENV="development",
        PARLEY_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        **getattr(request, "param", {}),
    )
    parley = WebProcess("parley serve", env, port).start()
    try:
        parley.wait_ready()
        yield Stack(parley, make, workspace.widget_key, alex.email, sam.email, browser)
    finally:
        parley.kill()


def start_conversation(visitor: ChatClient, body: str) -> int:
    """Send the visitor's first message; return the new conversation's id."""
    ack = visitor.send(None, body)
    assert ack["ok"], ack
    conversation_id = ack["conversation"]["id"]
    visitor.follow(conversation_id)
    return conversation_id


def row(page: Page, conversation_id: int):
    """The inbox row of a conversation."""
    return page.locator(f'tr[data-conversation="{conversation_id}"]')


def test_failed_then_successful_sign_in(stack):
    """A wrong password says so and stays out; the right one opens the inbox."""
    page = stack.browser.new_context().new_page()
    page.goto(f"{stack.parley.url}/console/")
    expect(page).to_have_url(f"{stack.parley.url}/login?next=%2Fconsole%2F")
    page.fill("#email", stack.alex)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text(
        "That email and password do not match an account."
    )
    page.fill("#email", stack.alex)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.locator(".who")).to_contain_text("Alex Agent")
    page.context.close()


def test_a_conversation_from_arrival_to_search(stack):
    """Arrive live, take, reply, note, transfer live, close, reopen, search."""
    alex = stack.console(stack.alex)
    sam = stack.console(stack.sam)
    sam.goto(f"{stack.parley.url}/console/?view=teams")
    visitor = stack.visitor("Vera")
    try:
        conversation_id = start_conversation(visitor, "Where is my order 5521?")

        # It appears live under Unassigned, with its count.
        expect(row(alex, conversation_id)).to_contain_text(
            "Where is my order 5521?", timeout=WAIT_MS
        )
        expect(alex.locator('[data-count="unassigned"]')).to_have_text("1")

        # Alex takes it, sees the visitor's draft, and replies with Enter.
        row(alex, conversation_id).locator("a").first.click()
        alex.locator("[data-take]").click()
        # The page reloads after an action; the take button is then gone.
        expect(alex.locator("[data-take]")).to_have_count(0, timeout=WAIT_MS)
        expect(alex.locator("[data-assignee]")).to_have_text("Alex Agent")
        expect(alex.locator("[data-joined=true]")).to_have_count(1, timeout=WAIT_MS)
        visitor.sio.emit(
            "typing",
            {"conversation_id": conversation_id, "typing": True, "draft": "It was due"},
            namespace="/widget",
        )
        expect(alex.locator("[data-typing]")).to_contain_text(
            "It was due", timeout=WAIT_MS
        )
        box = alex.locator("[data-reply-box]")
        box.click()
        box.fill("Let me check that for you.")
        box.press("Enter")
        wait_for_bodies(
            visitor, conversation_id, ["Let me check that for you."], "agent"
        )

        # A note shows as a note to agents and never reaches the visitor.
        box.press("Escape")
        alex.keyboard.press("n")
        box.fill("Customer seems upset; check the warehouse.")
        box.press("Enter")
        expect(alex.locator(".msg-note")).to_contain_text(
            "check the warehouse", timeout=WAIT_MS
        )
        box.press("Escape")
        alex.keyboard.press("r")
        box.fill("It ships today.")
        box.press("Enter")
        wait_for_bodies(
            visitor,
            conversation_id,
            ["Let me check that for you.", "It ships today."],
            "agent",
        )
        late = stack.visitor("Vera again")
        late.follow(conversation_id)
        late.sync()
        for client in (visitor, late):
            bodies = client.bodies(conversation_id)
            assert not any("warehouse" in body for body in bodies), bodies
        late.close()

        # A transfer to Billing puts it in Sam's "My teams" view live.
        alex.select_option("#transfer-team", label="Billing")
        alex.click("form[data-action=transfer] button")
        expect(row(sam, conversation_id)).to_contain_text("Billing", timeout=WAIT_MS)
        expect(alex.locator("[data-team]")).to_have_text("Billing", timeout=WAIT_MS)

        # Close, then reopen.
        alex.locator("[data-close]").click()
        expect(alex.locator("[data-reopen]")).to_be_visible(timeout=WAIT_MS)
        expect(alex.locator("[data-status]")).to_have_text("closed")
        expect(alex.locator("[data-composer]")).to_be_hidden()
        alex.locator("[data-reopen]").click()
        expect(alex.locator("[data-close]")).to_be_visible(timeout=WAIT_MS)
        expect(alex.locator("[data-status]")).to_have_text("open")

        # Search finds it by a word of the visitor's message.
        alex.fill("#search-q", "5521")
        alex.press("#search-q", "Enter")
        expect(row(alex, conversation_id)).to_be_visible(timeout=WAIT_MS)
    finally:
        visitor.close()
        alex.context.close()
        sam.context.close()


def test_second_console_follows_a_take_and_cannot_take_too(stack):
    """Sam sees Alex's take live, is refused a take, and hears of a handover."""
    alex = stack.console(stack.alex)
    sam = stack.console(stack.sam)
    visitor = stack.visitor("Wanda")
    try:
        conversation_id = start_conversation(visitor, "Can someone help?")
        for page in (alex, sam):
            expect(row(page, conversation_id)).to_be_visible(timeout=WAIT_MS)

        # Sam opens it (the take button is there), then Alex takes it first.
        sam_view = sam.context.new_page()
        sam_view.goto(f"{stack.parley.url}/console/conversations/{conversation_id}")
        expect(sam_view.locator("[data-joined=true]")).to_have_count(1, timeout=WAIT_MS)
        alex.goto(f"{stack.parley.url}/console/conversations/{conversation_id}")
        alex.locator("[data-take]").click()
        expect(alex.locator("[data-assignee]")).to_have_text(
            "Alex Agent", timeout=WAIT_MS
        )

        # Sam's inbox drops it from Unassigned live; the open page shows Alex.
        expect(row(sam, conversation_id)).to_have_count(0, timeout=WAIT_MS)
        expect(sam.locator('[data-count="unassigned"]')).to_have_text("0")
        expect(sam_view.locator("[data-assignee]")).to_have_text(
            "Alex Agent", timeout=WAIT_MS
        )
        sam_view.locator("[data-take]").click()
        expect(sam_view.locator("[data-action-error]")).to_have_text(
            "Alex Agent has already taken this conversation.", timeout=WAIT_MS
        )
        assert _assignee(stack, conversation_id) == "alex@acme.test"

        # Alex hands it to Sam: Sam's console announces it.
        # The page reloads after the action; wait for it, as closing a page
        # in the middle of a reload can leave Chromium's context hanging.
        alex.select_option("#assign-agent", label="Sam Second (0 of 5)")
        with alex.expect_navigation(timeout=WAIT_MS):
            alex.click("form[data-action=assign] button")
        expect(alex.locator("[data-assignee]")).to_have_text("Sam Second")
        expect(sam.locator("[data-alert]")).to_contain_text(
            "Conversation assigned to you", timeout=WAIT_MS
        )
        wait_until(
            lambda: _assignee(stack, conversation_id) == "sam@acme.test",
            timeout=10,
            what="Sam to hold it",
        )
    finally:
        visitor.close()
        alex.context.close()
        sam.context.close()


def _assignee(stack: Stack, conversation_id: int) -> str | None:
    from app.models import Conversation

    session = stack.make.session
    session.expire_all()
    conversation = session.get(Conversation, conversation_id)
    return conversation.assignee.email if conversation.assignee else None


def test_working_all_day_keys_canned_receipts_history_and_unread(stack):
    """Keys, / canned replies, receipts, older messages and the unread title."""
    alex = stack.console(stack.alex)
    visitor = stack.visitor("Hana")
    try:
        conversation_id = start_conversation(visitor, "Message 1")
        from app.models import Conversation

        conversation = stack.make.session.get(Conversation, conversation_id)
        for number in range(2, 71):
            stack.make.message(conversation, f"Message {number}")

        # A canned reply, added on the canned replies page.
        alex.goto(f"{stack.parley.url}/console/canned")
        alex.fill("#shortcut", "refund")
        alex.fill("#canned-body", "Your refund is on its way.")
        alex.click("form.stack button[type=submit]")
        expect(alex.locator("code")).to_have_text("/refund", timeout=WAIT_MS)

        # j selects the row, Enter opens it; ? lists the shortcuts.
        alex.goto(f"{stack.parley.url}/console/?view=unassigned")
        expect(row(alex, conversation_id)).to_be_visible(timeout=WAIT_MS)
        alex.keyboard.press("j")
        expect(row(alex, conversation_id)).to_have_class("selected")
        alex.keyboard.press("?")
        expect(alex.locator("#shortcuts")).to_be_visible()
        alex.keyboard.press("Escape")
        alex.keyboard.press("Enter")
        expect(alex.locator("[data-joined=true]")).to_have_count(1, timeout=WAIT_MS)

        # The latest messages show; older ones load on scrolling up.
        transcript = alex.locator("[data-transcript]")
        expect(transcript).to_contain_text("Message 70")
        assert alex.locator('.msg[data-seq="1"]').count() == 0
        transcript.evaluate("element => element.scrollTo(0, 0)")
        expect(alex.locator('.msg[data-seq="1"]')).to_contain_text(
            "Message 1", timeout=WAIT_MS
        )

        # Take it, then / and a shortcut insert the canned reply.
        alex.locator("[data-take]").click()
        expect(alex.locator("[data-take]")).to_have_count(0, timeout=WAIT_MS)
        expect(alex.locator("[data-joined=true]")).to_have_count(1, timeout=WAIT_MS)
        alex.keyboard.press("r")
        box = alex.locator("[data-reply-box]")
        box.press_sequentially("/ref")
        expect(alex.locator("[data-canned-menu]")).to_contain_text("/refund")
        box.press("Enter")
        expect(box).to_have_value("Your refund is on its way.")
        box.press("Enter")
        wait_for_bodies(
            visitor, conversation_id, ["Your refund is on its way."], "agent"
        )

        # The visitor reads it: the receipt turns to Seen.
        seq = max(visitor.held[conversation_id])
        ack = visitor.call("read", {"conversation_id": conversation_id, "seq": seq})
        assert ack["ok"], ack
        mine = alex.locator(".msg-agent").last.locator("[data-receipt]")
        expect(mine).to_have_text("Seen", timeout=WAIT_MS)

        # On the inbox, a new visitor message counts as unread in the title.
        alex.goto(f"{stack.parley.url}/console/?view=mine")
        expect(alex.locator("[data-connection]")).to_have_text("Live", timeout=WAIT_MS)
        assert visitor.send(conversation_id, "Thanks! One more thing")["ok"]
        expect(alex).to_have_title("(1) Mine · Parley", timeout=WAIT_MS)
        expect(row(alex, conversation_id)).to_contain_text("One more thing")

        # On the conversation, a focuses the assign menu and e closes.
        row(alex, conversation_id).locator("a").first.click()
        expect(alex.locator("[data-joined=true]")).to_have_count(1, timeout=WAIT_MS)
        alex.keyboard.press("a")
        expect(alex.locator("#assign-agent")).to_be_focused()
        alex.locator("h1").click()
        alex.keyboard.press("e")
        expect(alex.locator("[data-reopen]")).to_be_visible(timeout=WAIT_MS)
        expect(alex.locator("[data-status]")).to_have_text("closed")
    finally:
        visitor.close()
        alex.context.close()


def test_snooze_ends_by_itself_in_the_running_server(stack):
    """The server's sweep reopens a snoozed conversation when its time comes."""
    from datetime import timedelta

    from app.db import utcnow
    from app.domain import console
    from app.domain.tenancy import Tenant
    from app.models import Conversation, ConversationStatus, User

    alex = stack.console(stack.alex)
    visitor = stack.visitor("Sol")
    try:
        conversation_id = start_conversation(visitor, "Call me back later")
        session = stack.make.session
        agent = session.query(User).filter_by(email=stack.alex).one()
        tenant = Tenant(session, agent.workspace_id)
        console.snooze(tenant, conversation_id, utcnow() + timedelta(seconds=2), agent)
        alex.goto(f"{stack.parley.url}/console/?view=snoozed")
        expect(row(alex, conversation_id)).to_be_visible(timeout=WAIT_MS)

        def status() -> ConversationStatus:
            """The conversation's stored status, read afresh."""
            session.expire_all()
            return session.get(Conversation, conversation_id).status

        wait_until(
            lambda: status() == ConversationStatus.OPEN,
            timeout=60,
            what="the sweep to end the snooze",
        )
        expect(row(alex, conversation_id)).to_have_count(0, timeout=WAIT_MS)
        expect(alex.locator('[data-count="snoozed"]')).to_have_text("0")
    finally:
        visitor.close()
        alex.context.close()


def test_status_menu_sets_the_agents_availability(stack):
    """Choosing Away or Online in the console reaches routing's availability."""
    from app.models import User

    alex = stack.console(stack.alex)

    def availability() -> str:
        """Alex's stored availability, read afresh."""
        session = stack.make.session
        session.expire_all()
        user = session.query(User).filter_by(email=stack.alex).one()
        return user.availability.value

    try:
        wait_until(lambda: availability() == "online", timeout=30, what="online")
        alex.select_option("[data-presence]", "away")
        wait_until(lambda: availability() == "away", timeout=30, what="away")
        alex.reload()
        expect(alex.locator("[data-presence]")).to_have_value("away")
        alex.select_option("[data-presence]", "online")
        wait_until(lambda: availability() == "online", timeout=30, what="online")
    finally:
        alex.context.close()


@pytest.mark.parametrize("stack", [{"PRESENCE_GRACE_SECONDS": "3"}], indirect=True)
def test_a_visitors_online_dot_follows_their_connection(stack):
    """The inbox row and the conversation show the visitor online, live."""
    token = visitor_token(stack.parley.url, stack.key, ORIGIN)
    auth = {"key": stack.key, "token": token}
    visitor = ChatClient("/widget", origin=ORIGIN).connect(stack.parley.url, auth=auth)
    conversation_id = start_conversation(visitor, "Is anyone there?")
    alex = stack.console(stack.alex)
    try:
        dot = row(alex, conversation_id).locator("[data-visitor-presence]")
        expect(dot).to_have_attribute("data-online", "true", timeout=WAIT_MS)
        # Gone: offline once the record lapses (a 3 s grace here), no reload.
        visitor.close()
        expect(dot).to_have_attribute("data-online", "false", timeout=WAIT_MS)
        visitor = ChatClient("/widget", origin=ORIGIN).connect(
            stack.parley.url, auth=auth
        )
        expect(dot).to_have_attribute("data-online", "true", timeout=WAIT_MS)

        row(alex, conversation_id).locator("a").click()
        label = alex.locator("[data-visitor-presence] [data-presence-label]")
        expect(label).to_have_text("Online now", timeout=WAIT_MS)
        visitor.close()
        expect(label).to_have_text("Offline", timeout=WAIT_MS)
    finally:
        visitor.close()
        alex.context.close()
