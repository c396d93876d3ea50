"""Quality inspection of catalog entries: validate, mask, store, turn failures into findings, score.

:func:`inspect_batch` is the one entry point the DAG's mapped tasks and ``govern quality run`` call.
For each entry it loads the suite file, validates the source (database tables in SQL where the data
is or streamed to the worker, files in bounded blocks; :mod:`citygov.quality.engine`), masks every sample,
and stores:

- a ``QualityRun`` per entry and logical date with the masked GX validation result, and a
  ``CheckResult`` per expectation (rerunning the date replaces both);
- a ``FindingRecord`` (origin ``quality``) per failed expectation, rule id = expectation type, with the
  masked evidence and the failing-row count, so the dispute router routes it to the provider; findings
  replace the batch's quality findings of the date (``replace_findings``), and the fingerprint (entry,
  expectation type, column) is the same every night, so a recurring failure updates one dispute;
- the dataset's GB/T 36344 score (:mod:`citygov.quality.scores`) for the date.

A missing or broken suite is a finding (``quality.suite.missing`` / ``quality.suite.invalid``). A dataset
whose validation did not run (source or table unreadable, an engine failure, or not one expectation could
be evaluated) is recorded on the run with why, is **not scored** (no score, no grade:
:data:`citygov.quality.scores.NOT_SCORED`) and is named in the batch summary's ``not_scored`` and in the
log; an engine failure also gets a ``quality.validation.not_run`` finding (可访问性) for the dispute queue
(an unreadable source is the patrol's and the census's finding). None of these stops the batch.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, delete

from citygov.catalog.queries import load_entries
from citygov.catalog.schema import CatalogEntry
from citygov.findings import RULES, Dimension, FindingRecord, Rule, Severity, replace_findings
from citygov.quality import engine as qengine
from citygov.quality.masking import mask_suite_result, result_columns, row_samples, scrub
from citygov.quality.registry import HIGH_SHARE
from citygov.quality.review import finding_column
from citygov.quality.scores import ScoreCard, ScoringPolicy, rescore, validation_not_run
from citygov.quality.suites import SuiteFileError, column_masks, dimension_of, load_suite, suites_dir
from citygov.sources import ConnectionInfo, Source, open_source
from citygov.sources.base import describe_error
from citygov.sources.database import ident
from citygov.store import session_scope
from citygov.store.models import CheckResult, QualityRun

log = logging.getLogger(__name__)

ORIGIN = "quality"
EVIDENCE_SAMPLES = 5
"""Failing rows (masked key, masked value, reason) copied into a finding's evidence (the run keeps up to 20)."""

QUALITY_RULES: dict[str, Rule] = {k: RULES[k] for k in ("quality.suite.missing", "quality.suite.invalid", "quality.validation.not_run")}
"""Rules of the quality inspection itself; failed expectations use their expectation type as rule id."""

ConnectionResolver = Callable[[str], ConnectionInfo | None]


