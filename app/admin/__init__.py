"""The admin pages: routing (teams, members, capacities, rules) and the widget.

The widget page's views are in :mod:`app.admin.widget`. Admins only; an
agent gets 403. Every object is reached through the signed-in admin's
Tenant, so another workspace's ids are 404.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields import SelectChoice

from app.admin.forms import (
    STRATEGIES,
    CapacityForm,
    CreateTeamForm,
    MembersForm,
    MoveRuleForm,
    PlainForm,
    RuleForm,
    TeamForm,
    TesterForm,
)
from app.db import utcnow
from app.domain import widget_settings
from app.domain.tenancy import Tenant
from app.errors import Conflict, Forbidden, ValidationError
from app.extensions import db, login_manager
from app.models import RuleKind, Team, User
from app.routing import hours, setup
from app.routing.assignment import agent_loads, preview, set_capacity
from app.routing.rules import VisitorContext

logger = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

STRATEGY_LABELS = {choice.value: choice.label for choice in STRATEGIES}
KIND_LABELS = {
    RuleKind.PAGE_URL: "Page address",
    RuleKind.LANGUAGE: "Visitor's language",
    RuleKind.PRECHAT: "Pre-chat answer",
    RuleKind.ATTRIBUTE: "Visitor attribute",
}
Page = str | Response | tuple[str, int]


@bp.before_request
def require_admin() -> Response | None:
    """Send anonymous visitors to sign in and refuse agents who are not admins."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        raise Forbidden(
            "Only admins can change routing and the widget.", code="admin_only"
        )
    return None


def tenant() -> Tenant:
    """Return the signed-in admin's workspace scope."""
    return Tenant(db.session, current_user.workspace_id)


@bp.get("/")
def index() -> Response:
    """Open the admin pages at the team list."""
    return redirect(url_for("admin.teams"))


@bp.route("/teams", methods=["GET", "POST"])
def teams() -> Page:
    """List the teams and create new ones."""
    scope = tenant()
    form = CreateTeamForm()
    if form.validate_on_submit():
        try:
            team = setup.create_team(
                scope, form.name.data, strategy=form.strategy.data, by=current_user
            )
        except (ValidationError, Conflict) as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(f"Team {team.name} created.", "info")
            return redirect(url_for("admin.team", team_id=team.id))
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "admin/teams.html",
            teams=setup.teams(scope),
            form=form,
            strategies=STRATEGY_LABELS,
            any_origin=widget_settings.open_to_any_origin(
                widget_settings.workspace_of(scope)
            ),
        ),
        status,
    )


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def team(team_id: int) -> Page:
    """Show a team's settings and members, and save its settings."""
    scope = tenant()
    found = scope.get(Team, team_id)
    form = TeamForm(obj=_team_fields(found))
    if form.validate_on_submit():
        try:
            _save_team(scope, found, form)
        except (ValidationError, Conflict) as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash("Team saved.", "info")
            return redirect(url_for("admin.team", team_id=found.id))
    status = 400 if request.method == "POST" else 200
    return _team_page(scope, found, form, MembersForm(), status)


def _team_fields(team: Team) -> object:
    """Return an object the team form reads its starting values from."""
    timezone, days, holidays = hours.to_text(team.business_hours)
    fields = {
        "name": team.name,
        "strategy": team.strategy.value,
        "requeue_on_offline": team.requeue_on_offline,
        "offline_grace_seconds": team.offline_grace_seconds,
        "is_default": team.is_default,
        "timezone": timezone,
        "holidays": holidays,
        **days,
    }
    return type("TeamFields", (), fields)()


def _save_team(scope: Tenant, team: Team, form: TeamForm) -> None:
    """Apply the team form through the routing setup."""
    business_hours = hours.from_text(
        form.timezone.data or "",
        {day: getattr(form, day).data or "" for day in hours.DAYS},
        form.holidays.data or "",
    )
    setup.update_team(
        scope,
        team.id,
        by=current_user,
        name=form.name.data,
        strategy=form.strategy.data,
        requeue_on_offline=form.requeue_on_offline.data,
        offline_grace_seconds=form.offline_grace_seconds.data,
        is_default=form.is_default.data,
        business_hours=business_hours,
    )


def _team_page(
    scope: Tenant, team: Team, form: TeamForm, members: MembersForm, status: int
) -> tuple[str, int]:
    """Render a team's page."""
    people = setup.agents(scope)
    member_ids = {member.id for member in team.members}
    return (
        render_template(
            "admin/team.html",
            team=team,
            form=form,
            members_form=members,
            people=people,
            member_ids=member_ids,
            loads=agent_loads(db.session, [person.id for person in people]),
            days=hours.DAYS,
            is_open=hours.is_open(team.business_hours, utcnow()),
        ),
        status,
    )


