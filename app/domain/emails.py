"""Emails to visitors, rendered from the templates in ``app/templates/email``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("app", "templates/email"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Email:
    """A rendered email, ready to send."""

    recipient: str
    subject: str
    text: str
    html: str


def render(
    name: str, *, recipient: str, subject: str, context: dict[str, Any]
) -> Email:
    """Render the templates ``name``.txt and ``name``.html with ``context``."""
    return Email(
        recipient=recipient,
        subject=subject,
        text=_templates.get_template(f"{name}.txt").render(context),
        html=_templates.get_template(f"{name}.html").render(context),
    )
