"""Tenant scoping: workspace data is reached through a Tenant, never directly."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.errors import NotFound

Model = TypeVar("Model")


class Tenant:
    """One workspace's view of the database.

    Every query built here is filtered to the workspace, so a view cannot
    forget the filter: it never writes one.
    """

    def __init__(self, session: Session, workspace_id: int) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def select(self, model: type[Model], *extra: Any) -> Select[tuple[Model]]:
        """Return ``SELECT model`` limited to this workspace."""
        return select(model, *extra).where(model.workspace_id == self.workspace_id)

    def find(self, model: type[Model], object_id: int) -> Model | None:
        """Return the object with ``object_id`` if it belongs to this workspace."""
        return self.session.scalar(self.select(model).where(model.id == object_id))

    def get(self, model: type[Model], object_id: int) -> Model:
        """Return the object or raise NotFound (also for other workspaces' ids)."""
        found = self.find(model, object_id)
        if found is None:
            raise NotFound(
                f"No {model.__name__.lower()} {object_id} in this workspace."
            )
        return found

    def add(self, obj: Model) -> Model:
        """Add a new object to the session, stamped with this workspace."""
        obj.workspace_id = self.workspace_id
        self.session.add(obj)
        return obj
