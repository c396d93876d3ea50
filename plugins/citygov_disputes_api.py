"""The dispute queue's web API (异议处置), mounted in Airflow's api-server at ``/citygov/api``.

An Airflow 3 plugin (``fastapi_apps``). Airflow does not authenticate plugin apps (a mounted app inherits
none of the core API's dependencies), so every route here, the OpenAPI schema and its docs page included,
depends on Airflow's own authentication (``GetUserDep``: a ``Bearer`` JWT from ``POST /auth/token`` or
the UI's ``_token`` cookie) and on the auth manager's authorisation:

- **read** (GET): ``is_authorized_custom_view(method="GET", resource_name="Disputes")``: every role of
  the SimpleAuthManager (viewer and up);
- **write** (POST): ``is_authorized_custom_view(method="POST", resource_name="Disputes")`` *and*
  ``is_authorized_dag(method="PUT", details=DagDetails(id="dispute_sla"))``. The second check is there
  because the SimpleAuthManager grants custom views to every role regardless of the method; editing the
  dispute DAG is a permission its ``viewer`` role lacks and ``user``, ``op`` and ``admin`` have (with
  FAB: ``can_edit`` on ``DAG:dispute_sla``).

Acting on an item further needs the Airflow user to be registered on the queue with a role
(``govern disputes users add NAME --role steward|officer|consumer``); the core refuses an unregistered
user (403) and checks the role (stewards accept, verify, archive; officers handle their unit's items).

Every route calls :mod:`citygov.disputes`, as the CLI and the DAGs do. Refusals come back as
``{"code": ..., "detail": ...}`` with 404 (unknown id), 409 (illegal transition, version conflict),
422 (bad input), 403 (unknown user, role); nothing is changed then.

The store is the Airflow connection ``governance_db`` (else ``GOVERNANCE_DB_URL``, else the embedded
SQLite store), as for the DAGs. Importing this module is cheap: every Airflow process (task runners too)
imports plugins, so the FastAPI app is built on its first request (:class:`LazyApp`).
"""

# No ``from __future__ import annotations``: FastAPI must see the real types of the routes defined
# inside create_app().
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from citygov_web.airflow_env import LazyApp

URL_PREFIX = "/citygov/api"


def _engine():  # type: ignore[no-untyped-def]
    """The governance store of this api-server process (shared with the web pages)."""
    from citygov_web.airflow_env import governance_engine

    return governance_engine()


