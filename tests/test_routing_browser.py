"""Routing end to end (issue 6, point 3): real Chromium, one real `parley serve`.

An admin sets routing up through the admin pages' forms; two agents come
online in their consoles; visitors chat through the widget on a company's
pages (served from another origin). The server routes, queues and assigns
by itself; the test reads the outcome from the database and from what the
widget and the consoles show.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.db import utcnow
from app.models import Conversation, Team, User
from tests.support.factories import PASSWORD, Factory
from tests.support.processes import WebProcess, base_env
from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgresql_only]

SECRET = "routing-browser-test-secret-of-more-than-32-characters"
WAIT_MS = 20_000
QUEUE_1 = "You are number 1 in the queue."
QUEUE_2 = "You are number 2 in the queue."


class HostPages:
    """The company's site: pages embedding the widget, on their own origin."""

    def __init__(self, parley_url: str, key: str) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        script = f'<script async src="{parley_url}/widget.js" data-key="{key}">'

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = (
                    f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    f"<title>{self.path}</title></head><body><h1>{self.path}</h1>"
                    f"{script}</script></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    """A running Parley: a workspace with an admin and agents Alex and Sam."""

    parley: WebProcess
    make: Factory
    pages: HostPages
    browser: Browser
    admin: User
    alex: User
    sam: User
    held_by_alex: int

    def sign_in(self, user: User) -> Page:
        """Sign ``user`` in through the form, in a fresh browser context."""
        page = self.browser.new_context().new_page()
        page.goto(f"{self.parley.url}/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Unassigned", timeout=WAIT_MS)
        return page

    def read(self, model, id_: int):
        """A row as the database holds it now."""
        session = self.make.session
        session.expire_all()
        return session.get(model, id_)

    def conversation_of(self, page: Page) -> Conversation:
        """The conversation the widget on ``page`` started, once stored."""
        session = self.make.session

        def started() -> Conversation | None:
            session.expire_all()
            url = page.url
            return session.scalars(
                select(Conversation).where(
                    Conversation.context["url"].as_string() == url
                )
            ).one_or_none()

        return wait_until(started, timeout=20, what=f"a conversation from {page.url}")


@pytest.fixture
def stack(app, make, database_url, tmp_path, browser) -> Iterator[Stack]:
    """Serve Parley on the test's database; Alex already holds one conversation."""
    workspace = make.workspace("Acme", greeting="Hello from Acme!")
    admin = make.admin(workspace, name="Ada Admin", email="ada@acme.test")
    # Alex's id is lower than Sam's: on equal loads, least-busy picks Alex.
    alex = make.agent(workspace, name="Alex Agent", email="alex@acme.test")
    sam = make.agent(workspace, name="Sam Second", email="sam@acme.test")
    held = make.conversation(workspace)
    held.assignee_id, held.queued_at, held.assigned_at = alex.id, None, utcnow()
    make.session.commit()
    make.message(held, "An older question Alex is answering")
    port = free_port()
    env = base_env(
        PARLEY_ENV="development",
        PARLEY_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    parley = WebProcess("parley serve", env, port).start()
    pages = HostPages(parley.url, workspace.widget_key)
    try:
        parley.wait_ready()
        yield Stack(parley, make, pages, browser, admin, alex, sam, held.id)
    finally:
        pages.stop()
        parley.kill()


# The admin's pages ------------------------------------------------------------


def button(page: Page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def create_team(admin: Page, url: str, name: str) -> None:
    admin.goto(f"{url}/admin/teams")
    admin.fill("#name", name)
    admin.select_option("#strategy", label="Least busy")
    button(admin, "Create team").click()
    expect(admin.locator(".flash-info")).to_have_text(f"Team {name} created.")


def set_members(admin: Page, names: list[str]) -> None:
    """On a team's page, tick exactly ``names`` and save."""
    for name in names:
        admin.get_by_label(name, exact=True).check()
    button(admin, "Save members").click()
    expect(admin.locator(".flash-info")).to_have_text("Members saved.")


def set_capacity(admin: Page, url: str, agent: User, capacity: int) -> None:
    admin.goto(f"{url}/admin/agents")
    field = admin.get_by_label(f"Capacity of {agent.name}")
    field.fill(str(capacity))
    field.locator("xpath=..").get_by_role("button", name="Save").click()
    expect(admin.locator(".flash-info")).to_have_text(
        f"{agent.name} now takes up to {capacity} conversations."
    )


def expect_route(admin: Page, page_url: str, reached: str) -> None:
    """The rule tester says a visitor on ``page_url`` reaches ``reached``."""
    admin.fill("#url", page_url)
    button(admin, "Test").click()
    expect(admin.locator(".result")).to_contain_text(reached)
    expect(admin.locator("#url")).to_have_value(page_url)


# The widget and the consoles -----------------------------------------------------


def visit_and_write(stack: Stack, path: str, body: str) -> Page:
    """A new visitor opens ``path`` on the company's site and writes ``body``."""
    page = stack.browser.new_context().new_page()
    page.goto(stack.pages.origin + path)
    page.locator("parley-widget .launcher").click()
    box = page.locator("parley-widget textarea")
    expect(box).to_be_visible(timeout=WAIT_MS)
    box.fill(body)
    box.press("Enter")
    return page


def notice(page: Page):
    return page.locator("parley-widget .notice")


def bubbles(page: Page):
    return page.locator("parley-widget .log .bubble")


def row(console: Page, conversation_id: int):
    return console.locator(f'tr[data-conversation="{conversation_id}"]')


def expect_assigned_alert(console: Page, conversation_id: int) -> None:
    """The console announced that ``conversation_id`` is now this agent's."""
    alert = console.locator("[data-alert]")
    expect(alert).to_contain_text("Conversation assigned to you", timeout=WAIT_MS)
    expect(alert.locator("a")).to_have_attribute(
        "href", f"/console/conversations/{conversation_id}"
    )


# The test ---------------------------------------------------------------------------


def test_admin_routes_a_page_to_a_team_least_busy_then_queue(stack):
    """Team and rule by the admin pages; least-busy assignment; the queue."""
    url = stack.parley.url
    contexts = []
    try:
        # 1. The admin signs in and sets routing up with the pages' forms. The
        # first team is the default; pricing pages go to Sales by a rule.
        admin = stack.sign_in(stack.admin)
        contexts.append(admin.context)
        create_team(admin, url, "General")
        create_team(admin, url, "Sales")
        expect(admin.locator("h1")).to_have_text("Sales")
        set_members(admin, ["Alex Agent", "Sam Second"])
        admin.goto(f"{url}/admin/rules")
        admin.select_option("#kind", label="Page address")
        admin.fill("#pattern", "/pricing*")
        admin.select_option("#team_id", label="Sales")
        button(admin, "Add rule").click()
        expect(admin.locator(".flash-info")).to_have_text("Rule added.")
        origin = stack.pages.origin
        expect_route(admin, f"{origin}/pricing/plans", "reaches Sales, by rule 1")
        expect_route(admin, f"{origin}/about", "reaches General, as the default team")
        sales = stack.make.session.scalars(
            select(Team).where(Team.name == "Sales")
        ).one()
        assert sales.strategy.value == "least_busy" and not sales.is_default
        assert {m.email for m in sales.members} == {stack.alex.email, stack.sam.email}

        # 2. Capacities: Alex 2 (one held already), Sam 1. Both come online in
        # their consoles, on their "Mine" views.
        set_capacity(admin, url, stack.alex, 2)
        set_capacity(admin, url, stack.sam, 1)
        alex, sam = stack.sign_in(stack.alex), stack.sign_in(stack.sam)
        contexts += [alex.context, sam.context]
        for console in (alex, sam):
            console.goto(f"{url}/console/?view=mine")
            expect(console.locator("[data-connection]")).to_have_text(
                "Live", timeout=WAIT_MS
            )
        for agent in (stack.alex, stack.sam):
            wait_until(
                lambda agent=agent: (
                    stack.read(User, agent.id).availability.value == "online"
                ),
                timeout=20,
                what=f"{agent.name} online",
            )
        expect(row(alex, stack.held_by_alex)).to_be_visible()
        expect(alex.locator("[data-load]")).to_have_text("1")
        expect(alex.locator("[data-capacity]")).to_have_text("2")

        # 3. A visitor on a pricing page reaches Sales and the least busy
        # agent: Sam (0 open), not Alex (1 open), whom a tie would favour.
        first = visit_and_write(stack, "/pricing", "How much is the team plan?")
        contexts.append(first.context)
        found = stack.conversation_of(first)
        wait_until(
            lambda: stack.read(Conversation, found.id).assignee_id is not None,
            timeout=20,
            what="the first visitor assigned",
        )
        conversation = stack.read(Conversation, found.id)
        assert conversation.team_id == sales.id
        assert conversation.assignee_id == stack.sam.id
        assert conversation.queued_at is None
        expect_assigned_alert(sam, conversation.id)
        expect(row(sam, conversation.id)).to_contain_text("Sales")
        expect(sam.locator("[data-load]")).to_have_text("1")
        expect(bubbles(first).last).to_have_text(
            "Sam Second joined the conversation.", timeout=WAIT_MS
        )
        expect(notice(first)).to_have_text("")
        first_id = conversation.id

        # 4. Sam is full; the next pricing visitor goes to Alex, who is then
        # full too. Two more visitors wait in Sales' queue, in order.
        second = visit_and_write(stack, "/pricing/plans", "Do you bill yearly?")
        contexts.append(second.context)
        found = stack.conversation_of(second)
        wait_until(
            lambda: stack.read(Conversation, found.id).assignee_id == stack.alex.id,
            timeout=20,
            what="the second visitor assigned to Alex",
        )
        expect_assigned_alert(alex, found.id)
        expect(alex.locator("[data-load]")).to_have_text("2", timeout=WAIT_MS)

        waiting = visit_and_write(stack, "/pricing?plan=pro", "Is there a trial?")
        contexts.append(waiting.context)
        expect(notice(waiting)).to_contain_text(QUEUE_1, timeout=WAIT_MS)
        later = visit_and_write(stack, "/pricing#faq", "Any discounts?")
        contexts.append(later.context)
        expect(notice(later)).to_contain_text(QUEUE_2, timeout=WAIT_MS)
        waiting_id = stack.conversation_of(waiting).id
        later_id = stack.conversation_of(later).id
        for queued in (waiting_id, later_id):
            conversation = stack.read(Conversation, queued)
            assert conversation.team_id == sales.id
            assert conversation.assignee_id is None
            assert conversation.queued_at is not None
        expect(notice(waiting)).to_contain_text(QUEUE_1)

        # 5. Sam closes the first visitor's conversation in the console. The
        # head of the queue goes to Sam at once; the widget drops its queue
        # notice, and the visitor behind moves up to number 1, live.
        closing = sam.context.new_page()
        closing.goto(f"{url}/console/conversations/{first_id}")
        closing.locator("[data-close]").click()
        expect(closing.locator("[data-reopen]")).to_be_visible(timeout=WAIT_MS)
        wait_until(
            lambda: stack.read(Conversation, waiting_id).assignee_id == stack.sam.id,
            timeout=20,
            what="the waiting visitor assigned to Sam",
        )
        assert stack.read(Conversation, waiting_id).queued_at is None
        assert stack.read(Conversation, first_id).status.value == "closed"
        expect_assigned_alert(sam, waiting_id)
        expect(row(sam, waiting_id)).to_contain_text("Sales")
        expect(row(sam, first_id)).to_have_count(0)
        expect(bubbles(waiting).last).to_have_text(
            "Sam Second joined the conversation.", timeout=WAIT_MS
        )
        expect(notice(waiting)).to_have_text("")
        expect(notice(later)).to_contain_text(QUEUE_1, timeout=WAIT_MS)
        assert stack.read(Conversation, later_id).assignee_id is None
        expect(notice(first)).to_have_text(
            "This conversation has ended. Write to start a new one.", timeout=WAIT_MS
        )
    finally:
        for context in contexts:
            context.close()
