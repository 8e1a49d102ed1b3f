"""What follows a commit survives a failing receiver and a Redis outage."""

from __future__ import annotations

from blinker import Namespace
from rq import Queue

from app import create_app
from app.domain import events
from app.domain.conversations import post_message
from app.extensions import db, jobs
from app.jobs import QUEUE_NAME
from app.models import AuthorKind
from tests.support.services import wait_until


def test_a_failing_receiver_stops_no_other():
    """announce() calls every receiver even when one before it raises."""
    signal = Namespace().signal("test-signal")
    heard = []

    def broken(_sender, **payload):
        raise RuntimeError("the job queue is down")

    def listener(_sender, **payload):
        heard.append(payload)

    signal.connect(broken)
    signal.connect(listener)
    events.announce(signal, conversation_id=7)
    assert heard == [{"conversation_id": 7}]


def test_broadcasts_run_once_the_connection_is_back_in_the_pool(app, make):
    """A receiver that opens its own session never needs a second connection."""
    conversation = make.conversation()
    checked_out = []

    def receiver(_sender, **_payload):
        checked_out.append(db.engine.pool.checkedout())

    events.message_posted.connect(receiver)
    try:
        post_message(
            db.session,
            conversation.id,
            author_kind=AuthorKind.VISITOR,
            author_id=conversation.visitor_id,
            body="Hello",
            client_msg_id="pool-1",
        )
    finally:
        events.message_posted.disconnect(receiver)
    assert checked_out == [0]


def test_a_job_asked_for_while_redis_is_down_is_queued_once_it_is_back(
    settings, redis_server, redis_url
):
    """enqueue() does not raise while Redis is down; the job reaches RQ later."""
    app = create_app(settings.but(redis_url=redis_url))
    queue = Queue(QUEUE_NAME, connection=app.extensions["jobs"].connection)
    with app.app_context():
        redis_server.stop()
        try:
            jobs.enqueue("send_transcript", conversation_id=41)
        finally:
            redis_server.start()
        wait_until(lambda: queue.count == 1, timeout=20, what="the job in RQ")
        [job] = queue.jobs
        assert job.kwargs == {"conversation_id": 41}
        assert job.retries_left == 3


def test_a_deferred_job_is_queued_once_when_due(settings, redis_url, monkeypatch):
    """Asking again adds no job; it reaches RQ once, at the earliest time asked."""
    import app.jobs as jobs_module

    app = create_app(settings.but(redis_url=redis_url))
    queue = Queue(QUEUE_NAME, connection=app.extensions["jobs"].connection)
    with app.app_context():
        jobs.defer("email_missed_replies", delay=60, conversation_id=5)
        jobs.defer("email_missed_replies", delay=30, conversation_id=5)
        jobs.defer("email_missed_replies", delay=0, conversation_id=6)
        assert jobs.release_due() == 1
        assert [job.kwargs for job in queue.jobs] == [{"conversation_id": 6}]

        # The earliest time asked for stands: not yet due 20 s from now...
        now = jobs_module.time.time()
        monkeypatch.setattr(jobs_module.time, "time", lambda: now + 20)
        assert jobs.release_due() == 0
        # ...and due, once, after 30 s.
        monkeypatch.setattr(jobs_module.time, "time", lambda: now + 31)
        assert jobs.release_due() == 1
        assert jobs.release_due() == 0
        assert [job.kwargs for job in queue.jobs] == [
            {"conversation_id": 6},
            {"conversation_id": 5},
        ]
