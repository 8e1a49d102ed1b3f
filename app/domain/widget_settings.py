"""A workspace's widget settings, as its admins set them.

The widget reads them from the workspace's ``settings`` JSON through
``POST /api/widget/session`` (see docs/protocol.md): ``greeting``, ``color``,
``language``, ``prechat``, plus ``allowed_origins``, which the widget API and
the socket check, and ``identity_secret``, which verifies ``Parley.identify``.
This module checks what an admin typed, turns it into that JSON and stores
it with an audit event. It knows nothing of Flask.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.domain import audit
from app.domain.tenancy import Tenant
from app.domain.visitors import allowed_origins, new_identity_secret
from app.errors import NotFound, ValidationError
from app.models import User, Workspace

#: The languages the widget ships: ``LANGUAGES`` in widget/src/i18n.js.
LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français"}

#: The widget's own accent colour: ``DEFAULT_COLOR`` in widget/src/ui.js.
DEFAULT_COLOR = "#2457d6"

#: The greeting is the panel's first bubble; past this length it pushes the
#: conversation out of view on a phone.
MAX_GREETING = 300

#: More origins than this is a wildcard written out by hand, or a mistake.
MAX_ORIGINS = 50

#: A longer choice list is easier to answer by typing. Values are what the
#: routing rules match; labels are what visitors read.
MAX_TOPIC_OPTIONS = 30
MAX_OPTION_VALUE = 64
MAX_OPTION_LABEL = 120

#: The pre-chat questions the admin page manages, in the order they are asked.
PRECHAT_FIELDS = ("name", "email", "topic")

#: How a pre-chat question is asked: not at all, optionally, or required.
ASK_MODES = ("off", "optional", "required")

#: The settings keys an admin edits on the widget page.
EDITED = ("greeting", "color", "language", "allowed_origins", "prechat")

_COLOR = re.compile(r"#[0-9a-f]{6}")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class WidgetSettings:
    """The widget settings as the admin form holds them: text, not yet checked.

    ``prechat`` maps each of :data:`PRECHAT_FIELDS` to one of
    :data:`ASK_MODES`; ``allowed_origins`` holds one origin a line and
    ``topic_options`` one ``value = label`` a line.
    """

    greeting: str = ""
    color: str = DEFAULT_COLOR
    language: str = ""
    allowed_origins: str = ""
    prechat: Mapping[str, str] = field(default_factory=dict)
    topic_options: str = ""


def workspace_of(tenant: Tenant) -> Workspace:
    """Return the tenant's own workspace."""
    workspace = tenant.session.get(Workspace, tenant.workspace_id)
    if workspace is None:
        raise NotFound("This workspace no longer exists.")
    return workspace


def open_to_any_origin(workspace: Workspace) -> bool:
    """True when no origin is listed, so any website may embed the widget."""
    return not allowed_origins(workspace)


def stored_identity_secret(workspace: Workspace) -> str | None:
    """Return the identity secret if the workspace has one; never make one."""
    return (workspace.settings or {}).get("identity_secret") or None


def embed_snippet(public_url: str, widget_key: str) -> str:
    """Return the script tag a company puts on its pages."""
    src = f"{public_url.rstrip('/')}/widget.js"
    return f'<script async src="{src}" data-key="{widget_key}"></script>'


def form_values(workspace: Workspace) -> WidgetSettings:
    """Return the stored settings as the admin form shows them."""
    settings = workspace.settings or {}
    asked = {f.get("name"): f for f in _prechat_fields(settings.get("prechat"))}
    options = (asked.get("topic") or {}).get("options") or []
    return WidgetSettings(
        greeting=settings.get("greeting") or "",
        color=settings.get("color") or DEFAULT_COLOR,
        language=settings.get("language") or "",
        allowed_origins="\n".join(allowed_origins(workspace)),
        prechat={name: _mode(asked.get(name)) for name in PRECHAT_FIELDS},
        topic_options="\n".join(_option_line(option) for option in options),
    )


def unmanaged_prechat_fields(workspace: Workspace) -> list[str]:
    """Return the names of pre-chat fields this page does not manage (kept as is)."""
    fields = _prechat_fields((workspace.settings or {}).get("prechat"))
    return [str(f.get("name")) for f in fields if f.get("name") not in PRECHAT_FIELDS]


def save(tenant: Tenant, given: WidgetSettings, *, by: User) -> list[str]:
    """Check and store the widget settings, with an audit event. Commits.

    Returns the names of the settings that changed; when none did, nothing
    is written, not even an audit event. Bad input raises ValidationError
    (its ``fields`` detail lists every problem by form field) and changes
    nothing.
    """
    workspace = _locked(tenant)
    stored = dict(workspace.settings or {})
    updated = apply(given, stored)

    changed = [key for key in EDITED if _differs(stored.get(key), updated.get(key))]
    if changed:
        workspace.settings = updated
        _audit(
            tenant,
            by,
            "widget.update",
            changed={key: updated.get(key) for key in changed},
        )
    tenant.session.commit()
    return changed