@bp.post("/teams/<int:team_id>/members")
def members(team_id: int) -> Page:
    """Set exactly which agents are in a team."""
    scope = tenant()
    found = scope.get(Team, team_id)
    form = MembersForm()
    if not form.validate_on_submit():
        return _team_page(scope, found, TeamForm(obj=_team_fields(found)), form, 400)
    chosen = {int(value) for value in request.form.getlist("members")}
    setup.set_members(scope, found.id, chosen, by=current_user)
    flash("Members saved.", "info")
    return redirect(url_for("admin.team", team_id=found.id))


@bp.get("/agents")
def agents() -> str:
    """List agents with their capacity, availability and open conversations."""
    people = setup.agents(tenant())
    return render_template(
        "admin/agents.html",
        people=people,
        loads=agent_loads(db.session, [person.id for person in people]),
        form=CapacityForm(),
    )


@bp.post("/agents/<int:user_id>/capacity")
def capacity(user_id: int) -> Page:
    """Change how many open conversations an agent takes at most."""
    agent = tenant().get(User, user_id)
    form = CapacityForm()
    if not form.validate_on_submit():
        flash("Capacity must be a whole number from 0 to 100.", "error")
        return redirect(url_for("admin.agents")), 400
    set_capacity(db.session, agent.id, form.capacity.data, by=current_user)
    flash(f"{agent.name} now takes up to {form.capacity.data} conversations.", "info")
    return redirect(url_for("admin.agents"))


@bp.route("/rules", methods=["GET", "POST"])
def rules() -> Page:
    """List the ordered rules, add one, and test which team a visitor reaches."""
    scope = tenant()
    form = _rule_form(scope)
    if form.validate_on_submit():
        try:
            setup.add_rule(
                scope,
                team_id=form.team_id.data,
                kind=form.kind.data,
                key=form.key.data,
                pattern=form.pattern.data,
                by=current_user,
            )
        except (ValidationError, Conflict) as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash("Rule added.", "info")
            return redirect(url_for("admin.rules"))
    tester = TesterForm(request.args, meta={"csrf": False})
    result = _test_route(scope, tester) if "url" in request.args else None
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "admin/rules.html",
            rules=setup.ordered_rules(scope),
            form=form,
            tester=tester,
            result=result,
            kinds=KIND_LABELS,
            action_form=PlainForm(),
            move_form=MoveRuleForm(),
            has_teams=bool(form.team_id.choices),
        ),
        status,
    )


def _rule_form(scope: Tenant) -> RuleForm:
    """Build the add-rule form with this workspace's teams to choose from."""
    form = RuleForm()
    form.team_id.choices = [
        SelectChoice(str(team.id), team.name) for team in setup.teams(scope)
    ]
    form.kind.choices = [
        SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()
    ]
    return form


def _test_route(scope: Tenant, tester: TesterForm) -> dict[str, object]:
    """Run the rule tester's visitor through the rules, changing nothing."""
    context = VisitorContext(
        page_url=(tester.url.data or "").strip(),
        language=(tester.language.data or "").strip(),
        prechat=_pairs(tester.prechat.data),
        attributes=_pairs(tester.attributes.data),
    )
    found = preview(db.session, scope.workspace_id, context, utcnow())
    return {"preview": found, "context": context}


def _pairs(text: str | None) -> dict[str, str]:
    """Parse ``name = value`` lines into a dict."""
    pairs = {}
    for line in (text or "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs


@bp.post("/rules/<int:rule_id>/delete")
def delete_rule(rule_id: int) -> Page:
    """Delete a rule."""
    if not PlainForm().validate_on_submit():
        return redirect(url_for("admin.rules")), 400
    setup.delete_rule(tenant(), rule_id, by=current_user)
    flash("Rule deleted.", "info")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<int:rule_id>/move")
def move_rule(rule_id: int) -> Page:
    """Move a rule one place up or down."""
    form = MoveRuleForm()
    if not form.validate_on_submit():
        return redirect(url_for("admin.rules")), 400
    offset = -1 if form.direction.data == "up" else 1
    setup.move_rule(tenant(), rule_id, offset, by=current_user)
    return redirect(url_for("admin.rules"))


# The widget page's views register on this blueprint when it is imported.
from app.admin import widget  # noqa: E402, F401
