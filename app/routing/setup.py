"""An admin's routing setup: teams, members, capacities and ordered rules.

Every function works through a :class:`Tenant`, so an admin can reach only
their own workspace's objects; another workspace's ids are NotFound.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update

from app.domain import audit
from app.domain.tenancy import Tenant
from app.errors import Conflict, NotFound, ValidationError
from app.models import RoutingRule, RuleKind, Strategy, Team, TeamMembership, User
from app.routing import hours
from app.routing.assignment import assign_next

MAX_GRACE_SECONDS = 24 * 3600


def ordered_rules(tenant: Tenant) -> list[RoutingRule]:
    """Return the workspace's rules in the order they are tried."""
    return list(
        tenant.session.scalars(
            tenant.select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def teams(tenant: Tenant) -> list[Team]:
    """Return the workspace's teams by name."""
    return list(tenant.session.scalars(tenant.select(Team).order_by(Team.name)))


def agents(tenant: Tenant) -> list[User]:
    """Return the workspace's active users by name."""
    return list(
        tenant.session.scalars(
            tenant.select(User).where(User.is_active.is_(True)).order_by(User.name)
        )
    )


def create_team(
    tenant: Tenant, name: str, *, strategy: Strategy = Strategy.LEAST_BUSY, by: User
) -> Team:
    """Create a team; the workspace's first team becomes its default. Commits."""
    name = _team_name(tenant, name)
    first = tenant.session.scalar(tenant.select(Team).limit(1)) is None
    team = tenant.add(
        Team(
            name=name, strategy=Strategy(strategy), is_default=first, business_hours={}
        )
    )
    tenant.session.flush()
    _audit(tenant, by, "team.create", ("team", team.id), name=name)
    tenant.session.commit()
    return team


def update_team(
    tenant: Tenant,
    team_id: int,
    *,
    by: User,
    name: str,
    strategy: Strategy | str,
    requeue_on_offline: bool,
    offline_grace_seconds: int,
    is_default: bool,
    business_hours: dict[str, Any],
) -> Team:
    """Change a team's settings, then drain its queue. Commits."""
    team = tenant.get(Team, team_id)
    if not 0 <= offline_grace_seconds <= MAX_GRACE_SECONDS:
        raise ValidationError(
            "The grace period must be from 0 seconds to one day.", code="bad_grace"
        )
    hours.parse(business_hours)
    team.name = _team_name(tenant, name, keep=team)
    team.strategy = Strategy(strategy)
    team.requeue_on_offline = requeue_on_offline
    team.offline_grace_seconds = offline_grace_seconds
    team.business_hours = business_hours
    if is_default and not team.is_default:
        tenant.session.execute(
            update(Team)
            .where(Team.workspace_id == tenant.workspace_id, Team.id != team.id)
            .values(is_default=False)
            .execution_options(synchronize_session="fetch")
        )
    team.is_default = is_default
    _audit(
        tenant,
        by,
        "team.update",
        ("team", team.id),
        name=team.name,
        strategy=team.strategy.value,
        requeue_on_offline=requeue_on_offline,
        is_default=is_default,
    )
    tenant.session.commit()
    assign_next(tenant.session, team.id)
    return team


def set_members(tenant: Tenant, team_id: int, user_ids: set[int], *, by: User) -> Team:
    """Make exactly ``user_ids`` the team's members, then drain its queue. Commits."""
    team = tenant.get(Team, team_id)
    wanted = {tenant.get(User, user_id).id for user_id in user_ids}
    current = set(
        tenant.session.scalars(
            select(TeamMembership.user_id).where(TeamMembership.team_id == team.id)
        )
    )
    if current - wanted:
        tenant.session.execute(
            delete(TeamMembership).where(
                TeamMembership.team_id == team.id,
                TeamMembership.user_id.in_(current - wanted),
            )
        )
    for user_id in sorted(wanted - current):
        tenant.session.add(TeamMembership(team_id=team.id, user_id=user_id))
    _audit(
        tenant,
        by,
        "team.members",
        ("team", team.id),
        added=sorted(wanted - current),
        removed=sorted(current - wanted),
    )
    tenant.session.commit()
    tenant.session.expire(team, ["members"])
    assign_next(tenant.session, team.id)
    return team


def add_rule(
    tenant: Tenant,
    *,
    team_id: int,
    kind: RuleKind | str,
    key: str | None,
    pattern: str,
    by: User,
) -> RoutingRule:
    """Add a rule at the end of the list. Commits."""
    team = tenant.get(Team, team_id)
    kind = RuleKind(kind)
    key = (key or "").strip() or None
    pattern = pattern.strip()
    if not pattern:
        raise ValidationError("Give the rule a pattern to match.", code="bad_rule")
    if kind in (RuleKind.PRECHAT, RuleKind.ATTRIBUTE) and key is None:
        raise ValidationError(
            "Say which pre-chat question or attribute the rule reads.",
            code="bad_rule",
        )
    if kind in (RuleKind.PAGE_URL, RuleKind.LANGUAGE):
        key = None
    last = tenant.session.scalar(
        select(func.max(RoutingRule.position)).where(
            RoutingRule.workspace_id == tenant.workspace_id
        )
    )
    rule = tenant.add(
        RoutingRule(
            position=(last or 0) + 1,
            team_id=team.id,
            kind=kind,
            key=key,
            pattern=pattern,
        )
    )
    tenant.session.flush()
    _audit(
        tenant,
        by,
        "rule.create",
        ("rule", rule.id),
        kind=kind.value,
        key=key,
        pattern=pattern,
        team_id=team.id,
    )
    tenant.session.commit()
    return rule


def delete_rule(tenant: Tenant, rule_id: int, *, by: User) -> None:
    """Delete a rule and close the gap it leaves. Commits."""
    rule = tenant.get(RoutingRule, rule_id)
    tenant.session.delete(rule)
    tenant.session.flush()
    _renumber(tenant, ordered_rules(tenant))
    _audit(tenant, by, "rule.delete", ("rule", rule_id), pattern=rule.pattern)
    tenant.session.commit()


def move_rule(tenant: Tenant, rule_id: int, offset: int, *, by: User) -> None:
    """Move a rule up (-1) or down (+1) the list. Commits."""
    if offset not in (-1, 1):
        raise ValidationError("A rule moves one place up or down.", code="bad_move")
    ordered = ordered_rules(tenant)
    index = next(
        (i for i, rule in enumerate(ordered) if rule.id == rule_id),
        None,
    )
    if index is None:
        raise NotFound(f"No rule {rule_id} in this workspace.")
    target = index + offset
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
        _renumber(tenant, ordered)
        _audit(tenant, by, "rule.move", ("rule", rule_id), position=target + 1)
    tenant.session.commit()


def _renumber(tenant: Tenant, ordered: list[RoutingRule]) -> None:
    """Number rules 1, 2, 3 in the given order."""
    for position, rule in enumerate(ordered, start=1):
        rule.position = position


def _team_name(tenant: Tenant, name: str, keep: Team | None = None) -> str:
    """Return a trimmed team name, refusing one another team already has."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError(
            "A team name is 1 to 120 characters.", code="bad_team_name"
        )
    taken = tenant.session.scalar(tenant.select(Team).where(Team.name == name))
    if taken is not None and taken is not keep:
        raise Conflict(f"There is already a team called {name}.", code="team_exists")
    return name


def _audit(
    tenant: Tenant, by: User, action: str, obj: tuple[str, int | None], **data: Any
) -> None:
    """Record an admin's routing change in the audit trail."""
    audit.record(
        tenant.session,
        tenant.workspace_id,
        actor=("user", by.id),
        action=action,
        obj=obj,
        **data,
    )
