"""The 数据血缘 / 共享追溯 page of a dataset and the notice of receivers on dispute items (:mod:`citygov.trace`).

``register(app, store, env)`` adds ``GET /datasets/{code}/trace`` (the page: lineage graph, share timeline
and table with the quality each share was served at), ``GET /datasets/{code}/trace.json`` (the same answer
as ``govern trace dataset --json``) and ``GET /batches/{batch_id}/trace.json`` (``govern trace batch``), all
behind the pages' Airflow login (``app.state.page_user``), and the template global ``share_notice(item)`` the
dispute page uses to list the departments that received the data since its last good state
(``GET /disputes/{id}/receivers.json`` gives the same list).
"""

# No ``from __future__ import annotations``: FastAPI must see the real types of the routes.
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment
from sqlalchemy import Engine

from citygov.bounds import OutOfBounds, parse_day, quoted
from citygov.disputes.queue import jsonable
from citygov.trace import batch_trace, dataset_trace, item_receivers
from citygov_web.problems import UNPROCESSABLE
from citygov_web.trace_charts import GRADE_COLOURS, grade_colour, lineage_graph, share_timeline


def register(app: FastAPI, store: Callable[[], Engine], env: Environment) -> None:
    """Add the trace page and its JSON to ``app`` (made by :func:`citygov_web.app.create_app`)."""
    Viewer = Annotated[Any, Depends(app.state.page_user)]
    env.globals.update(share_notice=lambda item: share_notice(store(), item), grade_colour=grade_colour)

    def day(value: str | None, name: str) -> date | None:
        if not value:
            return None
        try:
            return parse_day(value)
        except OutOfBounds as exc:
            raise HTTPException(UNPROCESSABLE, f"{name}: {exc}") from None

    def answer(code: str, date_from: str | None, date_to: str | None):  # type: ignore[no-untyped-def]
        first, last = day(date_from, "from"), day(date_to, "to")
        if first and last and first > last:
            raise HTTPException(UNPROCESSABLE, f"from {first} is after to {last}")
        trace = dataset_trace(store(), code, date_from=first, date_to=last)
        if trace is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"dataset {quoted(code)} is neither catalogued nor shared nor backflowed")
        return trace

    @app.get("/datasets/{code}/trace", response_class=HTMLResponse)
    def trace_page(request: Request, user: Viewer, code: str,
                   date_from: Annotated[str | None, Query(alias="from")] = None,
                   date_to: Annotated[str | None, Query(alias="to")] = None) -> HTMLResponse:
        trace = answer(code, date_from, date_to)
        base = request.scope.get("root_path", "").rstrip("/")
        html = env.get_template("trace.html").render(
            base=base, user=user, request=request, trace=trace, graph=lineage_graph(trace),
            timeline=share_timeline(trace.shares), grades=GRADE_COLOURS, date_from=date_from or "",
            date_to=date_to or "")
        return HTMLResponse(html)

    @app.get("/datasets/{code}/trace.json")
    def trace_json(_user: Viewer, code: str, date_from: Annotated[str | None, Query(alias="from")] = None,
                   date_to: Annotated[str | None, Query(alias="to")] = None) -> JSONResponse:
        return JSONResponse(answer(code, date_from, date_to).to_dict())

    @app.get("/batches/{batch_id}/trace.json")
    def batch_json(_user: Viewer, batch_id: str) -> JSONResponse:
        trace = batch_trace(store(), batch_id)
        if trace is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no backflow batch {quoted(batch_id)} is recorded")
        return JSONResponse(trace.to_dict())

    @app.get("/disputes/{dispute_id}/receivers.json")
    def receivers_json(_user: Viewer, dispute_id: int) -> JSONResponse:
        """The departments to tell about an item (what its page lists), or ``null`` when it calls for none."""
        from citygov import disputes as dq
        from citygov.bounds import ID_MAX, ID_MIN

        if not ID_MIN <= dispute_id <= ID_MAX:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dispute item {dispute_id}")
        try:
            item = dq.get_dispute(store(), dispute_id)
        except dq.DisputeNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        notice = share_notice(store(), item)
        return JSONResponse(jsonable(notice) if notice is not None else None)


def share_notice(engine: Engine, item: Any) -> dict[str, Any] | None:
    """The departments to tell about dispute ``item`` (:func:`citygov.trace.item_receivers`; None when it
    calls for no notice), each with the notices recorded for it (``told``: channel, status, sent or held
    until; :func:`citygov.notify.told_about`)."""
    from citygov.notify import told_about

    notice = item_receivers(engine, item)
    if notice is None:
        return None
    told = told_about(engine, item.id)
    for receiver in notice["receivers"]:
        receiver["told"] = [{"recipient": d.recipient, "channel": d.channel, "status": d.status,
                             "sent_at": d.sent_at, "not_before": d.not_before} for d in told.get(receiver["requester"], [])]
    return notice
