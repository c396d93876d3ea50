"""The dispute queue's web API (异议处置): a FastAPI app, mounted in Airflow's api-server at ``/citygov/api``
by the plugin ``plugins/citygov_disputes_api.py``.

Airflow does not authenticate plugin apps (a mounted app inherits none of the core API's dependencies), so
every route here, the OpenAPI schema and its docs page included, depends on Airflow's own authentication
(``GetUserDep``: a ``Bearer`` JWT from ``POST /auth/token`` or the UI's ``_token`` cookie) and on the auth
manager's authorisation:

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

A request that changes something and carries the UI's session cookie must come from this site (its
``Origin`` or ``Referer``), even with another ``Authorization`` header; only a Bearer token without the
cookie is exempt (:func:`citygov_web.auth.cross_site_refusal`, shared with the pages).

Every route calls :mod:`citygov.disputes`, as the CLI and the DAGs do. Every refusal, whoever makes it
(authentication, routing, the schema, the queue), is one model, ``{"code", "detail"}`` (plus ``errors``
when the request does not match the schema): 400 (unreadable body), 401 (not logged in), 403 (no access,
cross-site, unknown user, role), 404 (unknown id or path), 405 (with a correct ``Allow``), 409 (illegal
transition, version conflict), 422 (out of bounds, bad input); nothing is changed then. Each route
documents the statuses it answers (``responses=errors(...)``, :mod:`citygov_web.problems`); ids run
from 1 to 2^63-1, and replies quote at most a short excerpt of the input.

The store is the Airflow connection ``governance_db`` (else ``GOVERNANCE_DB_URL``, else the embedded
SQLite store), as for the DAGs and the pages (:mod:`citygov_web.airflow_env`).
"""

# No ``from __future__ import annotations``: FastAPI must see the real types of the routes defined
# inside create_api().
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, bearer_scheme
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from citygov import disputes
from citygov.bounds import ID_MAX, ID_MIN
from citygov.disputes.locate import LocatedRecord, locate_record
from citygov.disputes.queue import BULK_MAX, EVIDENCE_MAX, KEY_MAX, NOTE_MAX
from citygov.disputes.recheck import RecheckResult, recheck
from citygov.store import StoreOutOfDate
from citygov_web.auth import cross_site_refusal, is_allowed, refusal
from citygov_web.problems import (
    STORE_OUT_OF_DATE,
    UNPROCESSABLE,
    ErrorReply,
    Refusal,
    allowed_methods,
    error_code,
    errors,
    field_problems,
    nul_refusal,
    summary,
)

log = logging.getLogger(__name__)


def _requires(method: Literal["GET", "POST"]):  # type: ignore[no-untyped-def]
    """A route's dependency: the Airflow user, allowed to read (GET) or to change (POST) the queue."""

    def check(
        user: GetUserDep, request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> BaseUser:
        if bad := nul_refusal(request):
            raise bad
        if method != "GET" and (why := cross_site_refusal(request, bearer)):
            raise Refusal(status.HTTP_403_FORBIDDEN, why, "cross_site")
        if not is_allowed(user, method):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(user, method))
        return user

    return check


Reader = Annotated[BaseUser, Depends(_requires("GET"))]
Writer = Annotated[BaseUser, Depends(_requires("POST"))]
DisputeId = Annotated[int, Path(ge=ID_MIN, le=ID_MAX, description=f"the item's id ({ID_MIN}..{ID_MAX})")]
READ, WRITE = errors(401, 403, 422), errors(400, 401, 403, 404, 409, 422)
"""What a read with parameters and a change to one item may answer besides success."""
STATES = [s.value for s in disputes.Status] + [s.english for s in disputes.Status]


def _text(limit: int, *, required: bool = True) -> dict[str, Any]:
    """The bounds the core puts on a text field, documented (the core checks them, with its own
    message, so the API and ``govern`` refuse the same values the same way): 422 outside them."""
    return {"maxLength": limit, **({"minLength": 1, "pattern": r"\S"} if required else {})}


class RaiseBody(BaseModel):
    dataset: str = Field(description="catalog 信息资源代码 of the disputed dataset", json_schema_extra=_text(KEY_MAX))
    claim: str = Field(description="what is wrong (masked before storing)", json_schema_extra=_text(NOTE_MAX))
    record_key: str | None = Field(None, description="primary key of the disputed record",
                                   json_schema_extra=_text(KEY_MAX, required=False))
    column: str | None = Field(None, description="the disputed 信息项", json_schema_extra=_text(KEY_MAX, required=False))
    evidence: str | None = Field(None, description="supporting text (masked)",
                                 json_schema_extra=_text(EVIDENCE_MAX, required=False))


