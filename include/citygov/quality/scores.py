"""GB/T 36344 dataset scores: six dimension ratios, configurable weights, 0–100, a grade, and history.

Per dataset and logical date, each dimension's ratio is X = A/B (GB/T 36344):

- 规范性, 完整性, 准确性, 一致性: row-level pass rates of the suite's expectations of that dimension:
  A = elements that passed, B = elements the expectations evaluated (non-NULL values, or rows left
  after ``ignore_row_if``, or every row for the completeness checks), summed over the expectations.
  An empty table counts one failed record for 完整性 (record completeness).
- 时效性: 1/1 when the patrol saw the resource updated within its 更新周期 that date, 0/1 when it
  reported ``patrol.timeliness.*``; not evaluated when the patrol did not reach the resource.
- 可访问性: 1/1 when the patrol (and the quality run) could read the resource, 0/1 when not.

A dimension nobody evaluated has no ratio and its weight is left out (the others are renormalised),
so the score is ``100 * Σ w·X / Σ w`` over the evaluated dimensions. Grades: 优秀 ≥ 90, 良好 ≥ 80,
合格 ≥ 60, else 不合格. A department's score is the mean of its datasets' scores, the city's the mean of
all datasets' scores. Weights and grade bands are a local setting (:func:`load_policy`).

A dataset whose validation did not run (its source unreadable, the engine failed, no expectation could
be evaluated), or that no dimension could be evaluated for, is **not scored**: status
:data:`NOT_SCORED` with the reason, no score and no grade. It is never counted as any score in a
department's or the city's mean; rollups count it apart (``not_scored``).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select

from citygov.findings import Dimension
from citygov.store import session_scope
from citygov.store.models import DatasetScore, Finding, PatrolObservation

DEFAULT_WEIGHTS: dict[Dimension, float] = {
    Dimension.CONFORMITY: 0.20,
    Dimension.COMPLETENESS: 0.20,
    Dimension.ACCURACY: 0.25,
    Dimension.CONSISTENCY: 0.15,
    Dimension.TIMELINESS: 0.10,
    Dimension.ACCESSIBILITY: 0.10,
}
"""Default weights (sum 1): content dimensions weigh more than the two the patrol measures."""

DEFAULT_GRADES: tuple[tuple[float, str], ...] = ((90.0, "优秀"), (80.0, "良好"), (60.0, "合格"), (0.0, "不合格"))
"""Grade bands: the first whose lower bound the score reaches."""

POLICY_ENV = "CITYGOV_QUALITY_POLICY"
"""A JSON file (or inline JSON) with ``weights`` (dimension → weight) and optional ``grades``."""

COLUMN_FIELDS: dict[Dimension, str] = {
    Dimension.CONFORMITY: "conformity",
    Dimension.COMPLETENESS: "completeness",
    Dimension.ACCURACY: "accuracy",
    Dimension.CONSISTENCY: "consistency",
    Dimension.TIMELINESS: "timeliness",
    Dimension.ACCESSIBILITY: "accessibility",
}
"""DatasetScore column of each dimension."""

SCORED = "scored"
NOT_SCORED = "not_scored"
"""``DatasetScore.status`` values: a not-scored row has ``score`` and ``grade`` NULL and a ``not_scored_reason``."""

_UNREACHABLE_RULES = {"patrol.source.unreachable", "patrol.resource.missing", "patrol.resource.unreadable"}


@dataclass(frozen=True)
class ScoringPolicy:
    """Weights per dimension and grade bands."""

    weights: Mapping[Dimension, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    grades: tuple[tuple[float, str], ...] = DEFAULT_GRADES

    def grade(self, score: float) -> str:
        for bound, name in sorted(self.grades, reverse=True):
            if score >= bound:
                return name
        return self.grades[-1][1]

    def to_dict(self) -> dict[str, Any]:
        return {"weights": {d.value: w for d, w in self.weights.items()}, "grades": [list(g) for g in self.grades]}


def load_policy(source: str | Path | None = None) -> ScoringPolicy:
    """The scoring policy from ``source`` (a JSON file or JSON text), else ``$CITYGOV_QUALITY_POLICY``,
    else the defaults. Weights may be given for some dimensions only; they need not sum to 1."""
    raw = source if source is not None else os.environ.get(POLICY_ENV)
    if not raw:
        return ScoringPolicy()
    text = str(raw)
    data = json.loads(text) if text.lstrip().startswith("{") else json.loads(Path(text).read_text(encoding="utf-8"))
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in (data.get("weights") or {}).items():
        try:
            dim = Dimension(key) if key in Dimension._value2member_map_ else Dimension[key.upper()]
        except KeyError:
            raise ValueError(f"scoring policy: unknown dimension {key!r}; use {', '.join(d.value for d in Dimension)}") from None
        if float(value) < 0:
            raise ValueError(f"scoring policy: weight of {key} must not be negative")
        weights[dim] = float(value)
    grades = tuple((float(b), str(n)) for b, n in data.get("grades") or DEFAULT_GRADES)
    return ScoringPolicy(weights=weights, grades=grades)


@dataclass
class DimensionRatio:
    """X = A/B for one dimension of one dataset."""

    dimension: Dimension
    passed: int = 0
    """A: elements that met the rules."""
    evaluated: int = 0
    """B: elements evaluated."""
    sources: list[str] = field(default_factory=list)
    """What was counted: expectation types (with columns) or patrol facts."""

    @property
    def ratio(self) -> float | None:
        return self.passed / self.evaluated if self.evaluated else None

    def add(self, passed: int, evaluated: int, source: str) -> None:
        self.passed += passed
        self.evaluated += evaluated
        self.sources.append(source)


@dataclass
class CheckCount:
    """What scoring needs from one expectation result."""

    dimension: Dimension
    evaluated: int
    unexpected: int
    label: str


@dataclass
class ScoreCard:
    """A dataset's score for a logical date, with everything needed to explain it."""

    entry_code: str
    department: str | None
    logical_date: date
    ratios: dict[Dimension, DimensionRatio]
    score: float | None
    """0–100; None when not scored."""
    grade: str | None
    weights_applied: dict[Dimension, float]
    notes: list[str] = field(default_factory=list)
    not_scored_reason: str | None = None
    """Set (and score, grade None) when the dataset is not scored: why."""

    @property
    def status(self) -> str:
        return NOT_SCORED if self.not_scored_reason else SCORED

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_code": self.entry_code,
            "department": self.department,
            "logical_date": self.logical_date.isoformat(),
            "status": self.status,
            "not_scored_reason": self.not_scored_reason,
            "score": self.score,
            "grade": self.grade,
            "ratios": {d.value: _round(r.ratio) for d, r in self.ratios.items()},
            "details": self.details(),
        }

    def details(self) -> dict[str, Any]:
        return {
            "dimensions": {
                d.value: {"passed": r.passed, "evaluated": r.evaluated, "ratio": _round(r.ratio), "sources": r.sources}
                for d, r in self.ratios.items()
            },
            "weights_applied": {d.value: w for d, w in self.weights_applied.items()},
            "formula": "score = 100 × Σ(w·X) / Σ(w) over evaluated dimensions; X = A/B",
            "notes": self.notes,
        }


