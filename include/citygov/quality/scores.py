"""GB/T 36344 dataset scores: one model every finding feeds, configurable, 0–100, a grade, and history.

Per dataset and logical date, each dimension's value starts from a measured ratio X = A/B (GB/T 36344):

- 规范性, 完整性, 准确性, 一致性: row-level pass rates of the suite's expectations of that dimension:
  A = elements that passed, B = elements the expectations evaluated (non-NULL values, or rows left
  after ``ignore_row_if``, or every row for the completeness checks), summed over the expectations.
  An empty table counts one failed record for 完整性; a dataset without a usable suite
  (``quality.suite.*``) one failed element for 规范性.
- 时效性: 1/1 when the patrol saw the resource updated within its 更新周期 that date, 0/1 when it
  reported ``patrol.timeliness.*``; not evaluated when the patrol did not reach the resource.
- 可访问性: 1/1 when the patrol (and the quality run) could read the resource, 0/1 when not or when the
  patrol or the census reported it unreachable, missing or unreadable.

Every other finding stored for the entry and date, whatever its origin (patrol, census, quality,
backflow, catalog import), takes a **penalty** off the dimensions its rule counts against
(:attr:`ScoringPolicy.rule_penalties`: by default the rule's own dimension from
:data:`citygov.findings.RULES` and a share by its severity, :data:`SEVERITY_PENALTIES`; a declared column
that is missing counts against 完整性 as well as 规范性): the dimension's value is
``X × (1 − min(1, Σ penalties))``, X = 1 when nothing measured the dimension (the finding is then its only
evidence). Findings already counted in X (failed expectations, the timeliness and accessibility facts,
:data:`MEASURED_RULES`) take no penalty.

A dimension nobody evaluated has no value and its weight is left out (the others are renormalised), so
the score is ``100 * Σ w·value / Σ w`` over the evaluated dimensions. Grades: 优秀 ≥ 90, 良好 ≥ 80,
合格 ≥ 60, else 不合格. An **open high-severity finding** (one stored with severity ``high`` for the entry
and date, by any origin) caps the score just below the 良好 band (79.99: at best 合格), and the card's
notes say which finding. A department's score is the mean of its datasets' scores, the city's the mean
of all datasets' scores. Weights, grade bands, penalties and the cap are a local setting
(:func:`load_policy`).

A dataset whose validation did not run (its source unreadable, the engine failed, no expectation could
be evaluated), or that no dimension could be evaluated for, is **not scored**: status
:data:`NOT_SCORED` with the reason, no score and no grade. It is never counted as any score in a
department's or the city's mean; rollups count it apart (``not_scored``).

Scores are computed from the store alone (:func:`rescore`: the date's quality runs, check results,
patrol observations and findings), so recomputing a past date gives the same card, and findings stored
after the quality inspection (backflow, catalog import) reach the score when the dispute routing that
follows them rescores the dates they changed (:func:`rescore_stale`).
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

from sqlalchemy import Engine, delete, func, select

from citygov.findings import RULES, Dimension, Severity
from citygov.store import session_scope
from citygov.store.models import CheckResult, DatasetScore, Finding, PatrolObservation, QualityRun

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
"""A JSON file (or inline JSON) with ``weights`` (dimension → weight), and optional ``grades``,
``severity_penalties`` (severity → share), ``rules`` (rule id → {dimension → share}) and ``cap_below``
(a grade name, or null for no cap)."""

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

UNREACHABLE_RULES = frozenset({
    "patrol.source.unreachable", "patrol.resource.missing", "patrol.resource.unreadable",
    "census.source_unreachable", "census.resource_missing", "census.resource_unreadable",
})
"""Findings that make 可访问性 0/1 for the date."""

MEASURED_RULES: dict[str, str] = {
    **{rule: "可访问性 0/1" for rule in sorted(UNREACHABLE_RULES)},
    "patrol.timeliness.stale": "时效性 0/1",
    "quality.suite.missing": "规范性: one failed element",
    "quality.suite.invalid": "规范性: one failed element",
    "quality.validation.not_run": "not scored",
}
"""Rules counted in a dimension's A/B (or that leave the dataset unscored), never as a penalty. Failed
expectations (origin ``quality``, rule id = expectation type) are counted by their failing rows."""

SEVERITY_PENALTIES: dict[Severity, float] = {Severity.HIGH: 0.3, Severity.MEDIUM: 0.1, Severity.LOW: 0.05}
"""Share of a dimension's value one finding takes off, by the rule's severity (a finding of a rule the
policy does not name: by its stored severity)."""

ALSO_COUNTS_AGAINST: dict[str, tuple[Dimension, ...]] = {
    # A declared column that is gone is missing content as well as a schema drift.
    "patrol.schema.missing_column": (Dimension.COMPLETENESS,),
}
"""Dimensions a rule's findings count against besides the rule's own."""


def default_rule_penalties() -> dict[str, dict[Dimension, float]]:
    """Every rule of :data:`citygov.findings.RULES` not measured otherwise: its own dimension (and
    :data:`ALSO_COUNTS_AGAINST`) with the share of its severity."""
    out: dict[str, dict[Dimension, float]] = {}
    for rule in RULES.values():
        if rule.rule_id in MEASURED_RULES:
            continue
        share = SEVERITY_PENALTIES[rule.severity or Severity.MEDIUM]
        out[rule.rule_id] = {d: share for d in (rule.dimension, *ALSO_COUNTS_AGAINST.get(rule.rule_id, ()))}
    return out


def validation_not_run(status: str, error: str | None) -> str | None:
    """Why a dataset with this quality run status cannot be scored, or None (it can)."""
    if status in {"unreachable", "error"}:
        return f"validation did not run ({status}): {error or 'no reason recorded'}"
    return None


@dataclass(frozen=True)
class ScoringPolicy:
    """Weights per dimension, grade bands, what each finding takes off, and the high-severity cap."""

    weights: Mapping[Dimension, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    grades: tuple[tuple[float, str], ...] = DEFAULT_GRADES
    rule_penalties: Mapping[str, Mapping[Dimension, float]] = field(default_factory=default_rule_penalties)
    """Rule id → dimension → share of the dimension's value each finding of the rule takes off."""
    severity_penalties: Mapping[Severity, float] = field(default_factory=lambda: dict(SEVERITY_PENALTIES))
    """The share for a finding of a rule not in ``rule_penalties``, on its stored dimension."""
    cap_below: str | None = "良好"
    """An open high-severity finding keeps the score below this grade's band (None: no cap)."""

    def grade(self, score: float) -> str:
        for bound, name in sorted(self.grades, reverse=True):
            if score >= bound:
                return name
        return self.grades[-1][1]

    @property
    def cap(self) -> float | None:
        """The highest score a dataset with an open high-severity finding can get."""
        if self.cap_below is None:
            return None
        bound = next((b for b, name in self.grades if name == self.cap_below), None)
        if bound is None:
            raise ValueError(f"scoring policy: cap_below {self.cap_below!r} is not a grade; use one of "
                             f"{', '.join(n for _, n in self.grades)} or null")
        return round(bound - 0.01, 2)

    def penalties(self, rule_id: str, dimension: Dimension | None, severity: Severity) -> dict[Dimension, float]:
        """What one finding of ``rule_id`` takes off, per dimension (``dimension`` and ``severity``: the
        finding's own, used for a rule the policy does not name)."""
        if rule_id in self.rule_penalties:
            return dict(self.rule_penalties[rule_id])
        return {dimension or Dimension.CONFORMITY: self.severity_penalties.get(severity, 0.0)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": {d.value: w for d, w in self.weights.items()},
            "grades": [list(g) for g in self.grades],
            "severity_penalties": {s.value: p for s, p in self.severity_penalties.items()},
            "rules": {r: {d.value: p for d, p in dims.items()} for r, dims in sorted(self.rule_penalties.items())},
            "cap_below": self.cap_below,
        }