def regenerate_identity_secret(tenant: Tenant, *, by: User) -> str:
    """Replace the identity secret and return the new one. Commits.

    Hashes made with the old secret stop verifying at once; the audit event
    says that the secret changed, never what it is.
    """
    workspace = _locked(tenant)
    stored = dict(workspace.settings or {})
    replaced = bool(stored.get("identity_secret"))
    secret = new_identity_secret()
    workspace.settings = {**stored, "identity_secret": secret}
    _audit(tenant, by, "widget.regenerate_secret", replaced=replaced)
    tenant.session.commit()
    return secret


def apply(given: WidgetSettings, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``stored`` with the admin's settings in it, or raise ValidationError.

    Every field is checked before anything is refused, so the error's
    ``fields`` detail maps each form field with problems to its sentences.
    Keys the admin page does not edit are kept as they are.
    """
    problems: dict[str, list[str]] = {}
    cleaned = {
        "greeting": _collect(problems, "greeting", clean_greeting, given.greeting),
        "color": _collect(problems, "color", clean_color, given.color),
        "language": _collect(problems, "language", clean_language, given.language),
        "allowed_origins": _collect(
            problems, "allowed_origins", clean_origins, given.allowed_origins
        ),
        "prechat": _collect(
            problems,
            "topic_options",
            prechat_form,
            given.prechat,
            given.topic_options,
            stored.get("prechat"),
        ),
    }
    if problems:
        raise ValidationError(
            "The widget settings were not saved; correct the marked fields.",
            code="bad_widget_settings",
            fields=problems,
        )

    updated = dict(stored)
    for key, value in cleaned.items():
        if value is None:
            updated.pop(key, None)
        else:
            updated[key] = value
    return updated


def clean_greeting(text: str) -> str | None:
    """Return the greeting as one line of plain text, or None for the default."""
    printable = "".join(ch for ch in text or "" if ch.isprintable() or ch.isspace())
    greeting = " ".join(printable.split())
    if len(greeting) > MAX_GREETING:
        raise ValidationError(
            f"The greeting is {len(greeting)} characters long; "
            f"keep it to {MAX_GREETING}.",
            code="bad_greeting",
        )
    return greeting or None


def clean_color(text: str) -> str:
    """Return an accent colour as ``#rrggbb`` in lower case."""
    color = (text or "").strip().lower()
    if not _COLOR.fullmatch(color):
        raise ValidationError(
            f"{text!r} is not a colour; write # and six hex digits, like "
            f"{DEFAULT_COLOR}.",
            code="bad_color",
        )
    return color


def clean_language(code: str) -> str | None:
    """Return a language the widget ships, or None to follow the browser."""
    code = (code or "").strip().lower()
    if not code:
        return None
    if code not in LANGUAGES:
        raise ValidationError(
            f"The widget does not speak {code!r}; choose one of "
            f"{', '.join(LANGUAGES)}, or automatic.",
            code="bad_language",
        )
    return code


def clean_origins(text: str) -> list[str]:
    """Return one origin a line, normalised and without repeats.

    Raises ValidationError whose ``problems`` detail has a sentence for each
    bad line, numbered as the admin sees them.
    """
    origins: list[str] = []
    problems = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            origin = normalise_origin(line)
        except ValidationError as error:
            problems.append(f"Line {number}: {error.message}")
            continue
        if origin not in origins:
            origins.append(origin)

    if len(origins) > MAX_ORIGINS:
        problems.append(
            f"{len(origins)} origins is more than the {MAX_ORIGINS} allowed."
        )
    if problems:
        raise ValidationError(problems[0], code="bad_origin", problems=problems)
    return origins


def normalise_origin(text: str) -> str:
    """Return ``text`` as a browser writes it in an Origin header.

    Scheme and host in lower case, an internationalised name in its ASCII
    form, the port only when it is not the scheme's default, and no path:
    ``HTTPS://Shop.Example:443/`` becomes ``https://shop.example``.
    """
    text = text.strip()
    if "*" in text:
        raise _bad_origin(f"{text} has a wildcard; list each origin instead.")
    if "://" not in text:
        raise _bad_origin(f"{text} has no scheme; write it as https://{text}.")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _bad_origin(f"{text} must start with https:// or http://.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _bad_origin(
            f"{text} has a path; an origin is only scheme, host and port, "
            f"like {scheme}://{parts.netloc}."
        )
    if parts.username is not None or parts.password is not None:
        raise _bad_origin(f"{text} has a user name; leave it out.")

    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise _bad_origin(f"{text} has a bad port; use a number from 1 to 65535.")
    host = _host(parts.hostname or "")
    if host is None:
        raise _bad_origin(f"{text} does not have a valid host name.")

    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def clean_topic_options(text: str) -> list[dict[str, str]]:
    """Return ``value = label`` lines as the widget's options.

    A line without ``=`` is a value that is its own label. Raises
    ValidationError whose ``problems`` detail has a sentence for each bad line.
    """
    options: list[dict[str, str]] = []
    lines_of: dict[str, int] = {}
    problems = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, _, label = (part.strip() for part in line.partition("="))
        problem = _option_problem(value, label, lines_of)
        if problem:
            problems.append(f"Line {number}: {problem}")
            continue
        lines_of[value] = number
        options.append({"value": value, "label": label or value})

    if len(options) > MAX_TOPIC_OPTIONS:
        problems.append(
            f"{len(options)} options is more than the {MAX_TOPIC_OPTIONS} allowed."
        )
    if problems:
        raise ValidationError(problems[0], code="bad_topic_option", problems=problems)
    return options


def prechat_form(
    ask: Mapping[str, str], topic_options: str, stored: object
) -> dict[str, Any] | None:
    """Return the pre-chat form the widget shows, or None for no form.

    ``ask`` says how each of :data:`PRECHAT_FIELDS` is asked. A field keeps
    the custom label it had; fields this page does not manage (set through
    the database) are kept after these.
    """
    bad = sorted(
        f"{name}={mode}"
        for name, mode in ask.items()
        if name not in PRECHAT_FIELDS or mode not in ASK_MODES
    )
    if bad:
        raise ValidationError(
            f"Ask for name, email or topic as off, optional or required, "
            f"not {', '.join(bad)}.",
            code="bad_prechat",
            field="prechat",
        )
    options = clean_topic_options(topic_options)
    if options and ask.get("topic", "off") == "off":
        raise ValidationError(
            "Ask for the topic to offer these options, or clear them.",
            code="bad_prechat",
        )

    previous = _prechat_fields(stored)
    labels = {f.get("name"): f["label"] for f in previous if f.get("label")}
    fields: list[dict[str, Any]] = []
    for name in PRECHAT_FIELDS:
        mode = ask.get(name, "off")
        if mode == "off":
            continue
        asked: dict[str, Any] = {"name": name, "required": mode == "required"}
        if name in labels:
            asked["label"] = labels[name]
        if name == "topic" and options:
            asked["options"] = options
        fields.append(asked)
    fields += [f for f in previous if f.get("name") not in PRECHAT_FIELDS]
    return {"fields": fields} if fields else None


def _collect(
    problems: dict[str, list[str]],
    name: str,
    clean: Callable[..., Any],
    *args: Any,
) -> Any:
    """Return ``clean(*args)``, or None after noting its problems under ``name``.

    An error may name another form field in its ``field`` detail.
    """
    try:
        return clean(*args)
    except ValidationError as error:
        where = error.details.get("field", name)
        problems.setdefault(where, []).extend(
            error.details.get("problems") or [error.message]
        )
        return None


def _bad_origin(message: str) -> ValidationError:
    return ValidationError(message, code="bad_origin")


def _host(name: str) -> str | None:
    """Return a host as browsers send it (IDNA, compressed IP), or None."""
    if not name:
        return None
    try:
        return ipaddress.ip_address(name).compressed
    except ValueError:
        pass
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    # A name whose last label is a number is read by browsers as an IPv4
    # address (http://1.2.3 is http://1.2.0.3), so it never matches as typed.
    if labels[-1].isdigit() or len(ascii_name) > 253:
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_name


def _option_problem(value: str, label: str, lines_of: Mapping[str, int]) -> str:
    """Return what is wrong with one topic option, or an empty string."""
    if not value:
        return "the value before = is missing."
    if len(value) > MAX_OPTION_VALUE:
        return f"the value is longer than {MAX_OPTION_VALUE} characters."
    if len(label) > MAX_OPTION_LABEL:
        return f"the label is longer than {MAX_OPTION_LABEL} characters."
    if value in lines_of:
        return f"{value} is already on line {lines_of[value]}; give each value once."
    return ""


def _option_line(option: Mapping[str, Any]) -> str:
    """Return a stored option as the admin form's ``value = label`` line."""
    value = str(option.get("value", ""))
    label = str(option.get("label") or value)
    return value if label == value else f"{value} = {label}"


def _prechat_fields(prechat: object) -> list[dict[str, Any]]:
    """Return the well-formed fields of a stored pre-chat form."""
    fields = prechat.get("fields") if isinstance(prechat, dict) else None
    if not isinstance(fields, list):
        return []
    return [f for f in fields if isinstance(f, dict) and f.get("name")]


def _mode(asked: Mapping[str, Any] | None) -> str:
    """Return how a stored pre-chat field is asked."""
    if asked is None:
        return "off"
    return "required" if asked.get("required") else "optional"


def _differs(before: object, after: object) -> bool:
    """True if a setting changed; a missing value and an empty one are the same."""
    return (before or None) != (after or None)


def _locked(tenant: Tenant) -> Workspace:
    """Return the tenant's workspace, read afresh and locked for a change.

    The settings are one JSON value written whole: the lock keeps two admins
    (or a save and a new secret) from undoing each other's change.
    """
    workspace = tenant.session.get(
        Workspace, tenant.workspace_id, with_for_update=True, populate_existing=True
    )
    if workspace is None:
        raise NotFound("This workspace no longer exists.")
    return workspace


def _audit(tenant: Tenant, by: User, action: str, **data: Any) -> None:
    """Record an admin's change to the widget in the audit trail."""
    audit.record(
        tenant.session,
        tenant.workspace_id,
        actor=("user", by.id),
        action=action,
        obj=("workspace", tenant.workspace_id),
        **data,
    )
