"""The pages' FastAPI app: server-side rendered (Jinja2), charts as inline SVG, no external assets.

Every route depends on Airflow's authentication (``GetUserDep``: the UI's ``_token`` cookie or a Bearer
JWT) and on the read permission of :mod:`citygov_web.auth`; a browser without a session is sent to
Airflow's login page. Forms that change the queue need the write permission, pass an Origin check
(against cross-site form posts riding on the cookie) and call :mod:`citygov.disputes`, which checks the
person's role on the queue; the action buttons are only shown to people who may use them.

Values out of range are refused with a 4xx page like any other: an unknown or out-of-range dispute id is
404, a date outside 1900-01-01..2999-12-31 or a page number above ``PAGE_MAX`` is 422 (a page past the
last item is an empty page), a NUL byte in the path is 404 and in a query value 422; messages quote at most
an excerpt of the input.
"""

# No ``from __future__ import annotations``: FastAPI must see the real types of the routes.
import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from citygov import disputes as dq
from citygov import kpis as core
from citygov import scorecards
from citygov.bounds import PAGE_MAX, OutOfBounds, parse_day, quoted
from citygov.catalog.queries import catalogued_codes
from citygov.disputes.locate import LocatedRecord, locate_record, may_locate
from citygov.disputes.recheck import may_recheck, recheck
from citygov.disputes.states import Role, Status, allowed_targets, may_transition
from citygov.identifiers import scrub
from citygov.quality.review import review_suite, suite_review
from citygov.quality.suites import SuiteFileError
from citygov.rulebook import describe
from citygov.settings import CITY_TZ, city_time_text
from citygov.store import StoreOutOfDate
from citygov_web import charts, reports
from citygov_web import trace as trace_pages
from citygov_web.auth import PageUser, cross_site_refusal, is_allowed, refusal
from citygov_web.problems import (
    STORE_OUT_OF_DATE,
    UNPROCESSABLE,
    allowed_methods,
    field_problems,
    nul_refusal,
    summary,
)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
DATASET_PAGE_SIZE = 100

ACTION_LABELS: dict[str, str] = {
    Status.ACCEPTED.value: "受理 Accept",
    Status.INVESTIGATING.value: "开始核实 Investigate",
    Status.CORRECTED.value: "已更正 Correct",
    Status.UPHELD.value: "说明维持 Explain",
    Status.REJECTED.value: "驳回 Reject",
    Status.VERIFIED.value: "核验 Verify",
    Status.ARCHIVED.value: "归档 Archive",
}
"""Button label of each target state (Chinese first, English second)."""

BULK_LABELS: dict[str, str] = {
    "accept": "受理 Accept",
    "assign": "指派 Assign to a person",
    "reassign": "改派单位 Reassign to a unit",
    "comment": "添加意见 Comment",
    "transition": "改变状态 Move to",
}
"""The queue's bulk actions (:data:`citygov.disputes.BULK_ACTIONS`), as the form names them."""
NOTICE_MAX = 1800
"""Longest result message carried back to the queue (in the URL)."""
SEVERITY_LABELS = {"high": "高 high", "medium": "中 medium", "low": "低 low"}
EVIDENCE_LABELS = {
    "expectation": "规则 rule", "kwargs": "规则参数 parameters", "unexpected_count": "不合格行数 failing rows",
    "evaluated_count": "检查行数 rows checked", "element_count": "总行数 rows", "unexpected_percent": "不合格比例 % failing",
    "samples": "样例 samples (脱敏 masked)", "suite": "规则集 suite", "error": "错误 error", "draft_rule": "草稿规则 draft rule",
    "text": "佐证 evidence", "column": "信息项 column", "record_key": "记录主键 record key", "reason": "原因 reason",
    "file": "文件 file", "line": "行 line", "import_id": "目录导入 import", "key_columns": "主键列 key columns",
    "key": "记录主键 record key", "value": "值 value",
}
"""Row headers of evidence keys the checks use; other keys are shown as they are."""

