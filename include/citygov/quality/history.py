"""Each quality rule's results over a dataset's last runs: failing rows and pass/fail per logical date.

A rule here is an expectation type on a column (``expect_column_values_to_be_valid_ric`` on ``sfzhm``),
the way a steward names it; when a suite holds the same type twice on one column (two patterns, say)
their failing rows are added up and the rule passes only when both do. The history is read from the
stored check results (:class:`citygov.store.models_quality.CheckResult`) in two queries, whatever the
number of rules and dates, so the scorecard can show it for any dataset.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, case, func, select

from citygov.quality.registry import label
from citygov.store import session_scope
from citygov.store.models_quality import CheckResult, QualityRun

DEFAULT_RUNS = 14
"""Runs shown by default: two weeks of nightly inspections."""
MAX_RUNS = 90
"""The most runs one history may span (a page asks for no more than this)."""


@dataclass(frozen=True)
class RunDay:
    """One quality run of the dataset: a column of the history."""

    logical_date: date
    status: str
    """``passed``, ``failed``, ``no_suite``, ``suite_invalid``, ``unreachable`` or ``error``."""
    data_docs_path: str | None
    """The run's page in that date's Data Docs site (a file path), while the site keeps the date."""


@dataclass(frozen=True)
class RuleDay:
    """One rule's result on one date."""

    logical_date: date
    success: bool | None
    """None when the rule did not run that date (not in the suite then, or the dataset was not validated)."""
    unexpected: int | None
    """Failing rows (GX's ``unexpected_count``); None when the rule did not run or could not be evaluated."""
    evaluated: int | None
    """Rows the rule judged (the B of X = A/B)."""
    error: bool = False
    """The rule could not be evaluated that date (it counts as failed, with no row count)."""


@dataclass(frozen=True)
class RuleHistory:
    """One rule's results over the history's dates, oldest first (one :class:`RuleDay` per run)."""

    rule_id: str
    """The expectation type, the rule's id."""
    column: str | None
    dimension: str
    """GB/T 36344 dimension the rule scores (as on its latest run)."""
    label: str
    """The rule's name in words (Chinese and English)."""
    days: tuple[RuleDay, ...]

    @property
    def latest(self) -> RuleDay | None:
        """The last date the rule ran."""
        return next((d for d in reversed(self.days) if d.success is not None), None)


@dataclass(frozen=True)
class DatasetRuleHistory:
    """A dataset's rules over its last runs."""

    entry_code: str
    runs: tuple[RunDay, ...]
    """The runs, oldest first: the dates every rule's ``days`` are aligned with."""
    rules: tuple[RuleHistory, ...]
    """In suite order (as on the latest run each rule ran), rules no longer in the suite last."""


def rule_history(
    engine: Engine, code: str, *, runs: int = DEFAULT_RUNS, as_of: date | None = None
) -> DatasetRuleHistory:
    """Each rule's failing-row count and pass/fail on dataset ``code``'s last ``runs`` quality runs (1 to
    :data:`MAX_RUNS`), up to ``as_of`` when given. A date the dataset could not be validated is a run with
    no rule results; a rule added or dropped midway has ``success=None`` on the dates it did not run.

    Raises ValueError when ``runs`` is out of bounds.
    """
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs={runs}: a rule history spans 1 to {MAX_RUNS} runs")
    query = select(QualityRun.id, QualityRun.logical_date, QualityRun.status, QualityRun.data_docs_path).where(
        QualityRun.entry_code == code
    )
    if as_of is not None:
        query = query.where(QualityRun.logical_date <= as_of)
    failed = func.sum(case((CheckResult.success.is_(False), 1), else_=0))
    with session_scope(engine) as session:
        found = session.execute(query.order_by(QualityRun.logical_date.desc()).limit(runs)).all()
        rows = session.execute(
            select(
                CheckResult.run_id, CheckResult.expectation, CheckResult.column, func.max(CheckResult.dimension),
                failed, func.sum(CheckResult.unexpected_count), func.sum(CheckResult.evaluated_count),
                func.count(CheckResult.error), func.min(CheckResult.position),
            )
            .where(CheckResult.run_id.in_([r.id for r in found]))
            .group_by(CheckResult.run_id, CheckResult.expectation, CheckResult.column)
        ).all() if found else []
    ordered = sorted(found, key=lambda r: r.logical_date)
    when = {r.id: i for i, r in enumerate(ordered)}
    results: dict[tuple[str, str | None], dict[int, RuleDay]] = defaultdict(dict)
    order: dict[tuple[str, str | None], tuple[int, int, str]] = {}
    dimension: dict[tuple[str, str | None], str] = {}
    for run_id, expectation, column, dim, n_failed, unexpected, evaluated, errors, position in rows:
        i = when[run_id]
        key = (expectation, column)
        results[key][i] = RuleDay(ordered[i].logical_date, not n_failed, None if errors else unexpected, evaluated,
                                  error=bool(errors))
        if key not in order or order[key][0] > -i:  # the latest run the rule ran decides its place and dimension
            order[key] = (-i, position if position is not None else 1 << 30, expectation)
            dimension[key] = dim
    rules = tuple(
        RuleHistory(
            rule_id=key[0], column=key[1], dimension=dimension[key], label=label(key[0]),
            days=tuple(results[key].get(i) or RuleDay(r.logical_date, None, None, None) for i, r in enumerate(ordered)),
        )
        for key in sorted(results, key=lambda k: (order[k], k[1] or ""))
    )
    return DatasetRuleHistory(
        entry_code=code, runs=tuple(RunDay(r.logical_date, r.status, r.data_docs_path) for r in ordered), rules=rules
    )
