"""What follows a commit survives a failing receiver and a Redis outage."""

from __future__ import annotations

from blinker import Namespace
from rq import Queue

from app import create_app
from app.domain import events
from app.extensions import jobs
from app.jobs import QUEUE_NAME
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
