"""The datasets' pages: the table of scored datasets and one dataset's scorecard.

:func:`dataset_table` lists the datasets scored on the latest date up to a day, worst first;
:func:`dataset_scorecard` gathers what one dataset's page shows (its catalog metadata, latest score and
history, the latest patrol's findings, the latest quality run's failing expectations with masked samples,
each rule's history and its Data Docs page). The web pages call these; the city's KPIs are
:mod:`citygov.kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from citygov.kpis import TrendPoint
from citygov.quality.history import DatasetRuleHistory, rule_history
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow, DatasetScore


@dataclass(frozen=True)
class DatasetRow:
    """A dataset's latest score, for the dataset table."""

    code: str
    name: str | None
    department: str | None
    logical_date: date
    score: float | None
    """None when not scored (``not_scored_reason`` says why)."""
    grade: str | None
    ratios: dict[str, float | None]
    not_scored_reason: str | None = None


@dataclass(frozen=True)
class FailedCheck:
    """A failing expectation of the latest quality run, with masked samples only."""

    expectation: str
    column: str | None
    dimension: str
    unexpected: int | None
    evaluated: int | None
    samples: list[dict[str, Any]]
    """Failing rows: ``key`` (masked record key, or — without one), ``value`` (masked), ``reason`` (words; None
    for rows stored before reasons were kept)."""


@dataclass(frozen=True)
class DatasetScorecard:
    """Everything the dataset scorecard page shows."""

    code: str
    name: str | None
    department: str | None
    entry: dict[str, Any]
    """Catalog metadata (layer, sensitivity, 共享类型, 开放属性, 更新周期, ...); empty when not catalogued."""
    latest: dict[str, Any] | None
    """The latest score (``load_scores`` shape: score, grade, ratios, details); None before any."""
    history: list[TrendPoint]
    patrol_date: date | None
    patrol_findings: list[dict[str, Any]]
    quality_date: date | None
    quality_status: str | None
    failed_checks: list[FailedCheck]
    data_docs_path: str | None
    """The dataset's validation page in the Data Docs site (a file path), when built."""
    recommended_empty: tuple[str, ...] = ()
    """Recommended catalog fields the entry leaves empty (:mod:`citygov.catalog.policy`): shown, not disputed."""
    policy_error: str | None = None
    """Why the metadata policy could not be read (a bad ``CITYGOV_METADATA_*`` setting): shown instead."""
    rule_history: DatasetRuleHistory | None = None
    """Each rule's failing rows and pass/fail over the last quality runs (:mod:`citygov.quality.history`)."""


def dataset_table(
    engine: Engine, as_of: date, *, department: str | None = None, limit: int = 100, offset: int = 0,
    worst_first: bool = True,
) -> tuple[int, list[DatasetRow]]:
    """Datasets scored on the latest date up to ``as_of`` (total, one page), worst score first (the
    not-scored ones before every score; after them with ``worst_first=False``)."""
    from citygov.quality.scores import COLUMN_FIELDS

    with session_scope(engine) as session:
        day = session.scalar(select(func.max(DatasetScore.logical_date)).where(DatasetScore.logical_date <= as_of))
        if day is None:
            return 0, []
        where = [DatasetScore.logical_date == day]
        if department:
            where.append(DatasetScore.department == department)
        total = session.scalar(select(func.count()).select_from(DatasetScore).where(*where)) or 0
        order = DatasetScore.score.asc().nulls_first() if worst_first else DatasetScore.score.desc().nulls_last()
        rows = session.execute(
            select(DatasetScore, CatalogEntryRow.name)
            .outerjoin(CatalogEntryRow, CatalogEntryRow.code == DatasetScore.entry_code)
            .where(*where).order_by(order, DatasetScore.entry_code).limit(limit).offset(offset)
        ).all()
        return total, [
            DatasetRow(s.entry_code, name, s.department, s.logical_date, s.score, s.grade,
                       {d.value: getattr(s, f) for d, f in COLUMN_FIELDS.items()}, s.not_scored_reason)
            for s, name in rows
        ]


def dataset_scorecard(engine: Engine, code: str) -> DatasetScorecard | None:
    """The scorecard of one dataset: latest score with its six ratios and how they were counted, score
    history, the latest patrol's findings, the latest quality run's failing expectations (masked samples)
    and its Data Docs page. None when the store knows nothing of ``code``."""
    from citygov.catalog.policy import MetadataPolicy
    from citygov.catalog.queries import to_entry
    from citygov.identifiers import mask_text
    from citygov.quality.masking import shown_samples
    from citygov.quality.scores import load_scores
    from citygov.store.models import Finding, PatrolObservation
    from citygov.store.models_quality import CheckResult, QualityRun

    latest = load_scores(engine, dataset=code)
    history = load_scores(engine, dataset=code, history=True).get("history") or []
    with session_scope(engine) as session:
        entry = session.get(CatalogEntryRow, code)
        patrol_date = session.scalar(
            select(func.max(PatrolObservation.logical_date)).where(PatrolObservation.entry_code == code)
        ) or session.scalar(
            select(func.max(Finding.logical_date)).where(Finding.origin == "patrol", Finding.entry_code == code)
        )
        findings = [] if patrol_date is None else [
            {"rule_id": f.rule_id, "dimension": f.dimension, "severity": f.severity, "column": f.column,
             "message": mask_text(f.message)}
            for f in session.scalars(
                select(Finding).where(Finding.origin == "patrol", Finding.entry_code == code,
                                      Finding.logical_date == patrol_date).order_by(Finding.rule_id, Finding.id)
            )
        ]
        run = session.scalars(
            select(QualityRun).where(QualityRun.entry_code == code)
            .order_by(QualityRun.logical_date.desc(), QualityRun.id.desc()).limit(1)
        ).first()
        failed = [] if run is None else [
            FailedCheck(c.expectation, c.column, c.dimension, c.unexpected_count, c.evaluated_count,
                        shown_samples(c.masked_samples))
            for c in session.scalars(
                select(CheckResult).where(CheckResult.run_id == run.id, CheckResult.success.is_(False))
                .order_by(CheckResult.position, CheckResult.id)
            )
        ]
        if entry is None and run is None and not latest["datasets"]:
            return None
        recommended: tuple[str, ...] = ()
        policy_error = None
        try:
            recommended = MetadataPolicy.from_env().gaps(to_entry(entry)).recommended if entry else ()
        except ValueError as exc:  # a bad setting is the deployment's to fix; the page still shows the rest
            policy_error = str(exc)
        meta = {} if entry is None else {
            "信息资源分类": entry.layer, "敏感级别": entry.sensitivity, "共享类型": entry.share_type,
            "开放属性": entry.open_attr, "更新周期": entry.update_cycle, "数据连接": entry.conn_id,
            "资源位置": entry.location, "状态": entry.lifecycle,
        }
        return DatasetScorecard(
            code=code,
            name=entry.name if entry else None,
            department=entry.provider if entry else (run.department if run else None),
            entry=meta,
            latest=latest["datasets"][0] if latest["datasets"] else None,
            history=[TrendPoint(s["logical_date"], date.fromisoformat(s["logical_date"]), s["datasets"][0]["score"])
                     for s in history if s["datasets"] and s["datasets"][0]["score"] is not None],
            patrol_date=patrol_date,
            patrol_findings=findings,
            quality_date=run.logical_date if run else None,
            quality_status=run.status if run else None,
            failed_checks=failed,
            data_docs_path=run.data_docs_path if run else None,
            recommended_empty=recommended,
            policy_error=policy_error,
            rule_history=rule_history(engine, code),
        )
