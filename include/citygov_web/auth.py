"""Who may read and who may act, decided by Airflow's auth manager (shared by the pages and the API).

- **read**: ``is_authorized_custom_view(method="GET", resource_name="Disputes")``, every role of the
  SimpleAuthManager (viewer and up);
- **write**: ``is_authorized_custom_view(method="POST", resource_name="Disputes")`` *and*
  ``is_authorized_dag(method="PUT", details=DagDetails(id="dispute_sla"))``, because the
  SimpleAuthManager grants custom views to every role whatever the method; editing the dispute DAG is
  what its ``viewer`` role lacks and ``user``, ``op`` and ``admin`` have (with FAB: ``can_edit`` on
  ``DAG:dispute_sla``).

Acting on an item further needs the person registered on the queue with a role; the core checks that.

Every request that changes something and carries the session cookie must also come from this site
(:func:`cross_site_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

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


def cross_site_refusal(request: Any, bearer: Any) -> str | None:
    """Why a state-changing ``request`` must be refused as a cross-site request, or None.

    A browser sends the session cookie (Airflow's ``_token``) with a form posted from any site, so a
    request that carries it needs an ``Origin`` (or, without one, a ``Referer``) naming this server,
    whatever else it carries. Only a request authenticated by a Bearer token and carrying no session
    cookie is exempt: no browser adds that header on its own. ``bearer`` is what Airflow's ``get_user``
    saw (the ``HTTPBearer`` dependency of :mod:`airflow.api_fastapi.core_api.security`): it prefers the
    Bearer token when the scheme is ``bearer``, and any other ``Authorization`` header (``Basic x``)
    leaves the cookie to authenticate.
    """
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    from citygov.bounds import quoted

    by_bearer = bearer is not None and bearer.scheme.lower() == "bearer"
    if by_bearer and COOKIE_NAME_JWT_TOKEN not in request.cookies:
        return None
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed and urlsplit(claimed).netloc in _own_hosts(request):
        return None
    return ("request from another site refused: it carries the session cookie but its Origin/Referer "
            f"({quoted(claimed) if claimed else 'none'}) is not this server; reload the page and retry")


def _own_hosts(request: Any) -> set[str]:
    """This server as a browser names it: the Host the request was sent to, and ``[api] base_url``."""
    from airflow.configuration import conf

    hosts = {request.headers.get("host", "")}
    base_url = conf.get("api", "base_url", fallback="") or ""
    if base_url:
        hosts.add(urlsplit(base_url).netloc)
    return hosts - {""}
