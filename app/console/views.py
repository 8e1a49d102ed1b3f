"""The console's pages: inbox views, search, a conversation."""

from __future__ import annotations

from flask import abort, jsonify, render_template, request
from flask_login import current_user, login_required

from app.console import bp
from app.console.common import arg_int, current_tenant
from app.domain import console
from app.domain.content import render_html
from app.extensions import presence
from app.models import Conversation, ConversationStatus, Team, User
from app.models.console import Tag
from app.routing.assignment import agent_load, agent_loads


def _view_arg() -> str:
    view = request.args.get("view", "unassigned")
    if view not in console.VIEWS:
        abort(404, f"There is no inbox view {view!r}.")
    return view


def _load() -> dict:
    """The signed-in agent's open conversations against their capacity."""
    return {
        "load": agent_load(current_tenant().session, current_user.id),
        "capacity": current_user.capacity,
    }


def _online(page: console.InboxPage | None) -> set[int]:
    """The visitors of a page's rows who are online now, in one look-up."""
    if page is None or not page.rows:
        return set()
    return presence.online_among(
        "visitor", current_user.workspace_id, [row.visitor_id for row in page.rows]
    )


def chrome() -> dict:
    """What every console page's side bar shows: views, counts, load."""
    return {
        "counts": console.view_counts(current_tenant(), current_user.id),
        "titles": console.VIEW_TITLES,
        **_load(),
    }


@bp.get("/")
@login_required
def inbox():
    """Show one inbox view with every view's count, longest waiting first."""
    tenant = current_tenant()
    view = _view_arg()
    page = console.inbox_page(tenant, current_user.id, view, arg_int("page", 1))
    return render_template(
        "console/inbox.html",
        view=view,
        page=page,
        online=_online(page),
        target=console.wait_target(current_user.workspace.settings or {}),
        **chrome(),
    )


@bp.get("/inbox/rows")
@login_required
def inbox_rows():
    """Return the rows of a view as an HTML fragment, for live refreshes."""
    tenant = current_tenant()
    view = _view_arg()
    page = console.inbox_page(tenant, current_user.id, view, arg_int("page", 1))
    return render_template(
        "console/_rows.html",
        page=page,
        online=_online(page),
        target=console.wait_target(current_user.workspace.settings or {}),
    )


@bp.get("/inbox/counts")
@login_required
def inbox_counts():
    """Return every view's count, the unread count and the agent's load."""
    counts = console.view_counts(current_tenant(), current_user.id)
    return jsonify({"counts": counts, **_load()})


@bp.get("/search")
@login_required
def search():
    """Find conversations by message text, visitor name or email."""
    query = request.args.get("q", "")
    page = None
    if query.strip():
        page = console.search(current_tenant(), query, arg_int("page", 1))
    return render_template(
        "console/search.html",
        query=query,
        page=page,
        online=_online(page),
        target=console.wait_target(current_user.workspace.settings or {}),
        **chrome(),
    )


@bp.get("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    """Show a conversation: transcript, reply box, actions, visitor."""
    tenant = current_tenant()
    found = tenant.get(Conversation, conversation_id)
    messages, older = console.messages_before(tenant, found.id, None)
    agents = list(tenant.session.scalars(tenant.select(User).order_by(User.name)))
    agents = [agent for agent in agents if agent.is_active]
    return render_template(
        "console/conversation.html",
        conversation=found,
        visitor=found.visitor,
        visitor_online=presence.is_online(
            "visitor", tenant.workspace_id, found.visitor_id
        ),
        messages=messages,
        older=older,
        names=console.author_names(tenant, messages),
        render_html=render_html,
        tags=console.tags_of(tenant, found.id),
        all_tags=list(tenant.session.scalars(tenant.select(Tag).order_by(Tag.name))),
        agents=agents,
        loads=agent_loads(tenant.session, [agent.id for agent in agents]),
        teams=list(tenant.session.scalars(tenant.select(Team).order_by(Team.name))),
        snoozed_until=console.snoozed_until(tenant, found.id),
        earlier=console.earlier_conversations(tenant, found.visitor_id, found.id),
        pages=console.pages_seen(tenant, found.visitor_id),
        closed=found.status == ConversationStatus.CLOSED,
        **chrome(),
    )


@bp.get("/conversations/<int:conversation_id>/messages")
@login_required
def older_messages(conversation_id: int):
    """Return the messages before ``before`` (a seq), notes included, as JSON."""
    tenant = current_tenant()
    before = arg_int("before", None)
    messages, more = console.messages_before(tenant, conversation_id, before)
    names = console.author_names(tenant, messages)
    return jsonify(
        {
            "messages": [
                {
                    "id": m.id,
                    "seq": m.seq,
                    "author": {
                        "kind": m.author_kind.value,
                        "name": names.get(m.author_id),
                    },
                    "body": m.body,
                    "html": render_html(m.body),
                    "created_at": m.created_at.isoformat(),
                }
                for m in messages
            ],
            "more": more,
        }
    )
