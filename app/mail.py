"""Sending email over SMTP."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from config import Settings

logger = logging.getLogger(__name__)

# Long enough for a slow relay, short enough that a dead one frees the job.
SMTP_TIMEOUT_SECONDS = 30


def send_email(
    settings: Settings, *, to: str, subject: str, text: str, html: str
) -> str:
    """Send a text-and-HTML email; return its Message-ID."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="parley")
    message.set_content(text)
    message.add_alternative(html, subtype="html")

    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)
    logger.info("Sent %r to %s as %s", subject, to, message["Message-ID"])
    return message["Message-ID"]