@dataclass
class CheckOutcome:
    """One expectation's masked result."""

    position: int
    expectation: str
    column: str | None
    dimension: Dimension
    success: bool
    element_count: int | None
    evaluated_count: int | None
    unexpected_count: int | None
    masked_samples: list[dict[str, Any]]
    """Failing rows as samples: masked record key, masked value(s), reason (:func:`citygov.quality.masking.row_samples`)."""
    kwargs: dict[str, Any]
    error: str | None = None
    draft: dict[str, Any] | None = None
    """Set when the rule is a draft not yet accepted by a steward: why it was drafted and its evidence."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "dimension": self.dimension.value,
            "success": self.success,
            "element_count": self.element_count,
            "evaluated_count": self.evaluated_count,
            "unexpected_count": self.unexpected_count,
            "masked_samples": self.masked_samples,
            "error": self.error,
        }


@dataclass
class DatasetQuality:
    """What the inspection made of one catalog entry."""

    entry_code: str
    department: str | None
    status: str
    """``passed``, ``failed``, ``no_suite``, ``suite_invalid``, ``unreachable`` or ``error``."""
    suite_name: str | None = None
    rows: int | None = None
    engine: str | None = None
    error: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    result: dict[str, Any] | None = None
    """The masked GX suite validation result (JSON)."""
    score: ScoreCard | None = None

    @property
    def not_scored_reason(self) -> str | None:
        """Why this dataset cannot be scored (its validation did not run), or None."""
        return validation_not_run(self.status, self.error)

    def summary(self) -> dict[str, Any]:
        return {
            "entry_code": self.entry_code,
            "department": self.department,
            "status": self.status,
            "not_scored": self.not_scored_reason,
            "rows": self.rows,
            "failed": [
                {"expectation": c.expectation, "column": c.column, "unexpected_count": c.unexpected_count}
                for c in self.checks
                if not c.success
            ],
            "score": self.score.score if self.score else None,
            "grade": self.score.grade if self.score else None,
            "error": self.error,
        }


@dataclass
class QualityReport:
    """What one inspection batch found."""

    logical_date: date
    datasets: list[DatasetQuality] = field(default_factory=list)
    findings: list[FindingRecord] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        status = Counter(d.status for d in self.datasets)
        return {
            "logical_date": self.logical_date.isoformat(),
            "entries": len(self.datasets),
            "status": dict(sorted(status.items())),
            "findings": len(self.findings),
            "failed_expectations": sum(1 for d in self.datasets for c in d.checks if not c.success),
            "not_scored": {d.entry_code: d.not_scored_reason for d in self.datasets if d.not_scored_reason},
            "datasets": [d.summary() for d in self.datasets],
        }


# --- base tables ---------------------------------------------------------------------------------------------


class BaseTables:
    """Looks values up in base-library tables named by catalog code, wherever they live; one engine per
    source, file columns read once. Use as a context manager (engines are disposed on exit)."""

    def __init__(self, store: Engine, resolve: ConnectionResolver) -> None:
        self.store = store
        self.resolve = resolve
        self._entries: dict[str, CatalogEntry | None] = {}
        self._sources: dict[str, Source] = {}
        self._scanned: dict[tuple[str, str], set[str]] = {}

    def __enter__(self) -> BaseTables:
        return self

    def __exit__(self, *exc: object) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()

    def _entry(self, code: str) -> CatalogEntry:
        if code not in self._entries:
            found = load_entries(self.store, codes=[code], published_only=False)
            self._entries[code] = found[0] if found else None
        entry = self._entries[code]
        if entry is None:
            raise qengine.ValidationError(f"base entry {code} is not in the catalog")
        return entry

    def __call__(self, base_entry: str, base_column: str, values: list[Any]) -> set[Any]:
        entry = self._entry(base_entry)
        conn = self.resolve(entry.conn_id)
        if conn is None:
            raise qengine.ValidationError(f"connection {entry.conn_id} of base entry {base_entry} is not defined")
        source = self._sources.get(conn.conn_id)
        if source is None:
            source = self._sources[conn.conn_id] = open_source(conn)
        engine = source.sql_engine()
        if engine is None:  # no SQL to ask: the base column's values are read once, in chunks
            key = (base_entry, base_column)
            if key not in self._scanned:
                _, chunks = source.read(entry.location, columns=[base_column])
                self._scanned[key] = {str(v) for rows in chunks for (v,) in rows if v is not None and str(v) != ""}
            return {v for v in values if str(v) in self._scanned[key]}
        col = sa.column(ident(base_column))
        target = sa.table(ident(entry.location), col)
        with engine.connect() as c:
            return set(c.execute(sa.select(col).select_from(target).where(col.in_(values)).distinct()).scalars())


# --- one entry -----------------------------------------------------------------------------------------------


def validate_entry(
    entry: CatalogEntry,
    conn: ConnectionInfo | None,
    suite: Any,
    logical_date: date,
    *,
    base_lookup: qengine.BaseLookup | None = None,
    engine: str = "auto",
) -> DatasetQuality:
    """Validate one entry's source with its suite and mask the result (nothing is stored here)."""
    out = DatasetQuality(entry_code=entry.code, department=entry.provider, status="error", suite_name=suite.name)
    if conn is None:
        out.status, out.error = "unreachable", f"connection {entry.conn_id!r} is not defined"
        return out
    parameters = {"logical_date": logical_date.isoformat()}
    meta = {"citygov": {"entry_code": entry.code, "conn_id": entry.conn_id, "location": entry.location,
                        "logical_date": logical_date.isoformat()}}
    try:
        source = open_source(conn)
        sql = source.sql_engine()
    except Exception as exc:  # an unknown kind, a database that cannot be opened
        out.status, out.error = "unreachable", describe_error(exc)
        return out
    try:
        with source:
            # Checks run where the engine chooses for a database (validate_table), else streamed from the
            # source's own reader (a folder's files, any other kind).
            if sql is not None:
                result, rows = qengine.validate_table(
                    sql, entry.location, suite, parameters=parameters, base_lookup=base_lookup, engine=engine, meta=meta,
                    key_columns=entry.primary_key,
                )
            else:
                result, rows = qengine.validate_resource(
                    source, entry.location, suite, parameters=parameters, base_lookup=base_lookup, meta=meta,
                    key_columns=entry.primary_key,
                )
            out.engine = str((result.meta or {}).get("engine") or engine)
    except qengine.ValidationError as exc:
        out.status, out.error = "unreachable", str(exc)
        return out
    except Exception as exc:  # a broken source or suite fails this entry, not the batch
        # The traceback goes to the task log masked: a driver's message may quote a value of the data.
        log.error("quality validation of %s failed:\n%s", entry.code, scrub("".join(traceback.format_exception(exc))))
        out.status, out.error = "error", describe_error(exc)
        return out
    masks = column_masks(suite)
    data = mask_suite_result(qengine.result_json(result), masks)
    out.rows = rows
    out.result = data
    for position, (expectation, item) in enumerate(zip(suite.expectations, data["results"], strict=True)):
        body = item.get("result") or {}
        kwargs = (item.get("expectation_config") or {}).get("kwargs") or {}
        error = None
        info = item.get("exception_info") or {}
        if info.get("raised_exception"):
            error = info.get("exception_message") or "the expectation could not be evaluated"
        columns = [c for c in result_columns(kwargs) if c]
        out.checks.append(
            CheckOutcome(
                position=position,
                expectation=expectation.expectation_type,
                column=finding_column(expectation.expectation_type, columns),
                dimension=dimension_of(expectation),
                success=bool(item.get("success")),
                element_count=body.get("element_count", rows if error is None else None),
                evaluated_count=_evaluated(body, rows) if error is None else None,
                unexpected_count=body.get("unexpected_count"),
                masked_samples=row_samples(body, columns),
                kwargs={k: v for k, v in kwargs.items() if k != "batch_id"},
                error=error,
                draft=_draft_mark(expectation),
            )
        )
    out.status = "passed" if all(c.success for c in out.checks) else "failed"
    if out.checks and all(c.error for c in out.checks):
        # Nothing was measured (GX's engine failed on every expectation): not a result about the data.
        out.status = "error"
        first = (out.checks[0].error or "").strip().splitlines()[0] if (out.checks[0].error or "").strip() else "?"
        out.error = f"none of the {len(out.checks)} expectations could be evaluated; first: {first}"
    return out


