"""Who may read and who may act, decided by Airflow's auth manager (shared by the pages and the API).

- **read**: ``is_authorized_custom_view(method="GET", resource_name="Disputes")``, every role of the
  SimpleAuthManager (viewer and up);
- **write**: ``is_authorized_custom_view(method="POST", resource_name="Disputes")`` *and*
  ``is_authorized_dag(method="PUT", details=DagDetails(id="dispute_sla"))``, because the
  SimpleAuthManager grants custom views to every role whatever the method; editing the dispute DAG is
  what its ``viewer`` role lacks and ``user``, ``op`` and ``admin`` have (with FAB: ``can_edit`` on
  ``DAG:dispute_sla``).

Acting on an item further needs the person registered on the queue with a role; the core checks that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RESOURCE_NAME = "Disputes"
WRITE_DAG_ID = "dispute_sla"


def is_allowed(user: Any, method: Literal["GET", "POST"]) -> bool:
    """Whether the Airflow user may read (GET) or change (POST) the dispute queue."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()
    allowed = manager.is_authorized_custom_view(method=method, resource_name=RESOURCE_NAME, user=user)
    if allowed and method != "GET":
        allowed = manager.is_authorized_dag(method="PUT", details=DagDetails(id=WRITE_DAG_ID), user=user)
    return bool(allowed)


def refusal(user: Any, method: Literal["GET", "POST"]) -> str:
    need = "read" if method == "GET" else f"write (edit on the {WRITE_DAG_ID} DAG)"
    return f"user {user.get_name()!r} lacks {need} access to the dispute queue"


@dataclass(frozen=True)
class PageUser:
    """The signed-in person as the pages see them."""

    name: str
    can_write: bool
    """Airflow grants write access (the queue's own role check comes on top)."""
    airflow_user: Any = None
