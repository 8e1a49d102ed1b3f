"""Property: concurrent senders on one conversation never break the numbering."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.domain.conversations import post_message
from app.extensions import db
from app.models import AuthorKind, Conversation, Message

pytestmark = pytest.mark.postgresql_only

SENDERS = 8
_AGENTS: dict[int, list] = {}

# Each sender sends a list of client ids; an id may repeat (a retry), and
# senders 0 and 1 are the same visitor in two tabs, sharing ids.
plans = st.lists(
    st.lists(st.integers(min_value=0, max_value=11), min_size=1, max_size=12),
    min_size=SENDERS,
    max_size=SENDERS,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans)
def test_concurrent_senders_get_gapless_numbers_and_no_duplicates(app, make, plan):
    """8 threads sending and retrying at once: seqs 1..N, one row per id."""
    # Examples share the test's database; the agents are made once.
    if id(make) not in _AGENTS:
        _AGENTS[id(make)] = [make.agent() for _ in range(SENDERS - 2)]
    agents = _AGENTS[id(make)]
    conversation = make.conversation()
    authors = [(AuthorKind.VISITOR, conversation.visitor_id)] * 2 + [
        (AuthorKind.AGENT, agent.id) for agent in agents
    ]
    barrier = threading.Barrier(SENDERS)
    failures: list[BaseException] = []

    def send(index: int) -> None:
        kind, author_id = authors[index]
        with app.app_context():
            session = db.new_session()
            try:
                barrier.wait(10)
                for number in plan[index]:
                    post_message(
                        session,
                        conversation.id,
                        author_kind=kind,
                        author_id=author_id,
                        body=f"{kind.value} {author_id} #{number}",
                        client_msg_id=f"id-{number}",
                    )
            except BaseException as error:  # reported below, with the plan
                failures.append(error)
            finally:
                session.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures

    expected = {
        (authors[i][0], authors[i][1], f"id-{n}")
        for i in range(SENDERS)
        for n in plan[i]
    }
    rows = db.session.execute(
        select(
            Message.seq, Message.author_kind, Message.author_id, Message.client_msg_id
        )
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.seq)
    ).all()
    assert [row.seq for row in rows] == list(range(1, len(expected) + 1))
    assert {(r.author_kind, r.author_id, r.client_msg_id) for r in rows} == expected
    assert len(rows) == len(expected)
    last_seq = db.session.scalar(
        select(Conversation.last_seq).where(Conversation.id == conversation.id)
    )
    assert last_seq == len(expected)