class Versioned(BaseModel):
    expected_version: int | None = Field(
        None, description="the item's version as read; a changed item is refused with 409"
    )


class TransitionBody(Versioned):
    to: str = Field(description="target state, Chinese (已受理) or English (accepted)",
                    json_schema_extra={"enum": STATES})
    note: str = Field(description="why; the explanation for 维持原数据, the reason for 驳回",
                      json_schema_extra=_text(NOTE_MAX))


class ReassignBody(Versioned):
    unit: str = Field(description="the new responsible unit", json_schema_extra=_text(KEY_MAX))
    reason: str = Field(json_schema_extra=_text(NOTE_MAX))


class ExtendBody(Versioned):
    reason: str = Field(json_schema_extra=_text(NOTE_MAX))


class AssigneeBody(Versioned):
    assignee: str | None = Field(description="an officer of the item's responsible unit, or a steward; "
                                             "null or empty: the unit as a whole",
                                 json_schema_extra=_text(KEY_MAX, required=False))
    note: str | None = Field(None, json_schema_extra=_text(NOTE_MAX, required=False))


class CommentBody(Versioned):
    note: str = Field(json_schema_extra=_text(NOTE_MAX))


class BulkItem(BaseModel):
    id: int = Field(ge=ID_MIN, le=ID_MAX, description="the item's id")
    expected_version: int | None = Field(None, description="its version as read; changed since: that item fails")


class BulkBody(BaseModel):
    items: list[BulkItem] = Field(min_length=1, max_length=BULK_MAX, description="the selection")
    action: Literal["accept", "transition", "assign", "reassign", "comment"] = Field(
        description="accept (to 已受理), transition (to `to`), assign (to the person `assignee`), "
                    "reassign (to the unit `unit`), comment")
    note: str | None = Field(None, description="each item's note (required except for assign)",
                             json_schema_extra=_text(NOTE_MAX, required=False))
    to: str | None = Field(None, description="target state for transition", json_schema_extra={"enum": STATES})
    unit: str | None = Field(None, description="the new unit for reassign", json_schema_extra=_text(KEY_MAX, required=False))
    assignee: str | None = Field(None, description="the person for assign (null: the unit as a whole)",
                                 json_schema_extra=_text(KEY_MAX, required=False))


class BulkFailureReply(BaseModel):
    id: int
    code: str = Field(description="the refusal's code, as the single-item endpoint would answer it")
    detail: str


class BulkReply(BaseModel):
    action: str
    done: list[int] = Field(description="ids changed, each with its own event")
    failed: list[BulkFailureReply] = Field(description="ids left as they were, with why")
    message: str = Field(description="the result in one line, for people")


class RecheckBody(Versioned):
    pass


class FlagBody(Versioned):
    flagged: bool = Field(description="true flags (标注) the data as disputed, false lifts the flag")
    note: str = Field(json_schema_extra=_text(NOTE_MAX))