def create_app():  # type: ignore[no-untyped-def]
    """The FastAPI app of the dispute queue (see the module docstring)."""
    from typing import Annotated, Literal

    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.api_fastapi.core_api.security import GetUserDep
    from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from pydantic import BaseModel, Field

    from citygov import disputes
    from citygov.disputes.queue import EVIDENCE_MAX, NOTE_MAX
    from citygov_web.auth import is_allowed, refusal

    def requires(method: Literal["GET", "POST"]):  # type: ignore[no-untyped-def]
        def check(user: GetUserDep) -> BaseUser:
            if not is_allowed(user, method):
                raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(user, method))
            return user

        return check

    Reader = Annotated[BaseUser, Depends(requires("GET"))]
    Writer = Annotated[BaseUser, Depends(requires("POST"))]

    class RaiseBody(BaseModel):
        dataset: str = Field(description="catalog 信息资源代码 of the disputed dataset")
        claim: str = Field(description=f"what is wrong (masked before storing; at most {NOTE_MAX} characters)")
        record_key: str | None = Field(None, description="primary key of the disputed record")
        column: str | None = Field(None, description="the disputed 信息项")
        evidence: str | None = Field(None, description=f"supporting text (masked; at most {EVIDENCE_MAX})")

    class Versioned(BaseModel):
        expected_version: int | None = Field(
            None, description="the item's version as read; a changed item is refused with 409"
        )

    class TransitionBody(Versioned):
        to: str = Field(description="target state, Chinese (已受理) or English (accepted)")
        note: str = Field(description=f"why; the explanation for 维持原数据, the reason for 驳回 (≤ {NOTE_MAX})")

    class ReassignBody(Versioned):
        unit: str = Field(description="the new responsible unit")
        reason: str

    class ExtendBody(Versioned):
        reason: str

    class FlagBody(Versioned):
        flagged: bool = Field(description="true flags (标注) the data as disputed, false lifts the flag")
        note: str

    app = FastAPI(
        title="citygov dispute queue (异议处置)",
        version="1",
        description=__doc__,
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(disputes.DisputeError)
    async def refused(_request: Request, exc: disputes.DisputeError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_dict())

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_user: Reader) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_user: Reader) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{URL_PREFIX}/openapi.json", title=app.title)

    @app.get("/disputes", response_model=list[disputes.DisputeView], summary="List dispute items")
    def list_items(
        _user: Reader,
        status_: Annotated[str | None, Query(alias="status", description="state, Chinese or English")] = None,
        department: Annotated[str | None, Query(description="responsible unit; 未定责 for none")] = None,
        dataset: Annotated[str | None, Query(description="catalog 信息资源代码")] = None,
        origin: Annotated[str | None, Query(description="census, patrol, quality, backflow, catalog, consumer")] = None,
        overdue: Annotated[bool, Query(description="only items past their running deadline")] = False,
        flagged: Annotated[bool | None, Query(description="only flagged (true) or unflagged (false) items")] = None,
    ) -> list[disputes.DisputeView]:
        return disputes.list_disputes(_engine(), status=status_, department=department, dataset=dataset,
                                      origin=origin, overdue=overdue, flagged=flagged)

    @app.get("/disputes/{dispute_id}", response_model=disputes.DisputeView, summary="One item with its history")
    def show_item(dispute_id: int, _user: Reader) -> disputes.DisputeView:
        return disputes.get_dispute(_engine(), dispute_id)

    @app.post("/disputes", status_code=status.HTTP_201_CREATED, response_model=disputes.RaiseResult,
              summary="Raise a dispute against a dataset or record (joins a matching open item)")
    def raise_item(body: RaiseBody, user: Writer, response: Response) -> disputes.RaiseResult:
        result = disputes.raise_dispute(_engine(), by=user.get_name(), **body.model_dump())
        if result.deduplicated:
            response.status_code = status.HTTP_200_OK
        return result

    @app.post("/disputes/{dispute_id}/transitions", response_model=disputes.DisputeView,
              summary="Move an item to another state")
    def move_item(dispute_id: int, body: TransitionBody, user: Writer) -> disputes.DisputeView:
        return disputes.transition(_engine(), dispute_id, body.to, by=user.get_name(), note=body.note,
                                   expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/reassign", response_model=disputes.DisputeView,
              summary="Make another unit responsible (steward)")
    def reassign_item(dispute_id: int, body: ReassignBody, user: Writer) -> disputes.DisputeView:
        return disputes.reassign(_engine(), dispute_id, to_unit=body.unit, by=user.get_name(), reason=body.reason,
                                 expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/extend", response_model=disputes.DisputeView,
              summary="Extend the resolve deadline once")
    def extend_item(dispute_id: int, body: ExtendBody, user: Writer) -> disputes.DisputeView:
        return disputes.extend_deadline(_engine(), dispute_id, by=user.get_name(), reason=body.reason,
                                        expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/flag", response_model=disputes.DisputeView,
              summary="Flag (标注) the item's data or lift the flag (steward)")
    def flag_item(dispute_id: int, body: FlagBody, user: Writer) -> disputes.DisputeView:
        return disputes.set_flag(_engine(), dispute_id, flagged=body.flagged, by=user.get_name(), note=body.note,
                                 expected_version=body.expected_version)

    @app.get("/flags", response_model=list[disputes.FlagView], summary="Datasets and records under dispute")
    def flags(_user: Reader, dataset: str | None = None) -> list[disputes.FlagView]:
        return disputes.list_flags(_engine(), dataset=dataset)

    @app.get("/kpis", summary="Open and overdue by department, share resolved in time, mean times")
    def kpis(_user: Reader) -> dict[str, Any]:
        return disputes.dispute_kpis(_engine())

    @app.get("/audit", summary="The audit trail (every event), as JSON or CSV",
             responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
    def audit(
        _user: Reader,
        format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
        dispute_id: int | None = None,
    ) -> Response:
        text = disputes.export_audit(_engine(), format_, dispute_id=dispute_id)
        if format_ == "csv":
            return Response(text, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="dispute_audit.csv"'})
        return Response(text, media_type="application/json")

    return app


class CitygovDisputesPlugin(AirflowPlugin):
    """Registers the dispute queue's API with the api-server."""

    name = "citygov_disputes"
    fastapi_apps = [{"app": LazyApp(create_app), "url_prefix": URL_PREFIX, "name": "citygov dispute queue (异议处置)"}]