def _draft_mark(expectation: Any) -> dict[str, Any] | None:
    meta = expectation.configuration.meta or {}
    if not meta.get("draft"):
        return None
    support = meta.get("support") or {}
    return {"drafted": meta.get("drafted"), "satisfied": support.get("satisfied"), "of": support.get("of")}


def _evaluated(body: dict[str, Any], rows: int) -> int | None:
    """Elements evaluated (B): non-missing elements when GX reports missing ones, else every row."""
    if body.get("missing_count") is not None and body.get("element_count") is not None:
        return int(body["element_count"]) - int(body["missing_count"])
    if body.get("element_count") is not None and body.get("unexpected_count") is not None:
        return int(body["element_count"])
    return 1 if body == {} else None


def findings_for(entry: CatalogEntry, dataset: DatasetQuality, logical_date: date) -> list[FindingRecord]:
    """One finding per failed expectation (rule id = expectation type), with masked evidence. A dataset
    whose validation failed on the way (status ``error``) gets one ``quality.validation.not_run`` finding
    saying why instead; an unreadable source (``unreachable``) gets none here: the patrol and the census
    report it (``patrol.resource.*``, ``census.resource_*``), which routing folds into one item."""
    if dataset.status == "error":
        return [_suite_finding(
            entry, "quality.validation.not_run",
            scrub(f"{dataset.not_scored_reason}; the dataset is not scored until its source can be validated"), logical_date,
        )]
    out: list[FindingRecord] = []
    for check in dataset.checks:
        if check.success:
            continue
        draft = None
        if check.draft is not None:
            # Said in the message and the evidence, which each run refreshes, never in the rule id or the
            # fingerprint: accepting the suite must keep the same item, not open a new one.
            seen = check.draft
            evidence = f"holds for {seen['satisfied']} of {seen['of']} sampled rows" if seen.get("of") else "no sampled evidence"
            draft = f"草稿规则 draft rule, not yet accepted by a steward: {evidence}"
        if check.error:
            message = f"{check.expectation} on {check.column or '-'} could not be evaluated ({check.error}); fix the suite or the source"
        else:
            share = f" of {check.evaluated_count}" if check.evaluated_count is not None else ""
            message = (
                f"{check.unexpected_count}{share} rows fail {check.expectation}"
                f"{f' on {check.column}' if check.column else ''}; correct them at the source"
            )
        if draft:
            message = f"{message} [{draft}]"
        percent = (
            (check.unexpected_count or 0) / check.evaluated_count if check.evaluated_count else None
        )
        out.append(
            FindingRecord.for_entry(
                ORIGIN,
                entry,
                check.expectation,
                message,
                logical_date,
                column=check.column,
                evidence=scrub(
                    {
                        "expectation": check.expectation,
                        "kwargs": check.kwargs,
                        "unexpected_count": check.unexpected_count,
                        "evaluated_count": check.evaluated_count,
                        "element_count": check.element_count,
                        "unexpected_percent": round(100 * percent, 4) if percent is not None else None,
                        "samples": check.masked_samples[:EVIDENCE_SAMPLES],
                        "key_columns": list(entry.primary_key) or None,
                        "suite": dataset.suite_name,
                        "error": check.error,
                        **({"draft_rule": draft} if draft else {}),
                    }
                ),
                dimension=check.dimension,
                severity=Severity.HIGH if (percent or 0) >= HIGH_SHARE else Severity.MEDIUM,
            )
        )
    return out