def _dimension(key: str) -> Dimension:
    try:
        return Dimension(key) if key in Dimension._value2member_map_ else Dimension[key.upper()]
    except KeyError:
        raise ValueError(f"scoring policy: unknown dimension {key!r}; use {', '.join(d.value for d in Dimension)}") from None


def _share(value: Any, what: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(f"scoring policy: {what} must be a share between 0 and 1, not {value!r}")
    return share


def load_policy(source: str | Path | None = None) -> ScoringPolicy:
    """The scoring policy from ``source`` (a JSON file or JSON text), else ``$CITYGOV_QUALITY_POLICY``,
    else the defaults. Weights may be given for some dimensions only; they need not sum to 1. ``rules``
    replaces the named rules' penalties (``{"patrol.grading.inconsistent": {"一致性": 0.5}}``); the
    other rules keep theirs."""
    raw = source if source is not None else os.environ.get(POLICY_ENV)
    if not raw:
        return ScoringPolicy()
    text = str(raw)
    data = json.loads(text) if text.lstrip().startswith("{") else json.loads(Path(text).read_text(encoding="utf-8"))
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in (data.get("weights") or {}).items():
        if float(value) < 0:
            raise ValueError(f"scoring policy: weight of {key} must not be negative")
        weights[_dimension(key)] = float(value)
    grades = tuple((float(b), str(n)) for b, n in data.get("grades") or DEFAULT_GRADES)
    severities = dict(SEVERITY_PENALTIES)
    for key, value in (data.get("severity_penalties") or {}).items():
        try:
            severities[Severity(key)] = _share(value, f"severity_penalties.{key}")
        except ValueError as exc:
            if "share" in str(exc):
                raise
            raise ValueError(f"scoring policy: unknown severity {key!r}; use high, medium or low") from None
    rules = default_rule_penalties()
    for rule_id, dims in (data.get("rules") or {}).items():
        if not isinstance(dims, dict):
            raise ValueError(f"scoring policy: rules.{rule_id} must map dimensions to shares, e.g. {{\"规范性\": 0.1}}")
        rules[rule_id] = {_dimension(k): _share(v, f"rules.{rule_id}.{k}") for k, v in dims.items()}
    if "cap_below" in data:
        cap_below = data["cap_below"]
    else:  # the default, 良好, or with other bands the second-best: an open high finding keeps off the top two
        bands = [n for _, n in sorted(grades, reverse=True)]
        cap_below = "良好" if "良好" in bands else (bands[1] if len(bands) > 1 else None)
    policy = ScoringPolicy(
        weights=weights, grades=grades, rule_penalties=rules, severity_penalties=severities, cap_below=cap_below
    )
    policy.cap  # noqa: B018 - a cap_below that is not a grade is an error now, not at scoring time
    return policy


@dataclass(frozen=True)
class ScoredFinding:
    """What scoring needs from one stored finding of the entry and date."""

    origin: str
    rule_id: str
    severity: Severity = Severity.MEDIUM
    dimension: Dimension | None = None
    """The dimension stored with the finding (used for a rule the policy does not name)."""
    column: str | None = None

    @property
    def label(self) -> str:
        return f"{self.rule_id}({self.column})" if self.column else self.rule_id

    @property
    def counted_in_rows(self) -> bool:
        """A failed expectation: its failing rows are already in its dimension's A/B."""
        return self.origin == "quality" and self.rule_id not in RULES


@dataclass(frozen=True)
class Penalty:
    """What one finding took off one dimension."""

    finding: ScoredFinding
    share: float

    def to_dict(self) -> dict[str, Any]:
        f = self.finding
        return {"rule_id": f.rule_id, "origin": f.origin, "severity": f.severity.value, "column": f.column,
                "penalty": self.share}


@dataclass
class DimensionRatio:
    """One dimension of one dataset: the measured X = A/B, and what findings took off it."""

    dimension: Dimension
    passed: int = 0
    """A: elements that met the rules."""
    evaluated: int = 0
    """B: elements evaluated."""
    sources: list[str] = field(default_factory=list)
    """What was counted: expectation types (with columns) or patrol facts."""
    penalties: list[Penalty] = field(default_factory=list)
    """The findings that moved this dimension, each with its share."""

    @property
    def measured(self) -> float | None:
        """X = A/B, None when nothing measured the dimension."""
        return self.passed / self.evaluated if self.evaluated else None

    @property
    def penalty(self) -> float:
        return min(1.0, sum(p.share for p in self.penalties))

    @property
    def ratio(self) -> float | None:
        """The dimension's value: X × (1 − penalty); 1 − penalty when only findings evaluated it."""
        base = self.measured
        if base is None:
            if not self.penalties:
                return None
            base = 1.0
        return base * (1.0 - self.penalty)

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
    uncapped: float | None = None
    """The score before the high-severity cap."""
    cap: dict[str, Any] | None = None
    """Set when an open high-severity finding capped the score: the limit and the findings."""

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
                d.value: {
                    "passed": r.passed, "evaluated": r.evaluated, "measured": _round(r.measured),
                    "penalty": _round(r.penalty), "ratio": _round(r.ratio), "sources": r.sources,
                    "findings": [p.to_dict() for p in r.penalties],
                }
                for d, r in self.ratios.items()
            },
            "weights_applied": {d.value: w for d, w in self.weights_applied.items()},
            "formula": "score = 100 × Σ(w·value) / Σ(w) over evaluated dimensions; value = X × (1 − Σ penalties), "
                       "X = A/B (1 when only findings evaluated the dimension); capped when a high-severity "
                       "finding is open",
            "uncapped": self.uncapped,
            "cap": self.cap,
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
    findings: Iterable[ScoredFinding] = (),
    policy: ScoringPolicy | None = None,
    not_scored: str | None = None,
) -> ScoreCard:
    """Score one dataset from its expectation counts, the patrol's view of it and every finding stored
    for it that date (see module docstring).

    ``readable`` is whether the quality run could read the resource (None: not attempted);
    ``patrol_reachable`` whether the patrol reached it that date (None: the patrol did not look);
    ``findings`` the findings of every origin for the entry and date; ``not_scored`` why the dataset's
    validation did not run, when it did not: the card then has the ratios that were observed but no
    score and no grade.
    """
    policy = policy or ScoringPolicy()
    ratios = {d: DimensionRatio(d) for d in Dimension}
    notes: list[str] = []
    findings = sorted(findings, key=lambda f: (f.rule_id, f.column or "", f.origin))
    for c in checks:
        if c.evaluated:
            ratios[c.dimension].add(c.evaluated - c.unexpected, c.evaluated, c.label)
    if row_count == 0:
        ratios[Dimension.COMPLETENESS].add(0, 1, "empty resource: no records")
        notes.append("资源为空 the resource holds no records")
    rules = {f.rule_id for f in findings}
    if patrol_reachable:
        stale = sorted(r for r in rules if r.startswith("patrol.timeliness."))
        ratios[Dimension.TIMELINESS].add(0 if stale else 1, 1, ", ".join(stale) or "patrol: updated within 更新周期")
    unreachable = sorted(rules & UNREACHABLE_RULES)
    facts = [v for v in (patrol_reachable, readable) if v is not None]
    if facts or unreachable:
        accessible = all(facts) and not unreachable
        ratios[Dimension.ACCESSIBILITY].add(
            1 if accessible else 0, 1, "readable" if accessible else ", ".join(unreachable) or "unreachable or missing"
        )
    for f in findings:
        if f.counted_in_rows or f.rule_id in MEASURED_RULES or f.rule_id.startswith("patrol.timeliness."):
            continue
        for dim, share in policy.penalties(f.rule_id, f.dimension, f.severity).items():
            if share > 0:
                ratios[dim].penalties.append(Penalty(f, share))
    applied = {d: policy.weights.get(d, 0.0) for d, r in ratios.items() if r.ratio is not None and policy.weights.get(d, 0.0) > 0}
    total = sum(applied.values())
    if not total and not not_scored:
        not_scored = "没有可评价的维度 no dimension could be evaluated"
    if not_scored:
        notes.append(f"未评分 not scored: {not_scored}")
        return ScoreCard(entry_code, department, logical_date, ratios, None, None, {}, notes, not_scored)
    uncapped = round(100 * sum(w * (ratios[d].ratio or 0.0) for d, w in applied.items()) / total, 2)
    score, cap = uncapped, None
    high = [f.label for f in findings if f.severity is Severity.HIGH]
    limit = policy.cap
    if high and limit is not None:
        cap = {"limit": limit, "findings": high}
        if uncapped > limit:
            score = limit
            notes.append(
                f"封顶 capped at {limit:.2f} (was {uncapped:.2f}): 存在未关闭的高严重度问题 an open high-severity "
                f"finding: {', '.join(high)}"
            )
    return ScoreCard(entry_code, department, logical_date, ratios, score, policy.grade(score), applied, notes,
                     uncapped=uncapped, cap=cap)


