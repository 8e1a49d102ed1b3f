"""Error tracking with Sentry, when a DSN is configured."""

from __future__ import annotations

import logging

from config import Settings

logger = logging.getLogger(__name__)


def init_sentry(settings: Settings) -> bool:
    """Start sentry-sdk with the Flask, RQ and Redis integrations; True if started."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.redis import RedisIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        integrations=[FlaskIntegration(), RqIntegration(), RedisIntegration()],
        send_default_pii=False,
    )
    logger.info("Sentry error tracking is on")
    return True
