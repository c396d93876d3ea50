"""Importing the exchange platform's share-request log into the sharing trace, exactly once.

The log is the one 按需共享率 reads (:mod:`citygov.kpis`: connection ``exchange_platform``, table
``share_requests``, a connection's extra ``table`` overrides it). A **share** is a request the platform
satisfied (``status`` 已满足 with a ``satisfied_at``); refused, pending and timed-out requests delivered
nothing and are not traced. Optional columns are read when the log has them: ``purpose`` (用途) and
``share_method`` (共享方式; else the catalog entry's 共享方式 is recorded).

Each share is stored once, keyed on its ``request_id``: a rerun, an overlapping window or a second import
of the same log adds nothing. The import is incremental: it reads the shares served from a week before the
newest one already traced from that log (a request satisfied late but stamped earlier is still caught; the
key drops what was already taken), up to ``until``.

The state recorded with a share is the dataset's **as it stood when served**, rebuilt from the store's history:

- the latest score on or before the served day (a score of logical date D judges the data of day D),
  with its grade, or ``not_scored`` / ``none``;
- its open high-severity dispute items at the served moment (the queue's event log,
  :func:`citygov.disputes.figures.states_at`);
- the backflow batches its table held then: the last full load on or before the served day and the
  incremental loads after it (loaded batches only; logical dates, as the pipeline keeps time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select, text

from citygov.disputes.figures import states_at
from citygov.disputes.states import CLOSED
from citygov.kpis import SATISFIED, SHARE_LOG_CONN_ID, SHARE_LOG_TABLE
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo
from citygov.store import session_scope
from citygov.store.models import BackflowBatch, CatalogEntryRow, DatasetScore, Dispute, ShareTrace

LOOKBACK = timedelta(days=7)
"""How far before the newest traced share an incremental import reads again."""
HIGH = "high"
_TEXT_AT = "CAST({} AS VARCHAR(19))"
"""Log timestamps compared as 'YYYY-MM-DD HH:MM:SS' text, as :func:`citygov.kpis.sharing_rate` does."""


@dataclass(frozen=True)
class DatasetState:
    """A dataset's quality and contents at a moment: what a share carried."""

    score: float | None
    grade: str | None
    scored_on: date | None
    score_status: str
    """``scored``, ``not_scored`` or ``none`` (no score on or before the day)."""
    open_high: list[dict[str, Any]] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What one import of the share-request log did."""

    source: str
    until: datetime
    since: datetime | None
    """The start of the window read (None: the whole log)."""
    read: int = 0
    """Served requests read in the window."""
    imported: list[str] = field(default_factory=list)
    """Request ids traced now."""
    already: int = 0
    """Requests in the window traced before (not imported again)."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "until": self.until.isoformat(),
                "since": self.since.isoformat() if self.since else None, "read": self.read,
                "imported": len(self.imported), "already": self.already, "request_ids": self.imported,
                "error": self.error}


def _local_text(moment: datetime) -> str:
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _parse(value: Any) -> datetime | None:
    """A log timestamp (city time, text or datetime) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip()[:19])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CITY_TZ)
    return moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def import_share_log(engine: Engine, conn: ConnectionInfo, until: datetime, *, full: bool = False,
                     now: datetime | None = None) -> ImportResult:
    """Trace every share the log ``conn`` records as served before ``until`` and not traced yet.

    ``full`` reads the whole log instead of the window after the newest traced share. Never raises for an
    unreadable log: the result's ``error`` says what was wrong (the caller decides whether that fails)."""
    from citygov.sources.database import ident, source_engine

    table = str(conn.extra.get("table") or SHARE_LOG_TABLE)
    source = f"{conn.conn_id}/{table}"
    until = _utc(until)
    since: datetime | None = None
    if not full:
        with session_scope(engine) as session:
            newest = session.scalar(select(func.max(ShareTrace.served_at)).where(ShareTrace.source == source))
        since = _utc(newest) - LOOKBACK if newest is not None else None
    result = ImportResult(source=source, until=until, since=since)
    at = _TEXT_AT.format("satisfied_at")
    where = ["status = :satisfied", "satisfied_at IS NOT NULL", f"{at} < :until"]
    params: dict[str, Any] = {"satisfied": SATISFIED, "until": _local_text(until)}
    if since is not None:
        where.append(f"{at} >= :since")
        params["since"] = _local_text(since)
    try:
        log = source_engine(conn)
        try:
            sql = text(f"SELECT * FROM {log.dialect.identifier_preparer.quote(ident(table))} "
                       f"WHERE {' AND '.join(where)} ORDER BY {at}")
            with log.connect() as c:
                rows = [dict(r) for r in c.execute(sql, params).mappings()]
        finally:
            log.dispose()
    except Exception as exc:  # any driver error: reported, the trace is left as it was
        result.error = f"cannot read {source}: {str(exc).splitlines()[0]}"
        return result
    result.read = len(rows)
    stamp = _utc(now) if now is not None else datetime.now(UTC)
    with session_scope(engine) as session:
        ids = [str(r["request_id"]) for r in rows]
        known = set()
        for i in range(0, len(ids), 500):
            known |= set(session.scalars(select(ShareTrace.request_id).where(ShareTrace.request_id.in_(ids[i:i + 500]))))
        fresh = [r for r in rows if str(r["request_id"]) not in known]
        result.already = len(rows) - len(fresh)
        shares = [(r, _parse(r["satisfied_at"])) for r in fresh]
        states = states_for(engine, [(str(r["resource_code"]), served) for r, served in shares if served])
        entries = {e.code: e for e in session.scalars(
            select(CatalogEntryRow).where(CatalogEntryRow.code.in_({str(r["resource_code"]) for r in fresh})))}
        for r, served in shares:
            if served is None:
                continue
            code = str(r["resource_code"])
            entry = entries.get(code)
            state = states[(code, served)]
            session.add(ShareTrace(
                request_id=str(r["request_id"]), entry_code=code, requester=str(r.get("requesting_dept") or "—"),
                provider=entry.provider if entry else None, requested_at=_parse(r.get("requested_at")),
                served_at=served, served_on=served.astimezone(CITY_TZ).date(),
                purpose=(str(r["purpose"]) if r.get("purpose") else None),
                share_method=str(r.get("share_method") or "") or (entry.share_method if entry else None),
                score=state.score, grade=state.grade, scored_on=state.scored_on, score_status=state.score_status,
                open_high=state.open_high, batches=state.batches, source=source, imported_at=stamp,
            ))
            result.imported.append(str(r["request_id"]))
    return result


