"""Background jobs behind one small facade.

``jobs.enqueue("send_transcript", conversation_id=7)`` runs a job by name with
ids. In production the job goes to RQ, with retries and backoff, and a worker
process runs it; in the embedded mode it runs in the background of the web
process, with the same retries. Jobs take ids, load what they need and are
safe to run twice.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context

logger = logging.getLogger(__name__)

#: Modules whose jobs register themselves when imported.
JOB_MODULES = ("app.jobs.transcripts", "app.jobs.missed_replies")

#: Seconds to wait before each retry; its length is the number of retries.
RETRY_BACKOFF = (5, 30, 120)

#: Seconds between attempts to queue a job while Redis cannot be reached;
#: its length is the number of attempts after the first.
REQUEUE_BACKOFF = (1, 2, 4, 8, 15, 30, 60, 60, 60, 60, 60, 60)

#: Longest a single run of a job may take before RQ stops it.
JOB_TIMEOUT_SECONDS = 300

QUEUE_NAME = "parley"
#: Redis sorted set of deferred jobs (JSON ``[name, ids]``) by due time.
DEFERRED_KEY = "parley:jobs:deferred"

_registry: dict[str, Callable[..., Any]] = {}


def job(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function`` as a job and make it run inside an app context."""

    @functools.wraps(function)
    def run(**ids: Any) -> Any:
        if has_app_context():
            return function(**ids)
        from app import create_app

        with create_app().app_context():
            return function(**ids)

    _registry[function.__name__] = run
    return run


def registered() -> dict[str, Callable[..., Any]]:
    """Return every job by name, importing the job modules first."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_registry)


class Jobs:
    """Enqueue jobs by name; RQ in production, in-process in embedded mode."""

    def init_app(self, app: Flask) -> None:
        """Choose the backend from the app's settings."""
        settings = app.config["SETTINGS"]
        queue = None
        if not settings.jobs_inline:
            from redis import Redis
            from rq import Queue

            connection = Redis.from_url(
                settings.redis_url, socket_connect_timeout=5, socket_timeout=10
            )
            queue = Queue(QUEUE_NAME, connection=connection)
        app.extensions["jobs"] = queue

    def stop(self) -> None:
        """Drop this app's in-process jobs that still wait (apps thrown away)."""
        current_app.extensions["jobs_stopped"] = True

    def defer(self, name: str, *, delay: float, **ids: Any) -> None:
        """Run ``name`` with ``ids`` once, ``delay`` s from now or earlier.

        Asking again for the same job and ids before it runs adds nothing:
        the earliest time asked for stands. With Redis it costs one command
        (a sorted set of due jobs, moved to RQ by :meth:`release_due`)
        instead of an RQ job per call; in-process it is :meth:`enqueue`.
        """
        if name not in registered():
            raise KeyError(f"No job named {name!r}.")
        queue = current_app.extensions["jobs"]
        if queue is None:
            self.enqueue(name, delay=delay, **ids)
            return
        from redis.exceptions import RedisError

        member = json.dumps([name, ids], sort_keys=True)
        try:
            queue.connection.zadd(DEFERRED_KEY, {member: time.time() + delay}, lt=True)
        except RedisError:
            # The outage handling of enqueue keeps the job until Redis is back.
            self.enqueue(name, delay=delay, **ids)

    def release_due(self, limit: int = 500) -> int:
        """Queue the deferred jobs whose time has come; return how many.

        Every web process calls this on its presence heartbeat; removing a
        job from the set is what claims it, so each is queued once.
        """
        queue = current_app.extensions["jobs"]
        if queue is None:
            return 0
        connection = queue.connection
        due = connection.zrangebyscore(DEFERRED_KEY, "-inf", time.time(), 0, limit)
        released = 0
        for member in due:
            if not connection.zrem(DEFERRED_KEY, member):
                continue  # another process took it
            name, ids = json.loads(member)
            function = registered().get(name)
            if function is None:
                logger.error("Deferred job %s %s has no function; dropped", name, ids)
                continue
            _enqueue_or_retry(queue, name, function, ids, 0)
            released += 1
        return released

    def enqueue(self, name: str, *, delay: float = 0, **ids: Any) -> None:
        """Run the job ``name`` with ``ids`` in the background, after ``delay`` s."""
        function = registered().get(name)
        if function is None:
            raise KeyError(f"No job named {name!r}.")
        queue = current_app.extensions["jobs"]
        if queue is not None:
            _enqueue_or_retry(queue, name, function, ids, delay)
            return

        from app.extensions import socketio

        app = current_app._get_current_object()
        socketio.start_background_task(_run_inline, app, name, function, ids, delay)
        logger.info("Started job %s %s in-process", name, ids)


def _enqueue_or_retry(
    queue: Any, name: str, function: Callable[..., Any], ids: dict, delay: float
) -> None:
    """Queue the job in RQ; while Redis is unreachable, keep trying in the background.

    The change that asked for the job is already committed, so a Redis
    outage must neither fail it nor drop the job.
    """
    from redis.exceptions import RedisError

    try:
        _enqueue_rq(queue, name, function, ids, delay)
    except RedisError as error:
        from app.extensions import socketio

        logger.warning("Cannot queue job %s %s yet (%s); retrying", name, ids, error)
        socketio.start_background_task(
            _enqueue_when_back, queue, name, function, ids, delay
        )


def _enqueue_when_back(
    queue: Any, name: str, function: Callable[..., Any], ids: dict, delay: float
) -> None:
    """Retry queueing a job with REQUEUE_BACKOFF until Redis answers."""
    from redis.exceptions import RedisError

    for pause in REQUEUE_BACKOFF:
        time.sleep(pause)
        try:
            _enqueue_rq(queue, name, function, ids, delay)
            return
        except RedisError:
            logger.debug("Redis still unreachable for job %s %s", name, ids)
    logger.error("Job %s %s lost: Redis stayed unreachable", name, ids)


def _enqueue_rq(
    queue: Any, name: str, function: Callable[..., Any], ids: dict, delay: float
) -> None:
    from rq import Retry

    options = {
        "kwargs": ids,
        "retry": Retry(max=len(RETRY_BACKOFF), interval=list(RETRY_BACKOFF)),
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "description": f"{name} {ids}",
    }
    enqueued = (
        queue.enqueue_in(timedelta(seconds=delay), function, **options)
        if delay
        else queue.enqueue(function, **options)
    )
    logger.info("Queued job %s %s as %s", name, ids, enqueued.id)


def _run_inline(
    app: Flask, name: str, function: Callable[..., Any], ids: dict, delay: float = 0
) -> None:
    """Run a job in this process, retrying with the same backoff as RQ."""
    if delay:
        time.sleep(delay)
        if app.extensions.get("jobs_stopped"):
            logger.info("Job %s %s dropped: its app has stopped", name, ids)
            return
    for attempt in range(len(RETRY_BACKOFF) + 1):
        try:
            with app.app_context():
                function(**ids)
        except Exception:
            if attempt == len(RETRY_BACKOFF):
                logger.exception("Job %s %s failed for good", name, ids)
                return
            logger.warning(
                "Job %s %s failed (attempt %d); retrying in %ss",
                name,
                ids,
                attempt + 1,
                RETRY_BACKOFF[attempt],
                exc_info=True,
            )
            time.sleep(RETRY_BACKOFF[attempt])
        else:
            logger.info("Job %s %s done", name, ids)
            return