def _suite_finding(entry: CatalogEntry, rule_id: str, message: str, logical_date: date) -> FindingRecord:
    rule = QUALITY_RULES[rule_id]
    return FindingRecord.for_entry(
        ORIGIN, entry, rule_id, message, logical_date, dimension=rule.dimension, severity=rule.severity
    )


# --- a batch ------------------------------------------------------------------------------------------------


def inspect_batch(
    store: Engine,
    codes: Iterable[str],
    resolve: ConnectionResolver,
    logical_date: date,
    *,
    suites: Path | str | None = None,
    engine: str = "auto",
    policy: ScoringPolicy | None = None,
) -> QualityReport:
    """Inspect the catalog entries ``codes`` for ``logical_date`` and store runs, findings and scores.

    ``suites`` is the folder of suite files (default :func:`citygov.quality.suites.suites_dir`);
    ``engine``: ``auto`` (default), ``stream``, ``fused`` or ``gx`` for database sources
    (:func:`citygov.quality.tables.validate_table`); other sources always stream. Idempotent for a date: runs, check
    results, findings and scores of these entries for the date are replaced.
    """
    codes = list(codes)
    folder = suites_dir(suites)
    entries = load_entries(store, codes=codes)
    report = QualityReport(logical_date=logical_date)
    down: dict[str, str | None] = {}
    """Per connection id, why its source does not answer (None: it answers), asked once per batch."""
    with BaseTables(store, resolve) as base:
        for entry in entries:
            started = datetime.now(UTC)
            try:
                suite = load_suite(entry.code, folder)
            except SuiteFileError as exc:
                dataset = DatasetQuality(entry.code, entry.provider, "suite_invalid", error=str(exc))
                report.findings.append(
                    _suite_finding(entry, "quality.suite.invalid", f"{exc}", logical_date)
                )
            else:
                if suite is None:
                    dataset = DatasetQuality(entry.code, entry.provider, "no_suite", error=f"no suite file {entry.code}.json in {folder}")
                    report.findings.append(
                        _suite_finding(
                            entry,
                            "quality.suite.missing",
                            f"no expectation suite; draft one with `govern suites draft {entry.code}` and review it",
                            logical_date,
                        )
                    )
                else:
                    conn = resolve(entry.conn_id)
                    if conn is not None and entry.conn_id not in down:
                        down[entry.conn_id] = _unreachable(conn)
                    if down.get(entry.conn_id):
                        # Asked once per source and batch: a source that does not answer costs its entries
                        # one connect timeout, not one each (the patrol records the 可访问性 finding).
                        dataset = DatasetQuality(entry.code, entry.provider, "unreachable", suite_name=suite.name,
                                                 error=down[entry.conn_id])
                    else:
                        dataset = validate_entry(entry, conn, suite, logical_date, base_lookup=base, engine=engine)
                    report.findings.extend(findings_for(entry, dataset, logical_date))
            if dataset.not_scored_reason:
                log.warning("quality: %s is not scored: %s", entry.code, scrub(dataset.not_scored_reason))
            report.datasets.append(dataset)
            _store_run(store, entry, dataset, logical_date, started)
    replace_findings(store, ORIGIN, logical_date, report.findings, entry_codes=codes)
    _score(store, entries, report, logical_date, policy)
    return report