def create_api(store: Callable[[], Engine], resolve: Callable[[str], Any], url_prefix: str) -> FastAPI:
    """The dispute queue's API (see the module docstring) over the governance store ``store()``; the
    responsible units' sources (re-check, locate) through ``resolve(conn_id)``; ``url_prefix`` is where it
    is mounted (its docs page links the schema there). The plugin passes Airflow-backed ones."""
    app = FastAPI(
        title="citygov dispute queue (异议处置)",
        version="1",
        description=__doc__,
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )

    def reply(status_code: int, body: ErrorReply, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)

    @app.exception_handler(disputes.DisputeError)
    async def refused(_request: Request, exc: disputes.DisputeError) -> JSONResponse:
        return reply(exc.http_status, ErrorReply(code=exc.code, detail=exc.message))

    @app.exception_handler(StarletteHTTPException)
    async def http_refused(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return reply(exc.status_code, ErrorReply(code=error_code(exc, exc.status_code), detail=str(exc.detail)), headers)

    @app.exception_handler(StoreOutOfDate)
    async def out_of_date(_request: Request, exc: StoreOutOfDate) -> JSONResponse:
        log.error("dispute API: %s", exc)
        return reply(status.HTTP_503_SERVICE_UNAVAILABLE, ErrorReply(code="store_out_of_date", detail=STORE_OUT_OF_DATE))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = field_problems(exc.errors())
        return reply(UNPROCESSABLE,
                     ErrorReply(code="invalid_request", detail=summary(problems), errors=problems))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_user: Reader) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_user: Reader) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{url_prefix}/openapi.json", title=app.title)

    @app.get("/disputes", response_model=list[disputes.DisputeView], summary="List dispute items", responses=READ)
    def list_items(
        _user: Reader,
        status_: Annotated[str | None, Query(alias="status", description="state, Chinese or English; empty: any",
                                             json_schema_extra={"enum": ["", *STATES]})] = None,
        department: Annotated[str | None, Query(max_length=KEY_MAX, description="responsible unit; 未定责 for none")] = None,
        dataset: Annotated[str | None, Query(max_length=KEY_MAX, description="catalog 信息资源代码")] = None,
        origin: Annotated[str | None, Query(max_length=KEY_MAX,
                                            description="census, patrol, quality, backflow, catalog, consumer")] = None,
        overdue: Annotated[bool, Query(description="only items past their running deadline")] = False,
        flagged: Annotated[bool | None, Query(description="only flagged (true) or unflagged (false) items")] = None,
        rule: Annotated[str | None, Query(max_length=KEY_MAX, description="only items of this rule id")] = None,
        severity: Annotated[Literal["high", "medium", "low"] | None, Query()] = None,
        assignee: Annotated[str | None, Query(max_length=KEY_MAX, description="only items assigned to this person")] = None,
        sort: Annotated[Literal[*disputes.SORTS], Query(description="column to sort by; empty values last")] = "id",  # type: ignore[valid-type]
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    ) -> list[disputes.DisputeView]:
        return disputes.list_disputes(store(), status=status_, department=department, dataset=dataset,
                                      origin=origin, overdue=overdue, flagged=flagged, rule=rule, severity=severity,
                                      assignee=assignee, sort=sort, order=order)

    @app.get("/disputes/{dispute_id}", response_model=disputes.DisputeView, summary="One item with its history",
             responses=errors(401, 403, 404, 422))
    def show_item(dispute_id: DisputeId, _user: Reader) -> disputes.DisputeView:
        return disputes.get_dispute(store(), dispute_id)

    @app.post("/disputes", status_code=status.HTTP_201_CREATED, response_model=disputes.RaiseResult,
              summary="Raise a dispute against a dataset or record (joins a matching open item)",
              responses={200: {"model": disputes.RaiseResult, "description": "joined an open item with the same "
                               "identity (deduplicated)"}, **errors(400, 401, 403, 409, 422)})
    def raise_item(body: RaiseBody, user: Writer, response: Response) -> disputes.RaiseResult:
        result = disputes.raise_dispute(store(), by=user.get_name(), **body.model_dump())
        if result.deduplicated:
            response.status_code = status.HTTP_200_OK
        return result

    @app.post("/disputes/{dispute_id}/transitions", response_model=disputes.DisputeView,
              summary="Move an item to another state", responses=WRITE)
    def move_item(dispute_id: DisputeId, body: TransitionBody, user: Writer) -> disputes.DisputeView:
        return disputes.transition(store(), dispute_id, body.to, by=user.get_name(), note=body.note,
                                   expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/reassign", response_model=disputes.DisputeView,
              summary="Make another unit responsible (steward)", responses=WRITE)
    def reassign_item(dispute_id: DisputeId, body: ReassignBody, user: Writer) -> disputes.DisputeView:
        return disputes.reassign(store(), dispute_id, to_unit=body.unit, by=user.get_name(), reason=body.reason,
                                 expected_version=body.expected_version)

    @app.post("/disputes/bulk", response_model=BulkReply, responses=errors(400, 401, 403, 422),
              summary="One action on a selection, each item acted on (and refused) on its own",
              description="Each item gets its own permission check, optimistic lock and event, exactly as the "
                          "single-item endpoints; refused items are listed in `failed` with the code those "
                          "endpoints would answer, the others are done. The request as a whole is refused (422) "
                          "for a missing note or target.")
    def bulk_items(body: BulkBody, user: Writer) -> BulkReply:
        result = disputes.bulk_act(
            store(), [i.id for i in body.items], body.action, by=user.get_name(), note=body.note, to=body.to,
            unit=body.unit, assignee=body.assignee or None,
            expected_versions={i.id: i.expected_version for i in body.items if i.expected_version is not None},
        )
        return BulkReply(**result.to_dict())

    @app.post("/disputes/{dispute_id}/assignee", response_model=disputes.DisputeView,
              summary="Make a person within the responsible unit the item's handler", responses=WRITE)
    def assign_item(dispute_id: DisputeId, body: AssigneeBody, user: Writer) -> disputes.DisputeView:
        return disputes.set_assignee(store(), dispute_id, assignee=body.assignee or None, by=user.get_name(),
                                     note=body.note, expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/comments", response_model=disputes.DisputeView,
              summary="Add a note to the item's timeline", responses=WRITE)
    def comment_item(dispute_id: DisputeId, body: CommentBody, user: Writer) -> disputes.DisputeView:
        return disputes.comment(store(), dispute_id, by=user.get_name(), note=body.note,
                                expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/recheck", response_model=RecheckResult,
              summary="Run the item's check on its source now: verify, keep or reopen the item",
              description="For an item of one quality rule (validated alone) or of the patrol (its entry "
                          "patrolled now, except the two rules judged against the previous patrol): the check runs "
                          "against the dataset's source (the responsible unit's Airflow connection); passing "
                          "verifies the item, failing "
                          "keeps it with the new count (reopens it from 已更正 or 已核验), a check that cannot run "
                          "changes nothing. Every outcome is a `recheck` event.",
              responses=WRITE)
    def recheck_item(dispute_id: DisputeId, body: RecheckBody, user: Writer) -> RecheckResult:
        return recheck(store(), dispute_id, by=user.get_name(), connections=resolve,
                       expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/extend", response_model=disputes.DisputeView,
              summary="Extend the resolve deadline once", responses=WRITE)
    def extend_item(dispute_id: DisputeId, body: ExtendBody, user: Writer) -> disputes.DisputeView:
        return disputes.extend_deadline(store(), dispute_id, by=user.get_name(), reason=body.reason,
                                        expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/flag", response_model=disputes.DisputeView,
              summary="Flag (标注) the item's data or lift the flag (steward)", responses=WRITE)
    def flag_item(dispute_id: DisputeId, body: FlagBody, user: Writer) -> disputes.DisputeView:
        return disputes.set_flag(store(), dispute_id, flagged=body.flagged, by=user.get_name(), note=body.note,
                                 expected_version=body.expected_version)

    @app.post("/disputes/{dispute_id}/locate", response_model=LocatedRecord,
              summary="Find the item's record in the responsible unit's own source (that unit's officer only)",
              description="Hashes the key column of the entry's table or file and answers the matching rows' keys "
                          "in clear, to an officer of the item's responsible unit only; nothing of the answer is "
                          "stored (the audit trail records the look and the number of matches).",
              responses=errors(400, 401, 403, 404, 422))
    def locate_item(dispute_id: DisputeId, user: Writer, response: Response) -> LocatedRecord:
        response.headers["Cache-Control"] = "no-store"
        return locate_record(store(), dispute_id, by=user.get_name(), connections=resolve)

    @app.get("/flags", response_model=list[disputes.FlagView], summary="Datasets and records under dispute",
             responses=READ)
    def flags(_user: Reader, dataset: Annotated[str | None, Query(max_length=KEY_MAX)] = None) -> list[disputes.FlagView]:
        return disputes.list_flags(store(), dataset=dataset)

    @app.get("/kpis", summary="Open and overdue by department, share resolved in time, mean times",
             responses=errors(401, 403))
    def kpis(_user: Reader) -> dict[str, Any]:
        return disputes.dispute_kpis(store())

    @app.get("/audit", summary="The audit trail (every event), as JSON or CSV",
             responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                          "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
                              "description": "every event (of one item with dispute_id), oldest first"},
                        **errors(401, 403, 404, 422)})
    def audit(
        _user: Reader,
        format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
        dispute_id: Annotated[int | None, Query(ge=ID_MIN, le=ID_MAX, description="only this item's events")] = None,
    ) -> Response:
        text = disputes.export_audit(store(), format_, dispute_id=dispute_id)
        if format_ == "csv":
            return Response(text, media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="dispute_audit.csv"'})
        return Response(text, media_type="application/json")

    return app