# --- store -------------------------------------------------------------------------------------------------


def rescore(
    engine: Engine, logical_date: date, codes: Sequence[str] | None = None, policy: ScoringPolicy | None = None
) -> list[ScoreCard]:
    """Score the datasets inspected on ``logical_date`` (or only ``codes``) from what the store holds for
    that date, and store the cards (replacing that date's).

    The inputs are the date's quality runs and check results, patrol observations and the findings of
    every origin for the entries: the same store gives the same cards, for any past date. A dataset with
    no quality run that date has no score for it. ``policy`` defaults to :func:`load_policy`.
    """
    policy = policy or load_policy()
    # Stamped with when the inputs were read, not written: a finding stored meanwhile is newer than the
    # score and rescore_stale takes the date again.
    read_at = datetime.now(UTC)
    with session_scope(engine) as session:
        query = select(QualityRun).where(QualityRun.logical_date == logical_date).order_by(QualityRun.entry_code)
        runs: list[QualityRun] = []
        if codes is None:
            runs = list(session.scalars(query))
        else:
            wanted = list(dict.fromkeys(codes))
            for start in range(0, len(wanted), 500):
                runs += session.scalars(query.where(QualityRun.entry_code.in_(wanted[start : start + 500])))
        runs.sort(key=lambda r: r.entry_code)
        entry_codes = [r.entry_code for r in runs]
        checks: dict[int, list[CheckCount]] = defaultdict(list)
        reachable: dict[str, bool] = {}
        found: dict[str, list[ScoredFinding]] = defaultdict(list)
        ids = [r.id for r in runs]
        for start in range(0, len(ids), 500):
            for c in session.scalars(
                select(CheckResult).where(CheckResult.run_id.in_(ids[start : start + 500]))
                .order_by(CheckResult.run_id, CheckResult.position, CheckResult.id)
            ):
                if c.error is None and c.evaluated_count:
                    checks[c.run_id].append(
                        CheckCount(Dimension(c.dimension), c.evaluated_count, c.unexpected_count or 0,
                                   f"{c.expectation}({c.column or ''})")
                    )
        for start in range(0, len(entry_codes), 500):
            chunk = entry_codes[start : start + 500]
            reachable.update(session.execute(
                select(PatrolObservation.entry_code, PatrolObservation.reachable).where(
                    PatrolObservation.entry_code.in_(chunk), PatrolObservation.logical_date == logical_date
                )
            ).all())
            for f in session.scalars(
                select(Finding).where(Finding.logical_date == logical_date, Finding.entry_code.in_(chunk))
            ):
                found[f.entry_code].append(ScoredFinding(  # type: ignore[index]
                    f.origin, f.rule_id, _severity(f.severity),
                    Dimension(f.dimension) if f.dimension in Dimension._value2member_map_ else None, f.column,
                ))
        inputs = [
            (r.entry_code, r.department, r.status, r.error, r.rows_evaluated, checks.get(r.id, [])) for r in runs
        ]
    cards: list[ScoreCard] = []
    for code, department, status, error, rows, counts in inputs:
        readable = True if status in {"passed", "failed"} else False if status == "unreachable" else None
        notes: list[str] = []
        if status in {"no_suite", "suite_invalid"}:
            # No usable rules is itself a conformity failure (the quality.suite.* finding), so a dataset
            # nobody wrote rules for cannot rank high on the patrol's two dimensions alone.
            rule = f"quality.suite.{'missing' if status == 'no_suite' else 'invalid'}"
            counts = [*counts, CheckCount(Dimension.CONFORMITY, 1, 1, rule)]
            notes.append("没有可用的质量规则 no usable suite: 规范性 counts it as one failed element; 完整性, 准确性, "
                         "一致性 not evaluated by expectations")
        card = score_dataset(
            code, department, logical_date, counts,
            row_count=rows, readable=readable, patrol_reachable=reachable.get(code),
            findings=found.get(code, ()), policy=policy, not_scored=validation_not_run(status, error),
        )
        card.notes.extend(notes)
        cards.append(card)
    store_scores(engine, cards, policy, computed_at=read_at)
    return cards


