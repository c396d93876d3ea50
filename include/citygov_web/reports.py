"""The leaders' pages: backflow batches, the census (应编未编, draft rows as CSV), the catalog with its change
history, the dispute queue as CSV/XLSX, and the monthly department report (月报, printable, and as PDF).

Every page renders what the core computes, as ``govern`` prints it: ``govern backflow batches``,
``govern census show|inventories|drafts``, ``govern catalog list|history``, ``govern disputes list`` and
``govern report monthly``. They sit behind the same login and read permission as the other pages
(:func:`register` takes the app's own dependency, renderer and as-of parser), and every text a person sees
or downloads passes through the one masker (:func:`citygov.identifiers.scrub`).
"""

# No ``from __future__ import annotations``: FastAPI must see the real types of the routes.
from collections.abc import Callable
from datetime import date, datetime
from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.backflow import list_batches
from citygov.backflow.summary import batch_totals
from citygov.bounds import PAGE_MAX, OutOfBounds, quoted
from citygov.catalog.history import entry_history
from citygov.catalog.queries import (
    catalog_departments,
    catalogued_among,
    get_entry,
    import_history,
    page_entries,
)
from citygov.census import census_up_to, draft_rows, drafts_csv, latest_census
from citygov.census_inventory import inventory_status
from citygov.disputes.export import FORMATS, MEDIA_TYPES, export_queue
from citygov.disputes.queue import list_dispute_lines
from citygov.identifiers import scrub
from citygov.monthly import department_month, report_departments
from citygov.settings import CITY_TZ
from citygov_web.auth import PageUser
from citygov_web.problems import UNPROCESSABLE

HISTORY_IMPORTS = 20
"""Catalog imports listed on the catalog page (newest first)."""
HISTORY_CHANGES = 100
"""Changes (and rejected rows) listed per import on the catalog page; a city's first import adds every entry."""