def import_configured(engine: Engine, resolve: Any, until: datetime, *, conn_id: str = SHARE_LOG_CONN_ID,
                      full: bool = False, now: datetime | None = None) -> ImportResult | None:
    """:func:`import_share_log` from the connection ``conn_id`` through ``resolve``; None when it is not defined."""
    conn = resolve(conn_id)
    return None if conn is None else import_share_log(engine, conn, until, full=full, now=now)


def states_for(engine: Engine, shares: Iterable[tuple[str, datetime]]) -> dict[tuple[str, datetime], DatasetState]:
    """The state of each ``(dataset code, moment)``: score then, open high-severity items then, batches held."""
    wanted = list(dict.fromkeys(shares))
    codes = {code for code, _ in wanted}
    if not wanted:
        return {}
    with session_scope(engine) as session:
        scores: dict[str, list[DatasetScore]] = defaultdict(list)
        for s in session.scalars(select(DatasetScore).where(DatasetScore.entry_code.in_(codes))
                                 .order_by(DatasetScore.logical_date)):
            scores[s.entry_code].append(s)
        batches: dict[str, list[BackflowBatch]] = defaultdict(list)
        for b in session.scalars(select(BackflowBatch).where(BackflowBatch.resource_code.in_(codes),
                                                             BackflowBatch.status == "loaded")
                                 .order_by(BackflowBatch.logical_date, BackflowBatch.batch_id)):
            batches[b.resource_code].append(b)
        with_high = set(session.scalars(select(Dispute.entry_code).distinct()
                                        .where(Dispute.entry_code.in_(codes), Dispute.severity == HIGH)))
    out: dict[tuple[str, datetime], DatasetState] = {}
    for code, moment in wanted:
        day = moment.astimezone(CITY_TZ).date()
        latest = next((s for s in reversed(scores[code]) if s.logical_date <= day), None)
        if latest is None:
            score, grade, on, status = None, None, None, "none"
        else:
            score, grade, on, status = latest.score, latest.grade, latest.logical_date, latest.status
        out[(code, moment)] = DatasetState(
            score=score, grade=grade, scored_on=on, score_status=status,
            open_high=open_high_items(engine, code, moment) if code in with_high else [],
            batches=held_batches(batches[code], day),
        )
    return out


def open_high_items(engine: Engine, code: str, moment: datetime) -> list[dict[str, Any]]:
    """The dataset's high-severity dispute items open at ``moment`` (their status then, from the event log)."""
    states = states_at(_utc(moment))
    with session_scope(engine) as session:
        rows = session.execute(
            select(Dispute.id, Dispute.rule_id, Dispute.title, states.c.status)
            .join(states, states.c.id == Dispute.id)
            .where(and_(Dispute.entry_code == code, Dispute.severity == HIGH,
                        states.c.status.not_in([s.value for s in CLOSED])))
            .order_by(Dispute.id)
        ).all()
    return [{"id": i, "rule_id": rule, "title": title, "status": status} for i, rule, title, status in rows]


def held_batches(loaded: list[BackflowBatch], day: date) -> list[str]:
    """The batches a table held on ``day``: the last full load on or before it and the loads after that one
    (``loaded`` in logical-date order)."""
    upto = [b for b in loaded if b.logical_date <= day]
    last_full = max((i for i, b in enumerate(upto) if b.mode == "full"), default=0)
    return [b.batch_id for b in upto[last_full:]]


def day_end(day: date) -> datetime:
    """The midnight after ``day`` in the city, in UTC: an import "up to ``day``" reads what was served before it."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CITY_TZ).astimezone(UTC)