def _unreachable(conn: ConnectionInfo) -> str | None:
    """Why ``conn``'s source does not answer within the source timeouts (:mod:`citygov.sources.timeouts`),
    or None when it answers."""
    try:
        with open_source(conn) as source:
            return source.unreachable()
    except Exception as exc:  # an unknown kind, a folder that cannot be opened
        return describe_error(exc)


def _store_run(store: Engine, entry: CatalogEntry, dataset: DatasetQuality, logical_date: date, started: datetime) -> None:
    with session_scope(store) as session:
        replaced = sa.select(QualityRun.id).where(QualityRun.entry_code == entry.code, QualityRun.logical_date == logical_date)
        # The replaced run's check results by its id (indexed): SQLite cascades only with foreign keys on, and
        # a sweep of every orphan in the table would make a night of N entries cost N scans of it.
        session.execute(delete(CheckResult).where(CheckResult.run_id.in_(replaced)))
        session.execute(delete(QualityRun).where(QualityRun.entry_code == entry.code, QualityRun.logical_date == logical_date))
        run = QualityRun(
            entry_code=entry.code,
            logical_date=logical_date,
            suite_name=dataset.suite_name,
            status=dataset.status,
            rows_evaluated=dataset.rows,
            started_at=started,
            finished_at=datetime.now(UTC),
            department=entry.provider,
            conn_id=entry.conn_id,
            location=entry.location,
            engine=dataset.engine,
            expectations_total=len(dataset.checks) if dataset.checks else None,
            expectations_failed=sum(1 for c in dataset.checks if not c.success) if dataset.checks else None,
            error=scrub(dataset.error) if dataset.error else None,
            # sa.null(): a plain None would be stored as the JSON value null, not SQL NULL.
            validation_result=dataset.result if dataset.result is not None else sa.null(),
        )
        session.add(run)
        session.flush()
        for check in dataset.checks:
            session.add(
                CheckResult(
                    run_id=run.id,
                    expectation=check.expectation,
                    column=check.column,
                    dimension=check.dimension.value,
                    success=check.success,
                    element_count=check.element_count,
                    unexpected_count=check.unexpected_count,
                    evaluated_count=check.evaluated_count,
                    masked_samples=check.masked_samples,
                    position=check.position,
                    error=check.error,
                    details={"kwargs": check.kwargs},
                )
            )


def _score(store: Engine, entries: Sequence[CatalogEntry], report: QualityReport, logical_date: date, policy: ScoringPolicy | None) -> None:
    # Scored from what was just stored, with every finding of the date (census, patrol, this run), the
    # same way a later rescoring of the date does (citygov.quality.scores.rescore).
    cards = {c.entry_code: c for c in rescore(store, logical_date, [e.code for e in entries], policy)}
    for dataset in report.datasets:
        dataset.score = cards.get(dataset.entry_code)


def plan_batches(store: Engine, batch_size: int = 50) -> list[list[str]]:
    """Batches of published entry codes grouped by source (the patrol's planning, smaller batches: a
    quality batch reads every row of its datasets)."""
    from citygov.patrol import plan_batches as patrol_plan

    return patrol_plan(store, batch_size)
