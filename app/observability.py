"""Error tracking with Sentry, when a DSN is configured."""

from __future__ import annotations

import logging
import warnings

from config import Settings

logger = logging.getLogger(__name__)

#: How eventlet warns about itself (as a plain Warning) when sentry-sdk imports it.
EVENTLET_WARNING = r"\s*Eventlet is deprecated"


def init_sentry(settings: Settings) -> bool:
    """Start sentry-sdk with the Flask, RQ and Redis integrations; True if started."""
    if not settings.sentry_dsn:
        return False
    with warnings.catch_warnings():
        # sentry-sdk imports eventlet to ask whether it patched threading,
        # which makes eventlet warn about itself in unpatched processes.
        warnings.filterwarnings("ignore", message=EVENTLET_WARNING)
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
        from sentry_sdk.integrations.redis import RedisIntegration
        from sentry_sdk.integrations.rq import RqIntegration

        # Personal data (visitors' emails, cookies, addresses) stays out by
        # sentry-sdk's default; naming send_default_pii is deprecated.
        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            environment=settings.env,
            traces_sample_rate=settings.sentry_traces_sample_rate,
            integrations=[FlaskIntegration(), RqIntegration(), RedisIntegration()],
        )
    logger.info("Sentry error tracking is on")
    return True
