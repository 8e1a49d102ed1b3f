"""The RQ worker process that runs Parley's jobs in production."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Worker

from app.jobs import QUEUE_NAME, registered

logger = logging.getLogger(__name__)


def run_worker(redis_url: str, *, burst: bool = False) -> bool:
    """Work the Parley queue until stopped (or until empty with ``burst``)."""
    registered()  # import every job module before the first fork
    connection = Redis.from_url(redis_url)
    worker = Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    logger.info("Worker %s listening on queue %s", worker.name, QUEUE_NAME)
    # The scheduler moves retried jobs back onto the queue when their
    # backoff has passed; without it a failed job would never be retried.
    return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