def score_dataset(
    entry_code: str,
    department: str | None,
    logical_date: date,
    checks: Iterable[CheckCount],
    *,
    row_count: int | None,
    readable: bool | None,
    patrol_reachable: bool | None,
    patrol_rules: Iterable[str] = (),
    policy: ScoringPolicy | None = None,
    not_scored: str | None = None,
) -> ScoreCard:
    """Score one dataset from its expectation counts and the patrol's view of it (see module docstring).

    ``readable`` is whether the quality run could read the resource (None: not attempted);
    ``patrol_reachable`` whether the patrol reached it that date (None: the patrol did not look);
    ``patrol_rules`` the rule ids of the patrol's findings for the entry and date; ``not_scored`` why
    the dataset's validation did not run, when it did not: the card then has the ratios that were
    observed but no score and no grade.
    """
    policy = policy or ScoringPolicy()
    ratios = {d: DimensionRatio(d) for d in Dimension}
    notes: list[str] = []
    for c in checks:
        if c.evaluated:
            ratios[c.dimension].add(c.evaluated - c.unexpected, c.evaluated, c.label)
    if row_count == 0:
        ratios[Dimension.COMPLETENESS].add(0, 1, "empty resource: no records")
        notes.append("资源为空 the resource holds no records")
    rules = set(patrol_rules)
    if patrol_reachable:
        stale = sorted(r for r in rules if r.startswith("patrol.timeliness."))
        ratios[Dimension.TIMELINESS].add(0 if stale else 1, 1, ", ".join(stale) or "patrol: updated within 更新周期")
    accessible: bool | None = None
    if patrol_reachable is not None:
        accessible = bool(patrol_reachable) and not (rules & _UNREACHABLE_RULES)
    if readable is not None:
        accessible = readable if accessible is None else accessible and readable
    if accessible is not None:
        ratios[Dimension.ACCESSIBILITY].add(1 if accessible else 0, 1, "readable" if accessible else "unreachable or missing")
    applied = {d: policy.weights.get(d, 0.0) for d, r in ratios.items() if r.ratio is not None and policy.weights.get(d, 0.0) > 0}
    total = sum(applied.values())
    if not total and not not_scored:
        not_scored = "没有可评价的维度 no dimension could be evaluated"
    if not_scored:
        notes.append(f"未评分 not scored: {not_scored}")
        return ScoreCard(entry_code, department, logical_date, ratios, None, None, {}, notes, not_scored)
    score = round(100 * sum(w * (ratios[d].ratio or 0.0) for d, w in applied.items()) / total, 2)
    return ScoreCard(entry_code, department, logical_date, ratios, score, policy.grade(score), applied, notes)


# --- store -------------------------------------------------------------------------------------------------


