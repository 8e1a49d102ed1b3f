"""The rule matcher: which team a new conversation goes to. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.models.routing import RuleKind


@dataclass(frozen=True)
class VisitorContext:
    """What routing knows about a visitor when their conversation starts."""

    page_url: str = ""
    language: str = ""
    prechat: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


class Rule(Protocol):
    """The parts of a routing rule the matcher reads."""

    kind: RuleKind
    key: str | None
    pattern: str
    team_id: int


def route(
    rules: Iterable[Rule], context: VisitorContext, default_team_id: int | None
) -> int | None:
    """Return the team of the first rule that matches, else the default team."""
    rule = first_match(rules, context)
    return rule.team_id if rule is not None else default_team_id


def first_match(rules: Iterable[Rule], context: VisitorContext) -> Rule | None:
    """Return the first rule (in the order given) that ``context`` matches."""
    for rule in rules:
        if matches(rule, context):
            return rule
    return None


def matches(rule: Rule, context: VisitorContext) -> bool:
    """True if ``context`` satisfies ``rule``."""
    pattern = rule.pattern.strip()
    if not pattern:
        return False
    if rule.kind == RuleKind.PAGE_URL:
        return url_matches(pattern, context.page_url)
    if rule.kind == RuleKind.LANGUAGE:
        return language_matches(pattern, context.language)
    if rule.kind == RuleKind.PRECHAT:
        return _value_matches(pattern, _lookup(context.prechat, rule.key))
    if rule.kind == RuleKind.ATTRIBUTE:
        return _value_matches(pattern, _lookup(context.attributes, rule.key))
    return False


def url_matches(pattern: str, url: str) -> bool:
    """Match a glob against a page address, ignoring case.

    A pattern that starts with ``/`` is matched against the path (with its
    query); one with ``://`` against the whole address; any other against
    the address without its scheme, so ``example.com/pricing*`` works.
    """
    if not url:
        return False
    pattern, url = pattern.lower(), url.strip().lower()
    parts = urlsplit(url)
    if pattern.startswith("/"):
        path = parts.path or "/"
        target = f"{path}?{parts.query}" if parts.query else path
        return fnmatchcase(path, pattern) or fnmatchcase(target, pattern)
    if "://" in pattern:
        return fnmatchcase(url, pattern)
    bare = url.split("://", 1)[1] if "://" in url else url
    return fnmatchcase(bare, pattern)


def language_matches(pattern: str, language: str) -> bool:
    """Match a glob against a language tag; ``fr`` also matches ``fr-CA``."""
    tag = language.strip().lower().replace("_", "-")
    if not tag:
        return False
    pattern = pattern.lower().replace("_", "-")
    return fnmatchcase(tag, pattern) or fnmatchcase(tag.split("-", 1)[0], pattern)


def _lookup(values: Mapping[str, Any], key: str | None) -> Any:
    """Return ``values[key]``, matching the key without regard to case."""
    if not key:
        return None
    if key in values:
        return values[key]
    wanted = key.strip().lower()
    for name, value in values.items():
        if str(name).strip().lower() == wanted:
            return value
    return None


def _value_matches(pattern: str, value: Any) -> bool:
    """Match a glob against an answer or attribute, as text, ignoring case."""
    if value is None:
        return False
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        return any(_value_matches(pattern, item) for item in value)
    else:
        text = str(value)
    return fnmatchcase(text.strip().lower(), pattern.lower())
