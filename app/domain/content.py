"""What a message body may contain, and how it is shown."""

from __future__ import annotations

import re

from app.errors import ValidationError

MAX_BODY_CHARS = 5000

# C0 and C1 control characters, except tab and newline, which text keeps.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_body(body: object) -> str:
    """Return ``body`` as plain text fit to store, or raise ValidationError."""
    if not isinstance(body, str):
        raise ValidationError("A message body must be text.", code="invalid_body")
    text = _CONTROL.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise ValidationError("A message cannot be empty.", code="empty_body")
    if len(text) > MAX_BODY_CHARS:
        raise ValidationError(
            f"A message can hold at most {MAX_BODY_CHARS} characters.",
            code="body_too_long",
            limit=MAX_BODY_CHARS,
        )
    return text
