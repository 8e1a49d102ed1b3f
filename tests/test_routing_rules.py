"""The rule matcher and business hours: pure functions, no database."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app.errors import ValidationError
from app.models import RuleKind
from app.routing import hours
from app.routing.rules import VisitorContext, first_match, matches, route


@dataclass
class R:
    """A rule as the matcher sees it."""

    kind: RuleKind
    pattern: str
    team_id: int = 1
    key: str | None = None


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        ("*/pricing*", "https://example.com/pricing", True),
        ("*/pricing*", "https://example.com/pricing/teams?x=1", True),
        ("*/pricing*", "https://example.com/about", False),
        ("/pricing*", "https://example.com/pricing?plan=pro", True),
        ("/pricing", "https://example.com/de/pricing", False),
        ("/de/*", "https://example.com/de/pricing", True),
        ("example.com/help*", "https://EXAMPLE.com/Help/faq", True),
        ("shop.example.com/*", "https://example.com/shop", False),
        ("https://*.example.com/*", "https://eu.example.com/cart", True),
        ("https://*.example.com/*", "http://eu.example.com/cart", False),
        ("*", "", False),
    ],
)
def test_page_url_globs(pattern, url, expected):
    """Page rules match globs against the path, the bare address or the whole URL."""
    rule = R(RuleKind.PAGE_URL, pattern)
    assert matches(rule, VisitorContext(page_url=url)) is expected


@pytest.mark.parametrize(
    ("pattern", "language", "expected"),
    [
        ("fr", "fr", True),
        ("fr", "fr-CA", True),
        ("FR", "fr_ca", True),
        ("fr-ca", "fr-FR", False),
        ("pt-*", "pt-BR", True),
        ("de", "en-DE", False),
        ("fr", "", False),
    ],
)
def test_language_rules_match_primary_subtag(pattern, language, expected):
    """A bare language matches its regional variants; case and _ do not matter."""
    rule = R(RuleKind.LANGUAGE, pattern)
    assert matches(rule, VisitorContext(language=language)) is expected


def test_prechat_rule_reads_the_named_answer():
    """A pre-chat rule matches its question's answer, not any other."""
    rule = R(RuleKind.PRECHAT, "billing*", key="Topic")
    assert matches(rule, VisitorContext(prechat={"topic": " Billing question "}))
    assert not matches(rule, VisitorContext(prechat={"other": "billing"}))
    assert not matches(rule, VisitorContext(prechat={}))


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("enterprise", "enterprise", True),
        ("Enterprise", "ent*", True),
        (42, "4?", True),
        (True, "true", True),
        (False, "true", False),
        (["trial", "vip"], "vip", True),
        (None, "*", False),
    ],
)
def test_attribute_rule_compares_as_text(value, pattern, expected):
    """Attribute values of any JSON type are matched as text."""
    rule = R(RuleKind.ATTRIBUTE, pattern, key="plan")
    assert matches(rule, VisitorContext(attributes={"plan": value})) is expected


def test_rule_without_key_or_pattern_never_matches():
    """A keyed rule with no key, or an empty pattern, matches nothing."""
    context = VisitorContext(page_url="https://a.test/", attributes={"": "x"})
    assert not matches(R(RuleKind.ATTRIBUTE, "*", key=None), context)
    assert not matches(R(RuleKind.PAGE_URL, "  "), context)


def test_first_matching_rule_wins_else_default():
    """Rules are tried in order; with no match the default team is returned."""
    rules = [
        R(RuleKind.LANGUAGE, "de", team_id=1),
        R(RuleKind.PAGE_URL, "*/pricing*", team_id=2),
        R(RuleKind.PAGE_URL, "*", team_id=3),
    ]
    german_pricing = VisitorContext(page_url="https://a.test/pricing", language="de")
    assert route(rules, german_pricing, 9) == 1
    assert route(rules, VisitorContext(page_url="https://a.test/pricing"), 9) == 2
    assert route(rules, VisitorContext(page_url="https://a.test/"), 9) == 3
    assert route(rules[:2], VisitorContext(), 9) == 9
    assert route([], VisitorContext(), None) is None
    assert first_match(rules, german_pricing) is rules[0]


PARIS = {
    "timezone": "Europe/Paris",
    "weekly": {
        "mon": [["09:00", "12:00"], ["13:00", "17:30"]],
        "sat": [["10:00", "24:00"]],
    },
    "holidays": ["2026-12-28"],
}


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), True),  # Mon 09:00 Paris
        (datetime(2026, 12, 7, 7, 59, tzinfo=UTC), False),  # Mon 08:59
        (datetime(2026, 12, 7, 11, 30, tzinfo=UTC), False),  # lunch
        (datetime(2026, 12, 7, 16, 29, tzinfo=UTC), True),  # 17:29
        (datetime(2026, 12, 7, 16, 30, tzinfo=UTC), False),  # 17:30, closed
        (datetime(2026, 12, 8, 10, 0, tzinfo=UTC), False),  # Tuesday: no hours
        (datetime(2026, 12, 12, 22, 59, tzinfo=UTC), True),  # Sat 23:59
        (datetime(2026, 12, 28, 10, 0, tzinfo=UTC), False),  # holiday Monday
        (datetime(2026, 7, 6, 7, 30, tzinfo=UTC), True),  # Mon 09:30 in summer time
    ],
)
def test_business_hours_in_the_teams_time_zone(utc, expected):
    """Opening hours follow the team's time zone, daylight saving and holidays."""
    assert hours.is_open(PARIS, utc) is expected


def test_no_hours_means_always_open():
    """A team without hours is open at any time."""
    assert hours.is_open({}, datetime(2026, 12, 25, 3, tzinfo=UTC))
    assert hours.is_open(None, datetime(2026, 12, 25, 3, tzinfo=UTC))


@pytest.mark.parametrize(
    ("days", "timezone", "holidays", "code"),
    [
        ({"mon": "17:00-09:00"}, "UTC", "", "bad_hours"),
        ({"mon": "9-17"}, "UTC", "", "bad_hours"),
        ({"mon": "09:00-17:00"}, "Mars/Olympus", "", "bad_timezone"),
        ({"mon": "09:00-17:00"}, "UTC", "25/12/2026", "bad_holiday"),
    ],
)
def test_hours_form_text_is_checked(days, timezone, holidays, code):
    """Malformed times, zones or dates are refused with a coded error."""
    with pytest.raises(ValidationError) as raised:
        hours.from_text(timezone, days, holidays)
    assert raised.value.code == code


def test_hours_form_text_round_trips():
    """Hours typed in the admin form are stored and shown back the same."""
    days = {"mon": "09:00-12:00, 13:00-17:30", "sat": "10:00-24:00"}
    stored = hours.from_text("Europe/Paris", days, "2026-12-28\n")
    assert stored == PARIS
    timezone, shown, holidays = hours.to_text(stored)
    assert (timezone, holidays) == ("Europe/Paris", "2026-12-28")
    assert shown["mon"] == days["mon"] and shown["tue"] == ""
    assert hours.from_text("UTC", {}, "") == {}
