"""Forms of the admin pages; Flask-WTF checks each one's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    ColorField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange

from app.domain.widget_settings import LANGUAGES
from app.models import Strategy
from app.models.workspace import DEFAULT_OFFLINE_GRACE_SECONDS

STRATEGIES = [
    SelectChoice(Strategy.LEAST_BUSY.value, "Least busy"),
    SelectChoice(Strategy.ROUND_ROBIN.value, "Round-robin"),
    SelectChoice(Strategy.MANUAL.value, "Manual (agents take from the queue)"),
]
ASK_CHOICES = [
    SelectChoice("off", "Don't ask"),
    SelectChoice("optional", "Ask, optional"),
    SelectChoice("required", "Ask, required"),
]
LANGUAGE_CHOICES = [
    SelectChoice("", "Automatic: the visitor's browser language"),
    *(SelectChoice(code, f"{name} ({code})") for code, name in LANGUAGES.items()),
]
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


class PlainForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CreateTeamForm(FlaskForm):
    """A new team's name and strategy."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    strategy = SelectField("Assignment", choices=STRATEGIES)


def _hours_field(day: str) -> StringField:
    """Return the text field for one weekday's opening hours."""
    return StringField(
        DAY_NAMES[day],
        validators=[Length(max=200)],
        description="e.g. 09:00-12:30, 13:30-17:00; empty for closed",
    )


class TeamForm(FlaskForm):
    """A team's settings and business hours."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    strategy = SelectField("Assignment", choices=STRATEGIES)
    is_default = BooleanField("Default team (takes what no rule matches)")
    requeue_on_offline = BooleanField(
        "Put an offline agent's conversations back in the queue"
    )
    offline_grace_seconds = IntegerField(
        "Grace period before that, in seconds",
        default=DEFAULT_OFFLINE_GRACE_SECONDS,
        validators=[InputRequired(), NumberRange(min=0, max=24 * 3600)],
    )
    timezone = StringField("Time zone", default="UTC", validators=[Length(max=64)])
    mon = _hours_field("mon")
    tue = _hours_field("tue")
    wed = _hours_field("wed")
    thu = _hours_field("thu")
    fri = _hours_field("fri")
    sat = _hours_field("sat")
    sun = _hours_field("sun")
    holidays = TextAreaField(
        "Holidays (one YYYY-MM-DD a line)", validators=[Length(max=4000)]
    )


class MembersForm(FlaskForm):
    """Which agents are in a team (checkboxes named ``members``)."""


class CapacityForm(FlaskForm):
    """An agent's capacity."""

    capacity = IntegerField(
        "Capacity", validators=[InputRequired(), NumberRange(min=0, max=100)]
    )


class RuleForm(FlaskForm):
    """A new routing rule."""

    kind = SelectField("When the")
    key = StringField(
        "Question or attribute",
        validators=[Length(max=120)],
        description="For pre-chat and attribute rules: which one to read.",
    )
    pattern = StringField(
        "matches",
        validators=[DataRequired(), Length(max=500)],
        description="A glob: * for anything, ? for one character.",
    )
    team_id = SelectField("send to team", coerce=int)


class MoveRuleForm(FlaskForm):
    """Move a rule up or down."""

    direction = HiddenField(validators=[AnyOf(["up", "down"])])


class TesterForm(FlaskForm):
    """A made-up visitor for the rule tester (it changes nothing)."""

    url = StringField("Page address", validators=[Length(max=2048)])
    language = StringField("Language", validators=[Length(max=35)])
    prechat = TextAreaField("Pre-chat answers (name = answer, one a line)")
    attributes = TextAreaField("Attributes (name = value, one a line)")


class WidgetForm(FlaskForm):
    """A workspace's widget settings; app.domain.widget_settings checks them."""

    greeting = StringField(
        "Greeting",
        description="The first message visitors see. Empty for the widget's "
        "own greeting in the visitor's language.",
    )
    color = ColorField(
        "Accent colour",
        description="The launcher, the header and the visitor's messages.",
    )
    language = SelectField("Language", choices=LANGUAGE_CHOICES)
    allowed_origins = TextAreaField(
        "Allowed origins (one a line)",
        description="Scheme, host and port of each site that may show the chat, "
        "like https://www.example.com. Empty allows any website.",
        validators=[Length(max=20_000)],
    )
    ask_name = SelectField("Name", choices=ASK_CHOICES)
    ask_email = SelectField("Email", choices=ASK_CHOICES)
    ask_topic = SelectField("Topic", choices=ASK_CHOICES)
    topic_options = TextAreaField(
        "Topic options (value = label, one a line)",
        description="Empty lets visitors type their topic. Routing rules on the "
        "pre-chat answer topic match the value.",
        validators=[Length(max=20_000)],
    )


class SecretForm(FlaskForm):
    """Replace the identity secret; the admin confirms when one exists."""

    confirm = BooleanField(
        "Yes, replace the secret: hashes made with the current one stop verifying."
    )