def register(
    app: FastAPI,
    store: Callable[[], Engine],
    render: Callable[..., HTMLResponse],
    as_of: Callable[[str | None], date],
) -> None:
    """Add the pages to ``app`` (built by :func:`citygov_web.app.create_app`): ``store()`` is the
    governance store, ``render(request, template, user, **context)`` the app's renderer and ``as_of`` its
    ``?date=`` parser (today when empty, 422 out of range)."""
    from citygov_web.app import (
        DATASET_PAGE_SIZE as CATALOG_PAGE_SIZE,  # one page size for the city's long tables
    )

    Viewer = Annotated[PageUser, Depends(app.state.page_user)]
    DateParam = Annotated[str | None, Query(alias="date")]
    Page = Annotated[int, Query(ge=1, le=PAGE_MAX, description="1 is the first page")]

    def day_or_none(value: str | None) -> date | None:
        return as_of(value) if value else None

    @app.get("/backflow", response_class=HTMLResponse)
    def backflow(request: Request, user: Viewer, date_: DateParam = None) -> HTMLResponse:
        """Every recorded batch (or one logical date's), newest first, with its reconciliation and deliveries."""
        day = day_or_none(date_)
        engine = store()
        batches = scrub(list_batches(engine, logical_date=day))
        return render(request, "backflow.html", user, batches=batches, totals=batch_totals(batches), day=day,
                      catalogued=catalogued_among(engine, (b["resource_code"] for b in batches)))

    @app.get("/census", response_class=HTMLResponse)
    def census(request: Request, user: Viewer, date_: DateParam = None) -> HTMLResponse:
        """The census stored on the as-of day or the latest before it: coverage, 应编未编, 有目无数, sources."""
        day = as_of(date_)
        engine = store()
        taken = census_up_to(engine, day)
        snapshot = scrub(latest_census(engine, taken)) if taken else None
        uncatalogued = [r for r in (snapshot or {}).get("resources", []) if not r["entry_code"]]
        return render(request, "census.html", user, day=day, taken=taken, census=snapshot, uncatalogued=uncatalogued,
                      inventories=scrub(inventory_status(engine, taken)) if taken else [],
                      drafts=len(draft_rows(engine, taken)) if taken else 0)

    @app.get("/census/drafts.csv")
    def census_drafts(_user: Viewer, date_: DateParam = None) -> Response:
        """The draft catalog rows of the census shown for the day (``govern census drafts``), to complete
        and import."""
        engine = store()
        taken = census_up_to(engine, as_of(date_))
        if taken is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no census stored up to this day: run the public_data_census DAG")
        body = drafts_csv(scrub(draft_rows(engine, taken)))
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="census_drafts_{taken.isoformat()}.csv"'})

    @app.get("/catalog", response_class=HTMLResponse)
    def catalog(
        request: Request, user: Viewer, all_: Annotated[bool, Query(alias="all")] = False,
        q: Annotated[str, Query(description="code, name or department contains it (literally)")] = "",
        department: str = "", page: Page = 1,
    ) -> HTMLResponse:
        """The catalog's entries a page at a time, by code (withdrawn ones too with ``all=1``), those whose code,
        name or department contains ``q`` and of one ``department``; and its latest imports with their changes."""
        engine = store()
        text = q.strip()
        found = page_entries(engine, include_withdrawn=all_, text=text or None, department=department or None,
                             limit=CATALOG_PAGE_SIZE, offset=(page - 1) * CATALOG_PAGE_SIZE)
        filters = {"q": text, "department": department}
        query = urlencode({k: v for k, v in filters.items() if v})  # the filters without ``all``
        return render(request, "catalog.html", user, entries=scrub(found.entries), total=found.total, page=page,
                      pages=max(1, -(-found.total // CATALOG_PAGE_SIZE)), filters=filters, query=query,
                      paged_query="&".join(p for p in (query, "all=1" if all_ else "") if p),
                      departments=catalog_departments(engine, include_withdrawn=all_),
                      imports=scrub(import_history(engine, limit=HISTORY_IMPORTS, changes_limit=HISTORY_CHANGES)),
                      show_all=all_, name=_file_name)

    @app.get("/catalog/{code}", response_class=HTMLResponse)
    def catalog_entry(request: Request, user: Viewer, code: str) -> HTMLResponse:
        """One entry (withdrawn too) with every import that changed it."""
        engine = store()
        entry = get_entry(engine, code)
        history = entry_history(engine, code)
        if entry is None and not history:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no catalog entry {quoted(code)}")
        # a stored entry, withdrawn too, has a scorecard page: no need to read the catalog's codes to link it
        return render(request, "catalog_entry.html", user, code=code, entry=scrub(entry), history=scrub(history),
                      name=_file_name)

    for fmt in FORMATS:
        app.add_api_route(f"/disputes.{fmt}", _exporter(store, fmt, Viewer), methods=["GET"],
                          summary=f"The queue as {fmt.upper()}")

    @app.get("/reports/monthly", response_class=HTMLResponse)
    def monthly(
        request: Request, user: Viewer, department: str | None = None, month: str | None = None,
        date_: DateParam = None,
    ) -> HTMLResponse:
        """The monthly department report (月报) as a printable page; without a department, the choice."""
        day = as_of(date_)
        engine = store()
        departments = report_departments(engine, day)
        month = month or day.strftime("%Y-%m")
        report = _report(engine, department, month, day) if department else None
        return render(request, "monthly.html", user, report=report, departments=departments, department=department or "",
                      month=month, day=day, pdf_query=_query(department, month, date_))

    @app.get("/reports/monthly.pdf")
    def monthly_pdf(_user: Viewer, department: str, month: str | None = None, date_: DateParam = None) -> Response:
        from citygov_web.monthly_pdf import PdfUnavailable, render_pdf

        day = as_of(date_)
        report = _report(store(), department, month or day.strftime("%Y-%m"), day)
        try:
            body = render_pdf(report, printed_at=datetime.now(CITY_TZ))
        except PdfUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        name = quote(f"月报_{report.department}_{report.month}.pdf")
        return Response(body, media_type="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename=\"monthly_{report.month}.pdf\"; "
                                                        f"filename*=UTF-8''{name}"})


def _report(engine: Engine, department: str, month: str, day: date) -> Any:
    try:
        return department_month(engine, department, month, as_of=day)
    except OutOfBounds as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _exporter(store: Callable[[], Engine], fmt: str, viewer: Any) -> Callable[..., Response]:
    """The route answering ``/disputes.<fmt>``: the queue page's filters, every matching item (not one page)."""

    def export(
        _user: viewer,  # type: ignore[valid-type]
        status_: Annotated[str | None, Query(alias="status")] = None,
        department: str | None = None, dataset: str | None = None, overdue: bool = False,
        rule: str | None = None, severity: str | None = None, assignee: str | None = None,
        sort: str = "id", order: str = "asc",
    ) -> Response:
        try:
            items = list_dispute_lines(store(), status=status_ or None, department=department or None,
                                       dataset=(dataset or "").strip() or None, overdue=overdue, rule=rule or None,
                                       severity=severity or None, assignee=assignee or None, sort=sort, order=order)
        except dq.DisputeError as exc:
            raise HTTPException(exc.http_status, str(exc)) from None
        stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
        return Response(export_queue(items, fmt), media_type=MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="disputes_{stamp}.{fmt}"'})

    return export


def _query(department: str | None, month: str, date_: str | None) -> str:
    return urlencode({k: v for k, v in (("department", department), ("month", month), ("date", date_)) if v})


def _file_name(path: str | None) -> str:
    """A catalog file's name without the server's folders."""
    return PurePath(path).name if path else "—"
