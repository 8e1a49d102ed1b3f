"""What a message body may contain, and how it is shown."""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from bleach.linkifier import Linker
from bleach.sanitizer import Cleaner

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


def _link_attributes(attrs: dict, new: bool = False) -> dict | None:
    """Keep only web and mail links, and open them safely in a new tab."""
    href = attrs.get((None, "href"), "")
    if not href.lower().startswith(("http://", "https://", "mailto:")):
        return None
    attrs[(None, "rel")] = "noopener nofollow"
    attrs[(None, "target")] = "_blank"
    return attrs


_linker = Linker(callbacks=[_link_attributes], parse_email=True)
_cleaner = Cleaner(
    tags={"a"},
    attributes={"a": ["href", "rel", "target"]},
    protocols={"http", "https", "mailto"},
    strip=True,
)


# Every address the linker finds has an "@" (an email) or a dot followed by
# a letter of its top-level domain; \w also covers the non-ASCII letters its
# case-insensitive match lets through (the Kelvin sign for "k").
_MAY_LINK = re.compile(r"@|\.\w")


# One message is rendered for its ack, its agents and its visitor within
# milliseconds of each other; bleach's parse is the costly part of a send.
@lru_cache(maxsize=1024)
def render_html(body: str) -> str:
    """Return ``body`` as HTML: all text escaped, links made clickable.

    The sender's text is escaped first, so markup in it stays text; only the
    links the linker adds are tags, and the cleaner checks them once more
    against an allowlist. Text in which the linker could find nothing comes
    out of the two as it went in, escaped, so that is all it gets. Recent
    results are cached: the output depends on the text alone.
    """
    if _MAY_LINK.search(body) is None:
        return escape(body)
    return _linked_html(body)


def _linked_html(body: str) -> str:
    """Escape ``body`` and make its links clickable, through bleach."""
    return _cleaner.clean(_linker.linkify(escape(body)))