def rescore_stale(engine: Engine, policy: ScoringPolicy | None = None) -> list[date]:
    """Rescore every date holding a finding stored after that date's scores were computed (the backflow's
    and the catalog import's findings come after the quality inspection); returns the dates rescored."""
    scored = (
        select(DatasetScore.logical_date.label("day"), func.min(DatasetScore.computed_at).label("at"))
        .group_by(DatasetScore.logical_date)
        .subquery()
    )
    with session_scope(engine) as session:
        days = sorted(session.scalars(
            select(Finding.logical_date).distinct()
            .join(scored, scored.c.day == Finding.logical_date)
            .where(Finding.entry_code.is_not(None), Finding.created_at > scored.c.at)
        ))
    for day in days:
        rescore(engine, day, policy=policy)
    return days


def _severity(value: str | None) -> Severity:
    return Severity(value) if value in Severity._value2member_map_ else Severity.MEDIUM


def store_scores(
    engine: Engine, cards: Iterable[ScoreCard], policy: ScoringPolicy | None = None, *, computed_at: datetime | None = None
) -> int:
    """Store score cards, replacing the same entries' scores of the same date (history of other dates kept).
    ``computed_at`` (default now): when the cards' inputs were read."""
    policy = policy or ScoringPolicy()
    cards = list(cards)
    now = computed_at or datetime.now(UTC)
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
