"""Production mode end to end: the Procfile's processes on PostgreSQL and Redis.

The release command migrates a fresh database, two web processes and one RQ
worker start from the Procfile's own command lines, and closing a conversation
on one web process emails its transcript through the worker, as an agent's
reply a visitor missed is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
import requests
from redis import Redis
from rq import Queue
from rq.job import Job

from app import create_app
from app.jobs import DEFERRED_KEY, QUEUE_NAME
from app.models import AuthorKind
from config import Settings
from tests.support.factories import PASSWORD, Factory
from tests.support.http import csrf_token, sign_in
from tests.support.live import ChatClient
from tests.support.processes import ParleyProcess, WebProcess, base_env, procfile
from tests.support.services import free_port, wait_until

pytestmark = pytest.mark.postgresql_only

SECRET = "production-test-secret-of-more-than-32-characters"


@dataclass
class Stack:
    """The running processes, plus a way to write to their database."""

    web_a: WebProcess
    web_b: WebProcess
    worker: ParleyProcess
    make: Factory
    queue: Queue


@pytest.fixture
def stack(fresh_postgres, redis_url, smtp_server, tmp_path):
    """Migrate with `release`, then run two `web` and one `worker` process."""
    env = base_env(
        PARLEY_ENV="production",
        PARLEY_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=fresh_postgres.url,
        REDIS_URL=redis_url,
        SECRET_KEY=SECRET,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
        PUBLIC_URL="https://chat.example.com",
        # The test talks plain HTTP; a Secure cookie would never be sent back.
        SESSION_COOKIE_SECURE="false",
        # Missed replies are emailed a second after they are due, released
        # by the web processes' heartbeat (a third of the grace period).
        MISSED_REPLY_EMAIL_DELAY_SECONDS="1",
        PRESENCE_GRACE_SECONDS="3",
    )
    commands = procfile()
    ParleyProcess(commands["release"], env, "release").run()

    processes = [
        WebProcess(commands["web"], env, free_port(), "web-a"),
        WebProcess(commands["web"], env, free_port(), "web-b"),
        ParleyProcess(commands["worker"], env, "worker"),
    ]
    app = create_app(
        Settings(
            env="development",
            secret_key=SECRET,
            database_url=fresh_postgres.url,
            async_mode="threading",
            instance_path=tmp_path / "instance",
            testing=True,
        )
    )
    connection = Redis.from_url(redis_url)
    try:
        for process in processes:
            process.start()
        web_a, web_b, worker = processes
        web_a.wait_ready()
        web_b.wait_ready()
        with app.app_context():
            yield Stack(
                web_a,
                web_b,
                worker,
                Factory(app.extensions["database"].session),
                Queue(QUEUE_NAME, connection=connection),
            )
            app.extensions["database"].session.remove()
    finally:
        for process in processes:
            process.kill()
        app.extensions["database"].engine.dispose()
        connection.close()


def _conversation(make: Factory, email: str):
    """An agent, and a conversation of theirs with talk and an internal note."""
    agent = make.agent(name="Alex Agent")
    visitor = make.visitor(email=email, name="Vi")
    conversation = make.conversation(visitor=visitor)
    make.message(conversation, "Where is my parcel?")
    make.message(conversation, "Courier lost it", AuthorKind.NOTE, agent.id)
    make.message(conversation, "It arrives tomorrow.", AuthorKind.AGENT, agent.id)
    return agent, conversation


def _close_over_http(stack: Stack, agent, conversation_id: int) -> None:
    """Sign in on web A, then close the conversation with a form on web B."""
    browser = requests.Session()
    landed = sign_in(browser, stack.web_a.url, agent.email, PASSWORD)
    assert landed.status_code == 200 and landed.url.endswith("/console/")

    page_url = f"{stack.web_b.url}/console/conversations/{conversation_id}"
    page = browser.get(page_url, timeout=10)
    assert page.status_code == 200 and "Where is my parcel?" in page.text
    closed = browser.post(
        f"{page_url}/close",
        data={"csrf_token": csrf_token(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert closed.status_code == 302, closed.text


def _log_entries(process: ParleyProcess, logger: str) -> list[dict]:
    """Return the JSON log lines one logger wrote in ``process``."""
    entries = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry["logger"] == logger:
                entries.append(entry)
    return entries


def _job_ids(stack: Stack, conversation_id: int, process: WebProcess) -> list[str]:
    """Return the ids of the transcript jobs ``process`` queued for a conversation."""
    return [
        entry["message"].rsplit(" ", 1)[-1]
        for entry in _log_entries(process, "app.jobs")
        if entry["message"].startswith("Queued job send_transcript")
        and f"'conversation_id': {conversation_id}" in entry["message"]
    ]


def test_transcript_is_mailed_by_the_worker(stack, smtp_server):
    """A close on web B queues the transcript in RQ; the worker mails it."""
    agent, conversation = _conversation(stack.make, "vi@example.com")
    _close_over_http(stack, agent, conversation.id)

    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "vi@example.com"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Where is my parcel?" in text and "It arrives tomorrow." in html
    assert "Alex Agent closed the conversation." in text
    assert "Courier lost it" not in text + html

    [job_id] = _job_ids(stack, conversation.id, stack.web_b)
    [queued] = [
        e for e in _log_entries(stack.web_b, "app.jobs") if job_id in e["message"]
    ]
    assert re.fullmatch(r"[0-9a-f]{16}", queued["request_id"])
    job = Job.fetch(job_id, connection=stack.queue.connection)
    wait_until(lambda: job.get_status(refresh=True) == "finished", what="job end")
    assert job.id in stack.queue.finished_job_registry.get_job_ids()
    assert job.return_value() is True

    sent = [e for e in _log_entries(stack.worker, "app.mail") if "Sent" in e["message"]]
    assert len(sent) == 1 and "vi@example.com" in sent[0]["message"]
    for web in (stack.web_a, stack.web_b):
        assert _log_entries(web, "app.mail") == []


def test_worker_retries_after_mail_server_outage(stack, smtp_server):
    """With the mail server down the job fails, is retried and then delivers."""
    agent, conversation = _conversation(stack.make, "later@example.com")
    smtp_server.stop()
    _close_over_http(stack, agent, conversation.id)

    [job_id] = wait_until(
        lambda: _job_ids(stack, conversation.id, stack.web_b), what="queued job"
    )
    job = Job.fetch(job_id, connection=stack.queue.connection)
    wait_until(
        lambda: job.id in stack.queue.scheduled_job_registry.get_job_ids(),
        what="the failed job to be scheduled for a retry",
    )
    assert smtp_server.messages == []
    smtp_server.start()

    [mail] = smtp_server.wait_for(1, timeout=60)
    assert mail["To"] == "later@example.com"
    wait_until(lambda: job.get_status(refresh=True) == "finished", what="job end")
    job.refresh()
    # Usually one failed attempt; a second if the retry came before the restart.
    failed_attempts = len(job.retry_intervals) - job.retries_left
    failures = [
        e for e in _log_entries(stack.worker, "rq.worker") if e["level"] == "ERROR"
    ]
    assert 1 <= failed_attempts == len(failures)
    for failure in failures:
        assert failure["job_id"] == job.id
        assert "ConnectionRefusedError" in failure["message"]
    assert stack.worker.alive()


def test_a_reply_the_visitor_missed_is_mailed_by_the_worker(stack, smtp_server):
    """A reply sent on web A is deferred, released when due and mailed once."""
    agent, conversation = _conversation(stack.make, "away@example.com")
    browser = requests.Session()
    assert sign_in(browser, stack.web_a.url, agent.email, PASSWORD).status_code == 200
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    console = ChatClient("/agent").connect(stack.web_a.url, headers={"Cookie": cookie})
    try:
        for n, body in enumerate(("Are you still there?", "Your parcel left.")):
            ack = console.call(
                "message:send",
                {
                    "conversation_id": conversation.id,
                    "client_msg_id": f"r{n}",
                    "body": body,
                },
            )
            assert ack["ok"], ack
        [mail] = smtp_server.wait_for(1, timeout=30)
    finally:
        console.close()
    assert mail["To"] == "away@example.com"
    text = mail.get_body(("plain",)).get_content()
    assert "Are you still there?" in text and "Your parcel left." in text
    # Both replies went in the one email; once nothing is left to run, it
    # is still the only one.
    redis = stack.queue.connection
    wait_until(
        lambda: (
            redis.zcard(DEFERRED_KEY) == 0
            and stack.queue.count == 0
            and stack.queue.started_job_registry.count == 0
        ),
        what="no job left to run",
    )
    assert len(smtp_server.messages) == 1