LEAGUE_SORTS: dict[str, Callable[[core.DepartmentRow], Any]] = {
    "rank": lambda r: (r.rank is None, r.rank or 0),
    "department": lambda r: r.department,
    "datasets": lambda r: r.datasets,
    "score": lambda r: (r.score is None, r.score or 0.0),
    "coverage": lambda r: (r.coverage is None, r.coverage or 0.0),
    "open": lambda r: r.open_disputes,
    "overdue": lambda r: r.overdue_disputes,
}

log = logging.getLogger(__name__)


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _when(value: datetime | date | None) -> str:
    return city_time_text(value, "—")


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters.update(pct=_pct, num=_num, when=_when)
    env.globals.update(rule_text=describe)
    env.globals.update(trend_line=charts.trend_line, radar=charts.radar, labels=ACTION_LABELS, Status=Status,
                       severities=SEVERITY_LABELS, evidence_labels=EVIDENCE_LABELS,
                       pairs=lambda trend: [(p.label, p.value) for p in trend], failing_bars=charts.failing_bars,
                       rule_points=lambda rule: [(d.logical_date.isoformat(), d.unexpected, d.success) for d in rule.days])
    return env


def create_app(
    store: Callable[[], Engine],
    resolve: Callable[[str], Any],
    docs_dir: Callable[[], Path],
) -> FastAPI:
    """The pages over the governance store ``store()``; KPI sources through ``resolve(conn_id)``; the Data
    Docs site in ``docs_dir()``. The plugin passes Airflow-backed ones; benchmarks and tests their own."""
    from airflow.api_fastapi.core_api.security import GetUserDep, bearer_scheme

    env = _templates()
    app = FastAPI(title="citygov pages", docs_url=None, redoc_url=None, openapi_url=None)

    def page_user(user: GetUserDep, request: Request) -> PageUser:
        if bad := nul_refusal(request):
            raise bad
        if not is_allowed(user, "GET"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(user, "GET"))
        return PageUser(user.get_name(), is_allowed(user, "POST"), user)

    def page_writer(
        request: Request, user: Annotated[PageUser, Depends(page_user)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> PageUser:
        """A form post: from this site when the session cookie came with it, by someone with write access."""
        if why := cross_site_refusal(request, bearer):
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        if not user.can_write:
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(user.airflow_user, "POST"))
        return user

    app.state.page_user = page_user
    Viewer = Annotated[PageUser, Depends(page_user)]
    Writer = Annotated[PageUser, Depends(page_writer)]
    Page = Annotated[int, Query(ge=1, le=PAGE_MAX, description="1 is the first page")]

    @app.exception_handler(StarletteHTTPException)  # routing's 404 and 405 too, not only the routes' own
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED and request.method == "GET":
            from airflow.api_fastapi.app import get_auth_manager

            here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=here), status.HTTP_302_FOUND)
        page = render(request, "error.html", None, status_code=exc.status_code, message=str(exc.detail))
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            page.headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        message = summary(field_problems(exc.errors()))
        return render(request, "error.html", None, status_code=UNPROCESSABLE, message=message)

    @app.exception_handler(StoreOutOfDate)
    async def out_of_date(request: Request, exc: StoreOutOfDate) -> Response:
        log.error("pages: %s", exc)  # the store's address for the operator, not for every reader of the page
        return render(request, "error.html", None, status_code=status.HTTP_503_SERVICE_UNAVAILABLE, message=STORE_OUT_OF_DATE)

    def render(request: Request, template: str, user: PageUser | None, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        if template in _LINKS_DATASETS:  # only datasets with a scorecard are links (a rejected row has none)
            context.setdefault("catalogued", catalogued_codes(store()))
        html = env.get_template(template).render(base=base, user=user, request=request, **context)
        return HTMLResponse(html, status_code=status_code)

    def as_of(value: str | None) -> date:
        if not value:
            return datetime.now(CITY_TZ).date()
        try:
            return parse_day(value)
        except OutOfBounds as exc:
            raise HTTPException(UNPROCESSABLE, str(exc)) from None

    reports.register(app, store, render, as_of)  # backflow, census, catalog, queue exports, monthly report

    # --- pages -------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, user: Viewer, date_: Annotated[str | None, Query(alias="date")] = None) -> HTMLResponse:
        day = as_of(date_)
        result = core.city_kpis(store(), resolve, day)
        return render(request, "dashboard.html", user, result=result, day=day)

    @app.get("/departments", response_class=HTMLResponse)
    def departments(
        request: Request, user: Viewer, sort: str = "rank", order: str = "asc",
        date_: Annotated[str | None, Query(alias="date")] = None,
    ) -> HTMLResponse:
        day = as_of(date_)
        rows = core.department_league(store(), day)
        key = LEAGUE_SORTS.get(sort, LEAGUE_SORTS["rank"])
        rows = sorted(rows, key=key, reverse=order == "desc")
        return render(request, "departments.html", user, rows=rows, sort=sort if sort in LEAGUE_SORTS else "rank",
                      order=order, day=day)

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets(
        request: Request, user: Viewer, department: str | None = None, page: Page = 1,
        date_: Annotated[str | None, Query(alias="date")] = None,
    ) -> HTMLResponse:
        day = as_of(date_)
        total, rows = scorecards.dataset_table(store(), day, department=department or None,
                                               limit=DATASET_PAGE_SIZE, offset=(page - 1) * DATASET_PAGE_SIZE)
        return render(request, "datasets.html", user, rows=rows, total=total, page=page, day=day,
                      department=department or "", pages=max(1, -(-total // DATASET_PAGE_SIZE)))

    @app.get("/datasets/{code}", response_class=HTMLResponse)
    def scorecard(request: Request, user: Viewer, code: str, done: str | None = None) -> HTMLResponse:
        engine = store()
        card = scorecards.dataset_scorecard(engine, code)
        if card is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"dataset {quoted(code)} is neither catalogued nor scored")
        items = dq.page_disputes(engine, dataset=code, limit=PAGE_SIZE)
        actor = _actor(engine, user)
        base = request.scope.get("root_path", "").rstrip("/")
        runs = card.rule_history.runs if card.rule_history else ()
        # each date's Data Docs page, while the site keeps the date: the chart's bars and the dates link to it
        history_docs = [(r.logical_date, f"{base}/{url}" if (url := _docs_url(r.data_docs_path)) else None) for r in runs]
        return render(request, "scorecard.html", user, card=card, items=items, docs_url=_docs_url(card.data_docs_path),
                      actor=actor, review=suite_review(code), may_review=_is_steward(user, actor), notice=done,
                      history_docs=history_docs)

    @app.post("/datasets/{code}", response_class=HTMLResponse)
    def review(
        request: Request, user: Writer, code: str, action: Annotated[str, Form()],
        rule: Annotated[str, Form()] = "", label: Annotated[str, Form()] = "", mostly: Annotated[str, Form()] = "",
    ) -> Response:
        """A steward's review of the dataset's suite: accept it, drop a rule, set a rule's threshold."""
        if not _is_steward(user, _actor(store(), user)):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.name} may not review suites: only a steward registered on the queue may")
        if action not in ("accept", "drop", "set"):
            raise HTTPException(UNPROCESSABLE, f"unknown action {quoted(action)}")
        try:
            share = float(mostly) if mostly.strip() else None
        except ValueError:
            raise HTTPException(UNPROCESSABLE, f"threshold {quoted(mostly)} is not a number") from None
        try:
            done = review_suite(code, action, rule=rule or None, expected_label=label or None, mostly=share,
                                by=user.name, at=datetime.now(CITY_TZ))
        except SuiteFileError as exc:
            raise HTTPException(UNPROCESSABLE, str(exc)) from None
        except LookupError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT if label else status.HTTP_404_NOT_FOUND, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(UNPROCESSABLE, str(exc)) from None
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/datasets/{quote(code)}?{urlencode({'done': done.message})}#review",
                                status.HTTP_303_SEE_OTHER)

    @app.get("/disputes", response_class=HTMLResponse)
    def queue(
        request: Request, user: Viewer,
        status_: Annotated[str | None, Query(alias="status")] = None,
        department: str | None = None, dataset: str | None = None, overdue: bool = False, page: Page = 1,
        rule: str | None = None, severity: str | None = None, assignee: str | None = None,
        sort: str = "id", order: str = "asc", done: str | None = None,
    ) -> HTMLResponse:
        """The queue as a work list: filters, a sortable table, and (for people who may act) a selection
        acted on in one form (:func:`bulk`)."""
        engine = store()
        filters = {"status": status_ or "", "department": department or "", "dataset": (dataset or "").strip(),
                   "rule": rule or "", "severity": severity or "", "assignee": assignee or "", "overdue": overdue}
        try:
            result = dq.page_disputes(engine, status=filters["status"] or None, department=filters["department"] or None,
                                      dataset=filters["dataset"] or None, overdue=overdue, rule=filters["rule"] or None,
                                      severity=filters["severity"] or None, assignee=filters["assignee"] or None,
                                      sort=sort, order=order, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except dq.DisputeError as exc:
            raise HTTPException(exc.http_status, str(exc)) from None
        query = urlencode({k: ("1" if v is True else v) for k, v in filters.items() if v})
        sorted_query = "&".join(q for q in (query, urlencode({"sort": sort, "order": order})) if q)
        actor = _actor(engine, user)
        return render(request, "disputes.html", user, result=result, filters=filters, query=query, page=page,
                      sorted_query=sorted_query, sort=sort, order=order,
                      pages=max(1, -(-result.total // PAGE_SIZE)), units=dq.dispute_units(engine),
                      rules=dq.dispute_rules(engine), statuses=list(Status), actor=actor, notice=done,
                      selectable=bool(user.can_write and actor is not None and actor.role != Role.CONSUMER.value),
                      bulk_actions=BULK_LABELS)

    @app.post("/disputes/bulk", response_class=HTMLResponse)
    def bulk(
        request: Request, user: Writer, action: Annotated[str, Form()],
        item: Annotated[list[str], Form(description="id:version of each selected item")] = [],  # noqa: B006
        note: Annotated[str, Form()] = "", to: Annotated[str, Form()] = "", unit: Annotated[str, Form()] = "",
        assignee: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "",
    ) -> Response:
        """One action on the selected items, each acted on alone (:func:`citygov.disputes.bulk_act`); back to
        the queue as it was (``back``: its query string) with what was done and what failed, item by item."""
        versions: dict[int, int] = {}
        for value in item:
            ident, _, version = value.partition(":")
            if not ident.isdigit() or (version and not version.isdigit()):
                raise HTTPException(UNPROCESSABLE, f"selected item {quoted(value)} is not id:version")
            versions[int(ident)] = int(version) if version else None  # type: ignore[assignment]
        try:
            result = dq.bulk_act(store(), list(versions), action, by=user.name, note=note, to=to or None,
                                 unit=unit or None, assignee=assignee or None,
                                 expected_versions={i: v for i, v in versions.items() if v is not None})
        except dq.DisputeError as exc:
            raise HTTPException(exc.http_status, str(exc)) from None
        message = result.message if len(result.message) <= NOTICE_MAX else result.message[: NOTICE_MAX - 1] + "…"
        base = request.scope.get("root_path", "").rstrip("/")
        kept = urlencode([(k, v) for k, v in parse_qsl(back) if k != "done"])
        return RedirectResponse(f"{base}/disputes?{'&'.join(q for q in (kept, urlencode({'done': message})) if q)}",
                                status.HTTP_303_SEE_OTHER)

    @app.get("/disputes/{dispute_id}", response_class=HTMLResponse)
    def item_page(request: Request, user: Viewer, dispute_id: int, done: str | None = None) -> HTMLResponse:
        return _item(request, user, dispute_id, notice=done)

    def _item(request: Request, user: PageUser, dispute_id: int, *, notice: str | None = None,
              error: str | None = None, status_code: int = 200, located: LocatedRecord | None = None) -> HTMLResponse:
        engine = store()
        try:
            item = dq.get_dispute(engine, dispute_id)
        except dq.DisputeNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        actor = _actor(engine, user)
        targets: list[str] = []
        may_assign = may_handle = False
        if user.can_write and actor is not None:
            current = Status(item.status)
            targets = [t.value for t in allowed_targets(current)
                       if may_transition(Role(actor.role), actor.department, item.responsible_unit, current, t) is None]
            may_assign = actor.role == Role.STEWARD.value and current is not Status.ARCHIVED
            may_handle = current is not Status.ARCHIVED and (
                actor.role == Role.STEWARD.value
                or (actor.role == Role.OFFICER.value and bool(actor.department) and actor.department == item.responsible_unit))
        draft_rule = dq.item_draft_rule(item.entry_code, item.rule_id, item.column) if item.origin == "quality" else None
        may_drop = draft_rule is not None and _is_steward(user, actor)
        may_find = bool(user.can_write and actor is not None and item.record_key
                        and may_locate(actor.role, actor.department, item.responsible_unit))
        evidence = scrub(item.latest_evidence)
        events = [(e, scrub(e.details)) for e in item.events or []]
        return render(request, "dispute.html", user, item=item, actor=actor, targets=targets, may_assign=may_assign,
                      units=dq.dispute_units(engine) if may_assign else [], evidence=evidence, events=events,
                      notice=notice, error=error, status_code=status_code, may_locate=may_find, located=located,
                      draft_rule=draft_rule, may_drop=may_drop, may_handle=may_handle,
                      people=dq.dispute_assignees(engine, item.responsible_unit) if may_handle else [],
                      may_recheck=may_handle and may_recheck(item.origin, item.rule_id, item.status),
                      rule=describe(item.rule_id) if item.rule_id else None)

    @app.post("/disputes/{dispute_id}", response_class=HTMLResponse)
    def act(
        request: Request, user: Writer, dispute_id: int,
        action: Annotated[str, Form()], note: Annotated[str, Form()] = "",
        to: Annotated[str, Form()] = "", unit: Annotated[str, Form()] = "", assignee: Annotated[str, Form()] = "",
        expected_version: Annotated[int | None, Form()] = None,
    ) -> Response:
        engine = store()
        try:
            if action == "recheck":
                done = recheck(engine, dispute_id, by=user.name, connections=resolve,
                               expected_version=expected_version).message
            elif action == "assignee":
                item = dq.set_assignee(engine, dispute_id, assignee=assignee or None, by=user.name, note=note or None,
                                       expected_version=expected_version)
                done = f"已指派 assigned to {item.assignee}" if item.assignee else "已改由单位办理 assigned to the unit"
            elif action == "comment":
                dq.comment(engine, dispute_id, by=user.name, note=note, expected_version=expected_version)
                done = "已添加意见 comment added"
            elif action == "transition":
                item = dq.transition(engine, dispute_id, to, by=user.name, note=note, expected_version=expected_version)
                done = f"已改为 {item.status} ({item.status_en})"
            elif action == "assign":
                item = dq.reassign(engine, dispute_id, to_unit=unit, by=user.name, reason=note,
                                   expected_version=expected_version)
                done = f"已改派 {item.responsible_unit}"
            elif action == "drop_rule":
                item = dq.drop_draft_rule(engine, dispute_id, by=user.name, note=note, expected_version=expected_version)
                done = f"已删除草稿规则 draft rule dropped; 已改为 {item.status} ({item.status_en})"
            elif action == "locate":
                # The key in clear, for this officer's eyes only: answered here, never stored or redirected.
                found = locate_record(engine, dispute_id, by=user.name, connections=resolve)
                page = _item(request, user, dispute_id, located=found)
                page.headers["Cache-Control"] = "no-store"
                return page
            else:
                raise HTTPException(UNPROCESSABLE, f"unknown action {quoted(action)}")
        except dq.DisputeError as exc:
            return _item(request, user, dispute_id, error=str(exc), status_code=exc.http_status)
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/disputes/{dispute_id}?{urlencode({'done': done})}", status.HTTP_303_SEE_OTHER)

    @app.post("/disputes", response_class=HTMLResponse)
    def raise_item(
        request: Request, user: Writer,
        dataset: Annotated[str, Form()], claim: Annotated[str, Form()],
        record_key: Annotated[str, Form()] = "", column: Annotated[str, Form()] = "",
        evidence: Annotated[str, Form()] = "",
    ) -> Response:
        try:
            result = dq.raise_dispute(store(), dataset=dataset, by=user.name, claim=claim,
                                      record_key=record_key or None, column=column or None, evidence=evidence or None)
        except dq.DisputeError as exc:
            raise HTTPException(exc.http_status, str(exc)) from None
        done = "已并入现有异议 joined an open item" if result.deduplicated else "已提交异议 dispute raised"
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/disputes/{result.dispute.id}?{urlencode({'done': done})}",
                                status.HTTP_303_SEE_OTHER)

    # --- Data Docs and assets ------------------------------------------------------------------------------

    @app.get("/docs/{path:path}")
    def data_docs(_user: Viewer, path: str = "") -> Response:
        from citygov.quality.masking import find_unmasked

        root = docs_dir().resolve()
        target = (root / path).resolve()
        if target != root and root not in target.parents:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not in the Data Docs site")
        if any(part.startswith(".") for part in target.relative_to(root).parts):  # a date still being built
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not in the Data Docs site")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"no Data Docs page {quoted(path or 'index.html')}: run the quality_inspection DAG (or govern quality docs)")
        if target.suffix in (".html", ".json", ".txt"):
            text = target.read_text(encoding="utf-8", errors="replace")
            if find_unmasked(text):  # the build already refuses these; never serve one that slipped in
                raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "this page holds unmasked identifiers; it is not served")
        return FileResponse(target)

    @app.get("/docs", include_in_schema=False)
    def data_docs_root(request: Request, _user: Viewer) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/docs/index.html", status.HTTP_302_FOUND)

    @app.get("/static/{name}")
    def asset(_user: Viewer, name: str) -> Response:
        target = (HERE / "static" / name).resolve()
        if target.parent != (HERE / "static").resolve() or not target.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
        return FileResponse(target)

    def _docs_url(path: str | None) -> str | None:
        """The docs route's URL of a page of the site, if it is there (a pruned date's page is not)."""
        if not path:
            return None
        try:
            rel = Path(path).resolve().relative_to(docs_dir().resolve())
        except ValueError:
            return None
        return "docs/" + quote(rel.as_posix()) if (docs_dir() / rel).is_file() else None

    trace_pages.register(app, store, env)  # 数据血缘 / 共享追溯 (citygov_web.trace)
    return app


_LINKS_DATASETS = {"disputes.html", "scorecard.html", "dispute.html"}
"""Pages that link an item's dataset to its scorecard."""


def _is_steward(user: PageUser, actor: dq.ActorView | None) -> bool:
    """May review suites and drop draft rules: write access in Airflow and a steward on the queue."""
    return bool(user.can_write and actor is not None and actor.role == Role.STEWARD.value)


def _actor(engine: Engine, user: PageUser) -> dq.ActorView | None:
    """The signed-in person's registration on the queue (None: not registered or deactivated)."""
    return next((a for a in dq.list_actors(engine) if a.username == user.name and a.active), None)
