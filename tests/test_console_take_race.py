"""Two agents who take the same conversation at the same moment: one gets
it, the other a clear refusal, on PostgreSQL's row locks."""

from __future__ import annotations

import threading

import pytest

from app.domain import console
from app.domain.tenancy import Tenant
from app.errors import Conflict
from app.models import Conversation, User

pytestmark = pytest.mark.postgresql_only


def _race(app, workspace_id: int, agent_ids: list[int], conversation_id: int):
    """Let every agent take the conversation at once; return what each got."""
    factory = app.extensions["database"].factory
    barrier = threading.Barrier(len(agent_ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def take(agent_id: int) -> None:
        """Take the conversation as one agent, once all are ready."""
        with app.app_context():
            session = factory()
            try:
                agent = session.get(User, agent_id)
                barrier.wait(timeout=10)
                console.take(Tenant(session, workspace_id), conversation_id, agent)
                result = "took"
            except Conflict as error:
                result = error.code
            except Exception as error:  # recorded, so the assertion shows it
                result = repr(error)
            finally:
                session.close()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=take, args=(a,)) for a in agent_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_simultaneous_takes_give_one_owner(app, make):
    """Of many agents taking at once, exactly one succeeds; the rest are refused."""
    workspace = make.workspace()
    agents = [make.agent(workspace) for _ in range(6)]
    for _ in range(5):
        conversation = make.conversation(workspace)
        outcomes = _race(app, workspace.id, [a.id for a in agents], conversation.id)
        assert sorted(outcomes) == ["already_assigned"] * 5 + ["took"]
        make.session.expire_all()
        owner = make.session.get(Conversation, conversation.id).assignee_id
        assert owner in {a.id for a in agents}
