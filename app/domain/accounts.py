"""Workspaces, users and their passwords."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, ValidationError
from app.models import Role, User, Workspace
from app.runtime import run_blocking

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.",
            code="weak_password",
        )
    return run_blocking(_hasher.hash, password)


def check_password(user: User, password: str) -> bool:
    """True if ``password`` matches; rehash in place if the parameters aged."""
    try:
        run_blocking(_hasher.verify, user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = run_blocking(_hasher.hash, password)
    return True


def normalise_email(email: str) -> str:
    """Lower-case and trim an email address, checking its rough shape."""
    value = email.strip().lower()
    if "@" not in value or len(value) > 254 or value.startswith("@"):
        raise ValidationError(f"{email!r} is not an email address.", code="bad_email")
    return value


def create_workspace(session: Session, name: str) -> Workspace:
    """Create a workspace with a fresh widget key."""
    workspace = Workspace(name=name.strip() or "Workspace", settings={})
    session.add(workspace)
    session.flush()
    return workspace


def create_user(
    session: Session,
    workspace: Workspace,
    *,
    email: str,
    name: str,
    password: str,
    role: Role = Role.AGENT,
) -> User:
    """Create a user, refusing an email address that is already taken."""
    address = normalise_email(email)
    taken = session.scalar(select(func.count()).where(User.email == address))
    if taken:
        raise Conflict(f"{address} already has an account.", code="email_taken")
    user = User(
        workspace_id=workspace.id,
        email=address,
        name=name.strip() or address,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    try:
        address = normalise_email(email)
    except ValidationError:
        return None
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        # Spend the same time as a real check so that timing does not tell
        # which addresses have accounts.
        run_blocking(_hasher.hash, password or "x")
        return None
    if not user.is_active or not check_password(user, password):
        return None
    return user
