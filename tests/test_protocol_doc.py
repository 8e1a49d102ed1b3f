"""docs/protocol.md covers every event, ack field and error code the code has."""

import re

from app.errors import ParleyError
from app.realtime import agent, widget
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()
# Everything a socket event or the widget's HTTP API can reach.
SOURCES = [
    *sorted((ROOT / "app" / "realtime").glob("*.py")),
    *sorted((ROOT / "app" / "api").glob("*.py")),
    *(
        ROOT / "app" / "domain" / name
        for name in ("conversations.py", "content.py", "visitors.py", "tenancy.py")
    ),
    ROOT / "app" / "ratelimit.py",
]


def _documented(name: str) -> bool:
    return f"`{name}`" in DOC


def _source() -> str:
    return "\n".join(path.read_text() for path in SOURCES)


def test_every_handled_event_is_documented():
    """Each client-to-server event of both namespaces is in the document."""
    missing = [e for e in [*widget.HANDLERS, *agent.HANDLERS] if not _documented(e)]
    assert missing == []


def test_every_emitted_event_is_documented():
    """Each server-to-client event name the code emits is in the document."""
    emitted = set(re.findall(r'emit\(\s*"([a-z:_]+)"', _source()))
    assert {
        "message",
        "typing",
        "read",
        "conversation",
        "presence",
        "presence:visitors",
        "resync",
    } <= emitted
    assert [e for e in sorted(emitted) if not _documented(e)] == []


def test_every_error_code_is_documented():
    """Each error code the realtime path can answer with is in the error table."""
    codes = set(re.findall(r'code="([a-z_]+)"', _source()))
    codes |= set(re.findall(r'"code": "([a-z_]+)"', _source()))
    codes |= {cls.code for cls in _subclasses(ParleyError)}
    codes.discard("error")
    missing = sorted(c for c in codes if not _documented(c))
    assert missing == []


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