def patrol_view(engine: Engine, codes: Sequence[str], logical_date: date) -> dict[str, tuple[bool | None, set[str]]]:
    """Per entry: whether the patrol reached it on ``logical_date`` (None: no observation) and the rule
    ids of its patrol findings that date."""
    out: dict[str, tuple[bool | None, set[str]]] = {c: (None, set()) for c in codes}
    with session_scope(engine) as session:
        for start in range(0, len(codes), 500):
            chunk = list(codes[start : start + 500])
            for obs in session.scalars(
                select(PatrolObservation).where(
                    PatrolObservation.entry_code.in_(chunk), PatrolObservation.logical_date == logical_date
                )
            ):
                out[obs.entry_code] = (obs.reachable, out[obs.entry_code][1])
            for f in session.scalars(
                select(Finding).where(
                    Finding.origin == "patrol", Finding.logical_date == logical_date, Finding.entry_code.in_(chunk)
                )
            ):
                out[f.entry_code][1].add(f.rule_id)
    return out


def store_scores(engine: Engine, cards: Iterable[ScoreCard], policy: ScoringPolicy | None = None) -> int:
    """Store score cards, replacing the same entries' scores of the same date (history of other dates kept)."""
    policy = policy or ScoringPolicy()
    cards = list(cards)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for card in cards:
            session.execute(
                delete(DatasetScore).where(
                    DatasetScore.entry_code == card.entry_code, DatasetScore.logical_date == card.logical_date
                )
            )
            session.add(
                DatasetScore(
                    entry_code=card.entry_code,
                    department=card.department,
                    logical_date=card.logical_date,
                    **{COLUMN_FIELDS[d]: _round(r.ratio) for d, r in card.ratios.items()},
                    score=card.score,
                    grade=card.grade,
                    status=card.status,
                    not_scored_reason=card.not_scored_reason,
                    weights={d.value: w for d, w in policy.weights.items()},
                    computed_at=now,
                    details=card.details(),
                )
            )
    return len(cards)


def _row_dict(row: DatasetScore) -> dict[str, Any]:
    return {
        "entry_code": row.entry_code,
        "department": row.department,
        "logical_date": row.logical_date.isoformat(),
        "status": row.status,
        "not_scored_reason": row.not_scored_reason,
        "score": row.score,
        "grade": row.grade,
        "ratios": {d.value: getattr(row, f) for d, f in COLUMN_FIELDS.items()},
        "weights": row.weights,
        "details": row.details,
    }


def load_scores(
    engine: Engine,
    *,
    dataset: str | None = None,
    department: str | None = None,
    logical_date: date | None = None,
    history: bool = False,
    policy: ScoringPolicy | None = None,
) -> dict[str, Any]:
    """Scores as JSON-able data: the latest date (or ``logical_date``) with datasets, departments and the
    city; with ``history`` every date, oldest first. ``dataset`` / ``department`` narrow it."""
    policy = policy or ScoringPolicy()
    with session_scope(engine) as session:
        query = select(DatasetScore).order_by(DatasetScore.logical_date, DatasetScore.entry_code)
        if dataset:
            query = query.where(DatasetScore.entry_code == dataset)
        if department:
            query = query.where(DatasetScore.department == department)
        if logical_date and not history:
            query = query.where(DatasetScore.logical_date == logical_date)
        rows = [_row_dict(r) for r in session.scalars(query)]
    by_date: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_date[row["logical_date"]].append(row)
    if not by_date:
        return {"logical_date": None, "datasets": [], "departments": [], "city": None, "history": [] if history else None}
    dates = sorted(by_date)
    snapshots = [_snapshot(day, by_date[day], policy, explain=not history) for day in (dates if history else dates[-1:])]
    if history:
        return {"history": snapshots, "dataset": dataset, "department": department}
    return snapshots[0]


def _snapshot(day: str, rows: list[dict[str, Any]], policy: ScoringPolicy, *, explain: bool) -> dict[str, Any]:
    departments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        departments[row["department"] or "-"].append(row)
    datasets = rows if explain else [{k: v for k, v in r.items() if k != "details"} for r in rows]
    return {
        "logical_date": day,
        "datasets": datasets,
        "departments": [_aggregate(name, members, policy) for name, members in sorted(departments.items())],
        "city": _aggregate("city", rows, policy),
    }


def _aggregate(name: str, rows: list[dict[str, Any]], policy: ScoringPolicy) -> dict[str, Any]:
    scores = [r["score"] for r in rows if r["score"] is not None]
    score = round(sum(scores) / len(scores), 2) if scores else None
    ratios: dict[str, float | None] = {}
    for d in Dimension:
        values = [r["ratios"][d.value] for r in rows if r["ratios"].get(d.value) is not None]
        ratios[d.value] = _round(sum(values) / len(values)) if values else None
    return {
        "name": name,
        "datasets": len(rows),
        "scored": len(scores),
        "not_scored": len(rows) - len(scores),
        "score": score,
        "grade": policy.grade(score) if score is not None else None,
        "ratios": ratios,
        "grades": {g: sum(1 for r in rows if r["grade"] == g) for _, g in policy.grades},
        "formula": "mean of the scored datasets' scores (not-scored datasets left out); ratios are the mean "
                   "of the datasets' observed ratios",
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
