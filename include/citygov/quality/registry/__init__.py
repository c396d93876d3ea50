"""The quality rules: one module per rule (or family), each the one definition of its expectation types.

A rule module declares ``RULES``, a tuple of :class:`ExpectationRule`: the expectation type (which is
the rule id findings are stored under), its words (中文 and English title, how to fix), its GB/T 36344
dimension, and its forms —

- ``problem``: the per-value (or per-pair) Python check, returning None or a reason code, with the
  reason codes' words in ``reasons``;
- ``compile``: what the engine runs for one expectation (:class:`CheckForms`: the SQL condition built
  with :mod:`citygov.quality.sqlcond`, the pandas condition, an optional vectorized fast accept over
  :class:`citygov.quality.vector.TextColumn`, and the failing row's reason). A rule without it is run
  by GX's own engine;
- ``gx``: how :mod:`citygov.quality.expectations` generates the GX ``Expectation`` and
  ``MetricProvider`` classes (their partials call ``problem`` and the SQL form, nothing is re-declared);
- its drafting heuristic, which :func:`citygov.quality.drafting.draft_suite` asks: ``draft`` for a column of
  its identifier kind (``draft_kind``), ``draft_plain`` for a column of no kind (division codes, dates),
  ``draft_pair`` for an ID-number column beside another (the consistency rules).

Modules are found by listing this package: adding a rule is adding a module (README, "Extending").
Nothing here imports GX, so :mod:`citygov.rulebook` (pages) reads the words cheaply.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from citygov.catalog.schema import ColumnType
from citygov.findings import Dimension, Rule

HIGH_SHARE = 0.10
"""A failed expectation is of high severity when at least this share of the evaluated rows fails, else medium."""

LOGICAL_DATE = {"$PARAMETER": "logical_date"}
"""A suite parameter filled with the run's logical date (``as_of``, ``reference_date``)."""

SqlCondition = Callable[[Sequence[Any], str], Any]
"""``(columns as SQLAlchemy elements, dialect name) -> the expected condition`` (true for a good row)."""


@dataclass(frozen=True)
class CheckForms:
    """What the engine runs for one expectation (:func:`citygov.quality.checks.compile_check`)."""

    kind: str
    """``map`` (one column), ``pair``, ``unique``, ``compound_unique``, ``ref``, ``table`` or ``gx``
    (GX's own engine runs it)."""
    columns: tuple[str, ...] = ()
    sql: SqlCondition | None = None
    """The *expected* condition over ``columns`` (True for a good row)."""
    pandas: Callable[[Sequence[Any]], Any] | None = None
    """The expected condition over a chunk's ``columns`` as pandas Series."""
    vector: Callable[[Sequence[Any]], Any] | None = None
    """A vectorized *fast accept* over :class:`~citygov.quality.vector.TextColumn` s: True only for
    values the rule certainly accepts; the rest go to ``pandas``."""
    explain: Callable[[Sequence[Any]], str | None] | None = None
    """The reason code of one failing row's values over ``columns``."""
    filter_nulls: bool = True
    """``map`` only: whether NULLs are left out (GX's ``filter_column_isnull``)."""
    ignore_row_if: str = "both_values_are_missing"
    """``pair``/``compound_unique``: which rows with NULLs are not evaluated."""


@dataclass(frozen=True)
class Param:
    """A parameter of a custom expectation (a pydantic field of the generated GX class)."""

    name: str
    default: Any = None
    kind: str = "bool"
    """``bool``; ``date`` (a date or a suite parameter, may be None); ``required_date`` (a date or a
    suite parameter, required); ``values`` (a list of strings or None)."""


@dataclass(frozen=True)
class GxForm:
    """How the GX classes of a custom expectation are generated (:mod:`citygov.quality.expectations`)."""

    class_name: str
    """``ExpectColumnValuesToBeValidBankcard``: GX names the type after it (snake case)."""
    metric: str
    """The condition metric, ``column_values.citygov_valid_bankcard``."""
    sentence: str
    """The Data Docs sentence (``$column`` and parameters are filled by GX)."""
    doc: str
    tags: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    args: tuple[str, ...] = ("column",)
    """Positional arguments of the expectation (GX's ``args_keys``); ``column_A, column_B`` for a pair."""
    every_row: bool = False
    """NULLs are evaluated too (like ``expect_column_values_to_not_be_null``), not left out."""
    written_out: bool = False
    """The classes are written out in :mod:`citygov.quality.expectations` (their GX partials need more
    than the rule's forms: another table), not generated."""


@dataclass(frozen=True)
class Proposal:
    """A rule proposed for a column by a drafting heuristic."""

    kwargs: dict[str, Any]
    """The expectation's arguments besides ``column``."""
    why: str
    support: tuple[int, int] | None = None
    """(values that keep the rule, values looked at) in the sample."""
    other_mask: str | None = None
    """A pair rule's: how a sensitive dataset masks ``column_B`` in samples (``birthdate``)."""


@dataclass(frozen=True)
class PlainColumn:
    """A column no identifier kind names, as a drafting heuristic sees it."""

    name: str
    declared: ColumnType
    """Its 信息项 type (or the profile's guess when the catalog does not declare it)."""
    present: Sequence[Any]
    """Its sampled non-empty values; empty when no data could be profiled (catalog only)."""
    kind_min: float
    """Share of values that must look like the rule's kind (:class:`citygov.quality.drafting.DraftPolicy`)."""
    rows: int = 0
    """Rows profiled (the whole table, not only the sample)."""
    distinct: int = 0
    blanks: int = 0
    """Values of only spaces in the profile."""
    enum_counts: Mapping[str, int] = field(default_factory=dict)
    """Each value's rows when the column has few distinct values (the profile's enumeration), else empty."""
    value_set_max_distinct: int = 12
    """At most this many distinct values make a text column a code column (DraftPolicy)."""
    value_set_rare: float = 0.01
    """A value held by fewer than this share of rows is left out of a value set (DraftPolicy)."""


@dataclass(frozen=True)
class IdPair:
    """An ID-number column and another column of no identifier kind, as a pair rule's drafting heuristic
    sees them (the two samples are of the same rows)."""

    id_column: str
    id_sample: Sequence[Any]
    name: str
    sample: Sequence[Any]
    pair_min: float
    """Share of the judged rows that must agree (:class:`citygov.quality.drafting.DraftPolicy`)."""


@dataclass(frozen=True)
class ExpectationRule:
    """One expectation type: its words, dimension and forms (see the module docstring)."""

    type: str
    dimension: Dimension
    title_zh: str
    title_en: str
    fix: str
    compile: Callable[[Any], CheckForms] | None = None
    """The engine's forms for one (parameter-substituted) expectation; None: GX's own engine runs it."""
    problem: Callable[..., str | None] | None = None
    """The per-value check: None for a good value, else a reason code (``reasons`` has its words)."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Words of each ``<prefix>.<reason code>`` (or own code) a failing row can have; ``{…}`` are
    filled from the row's detail (:func:`citygov.quality.rules.reason_words`)."""
    gx: GxForm | None = None
    """Set for citygov's own expectations (generated GX classes); None for GX's built-in ones."""
    draft_kind: str | None = None
    """The column kind (:func:`citygov.identifiers.detect_kind`) this rule is drafted for."""
    draft: Callable[[Sequence[Any]], Proposal | None] | None = None
    """Drafting heuristic for a column of ``draft_kind``: the sampled non-empty values -> a proposal."""
    draft_plain: Callable[[PlainColumn], Proposal | None] | None = None
    """Drafting heuristic for a column of no identifier kind, asked in ``draft_rank`` order: the domain
    rules' first (division codes, dates), then the built-in GX types' (non-negative numbers, value sets,
    fixed-length codes; :mod:`citygov.quality.registry.builtin`); the first proposal is the column's rule."""
    draft_rank: int = 0
    draft_pair: Callable[[IdPair], Proposal | None] | None = None
    """Drafting heuristic for an ID-number column beside another column (consistency rules)."""

    @property
    def rule(self) -> Rule:
        """The rule as every other rule is described (:func:`citygov.rulebook.describe`)."""
        return Rule(self.type, self.dimension, None, self.title_zh, self.title_en, self.fix)


@functools.cache
def _rules() -> dict[str, ExpectationRule]:
    found: dict[str, ExpectationRule] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for rule in module.RULES:
            if rule.type in found:
                raise RuntimeError(f"expectation type {rule.type} is defined twice ({module.__name__})")
            found[rule.type] = rule
    return found


def all_rules() -> list[ExpectationRule]:
    """Every registered expectation type, by module name."""
    return list(_rules().values())


def rule_for(expectation_type: str | None) -> ExpectationRule | None:
    """The rule of an expectation type; None for a type no module registers (GX still runs it)."""
    return _rules().get(expectation_type or "")


def label(expectation_type: str | None) -> str:
    """``身份证号码无效 invalid resident ID number``: the type's title as queues and pages show it (as
    :attr:`citygov.rulebook.RuleText.label`); an unknown type is titled by itself."""
    rule = rule_for(expectation_type)
    return f"{rule.title_zh} {rule.title_en}" if rule is not None else (expectation_type or "-")


def plain_drafters() -> list[ExpectationRule]:
    """The rules with a heuristic for columns of no identifier kind, in the order they are asked."""
    return sorted((r for r in _rules().values() if r.draft_plain is not None), key=lambda r: r.draft_rank)


def pair_drafters() -> list[ExpectationRule]:
    """The rules with a heuristic for an ID-number column beside another column."""
    return [r for r in _rules().values() if r.draft_pair is not None]


def native_types() -> tuple[str, ...]:
    """Expectation types the engine computes itself (a ``compile`` form); GX runs the others."""
    return tuple(t for t, r in _rules().items() if r.compile is not None)


def reasons() -> dict[str, str]:
    """The words of every reason code of every rule."""
    out: dict[str, str] = {}
    for rule in _rules().values():
        out.update(rule.reasons)
    return out


# --- helpers the rule modules build their forms with ---------------------------------------------------


def explain(prefix: str, problem: Callable[..., str | None], **kw: Any) -> Callable[[Sequence[Any]], str | None]:
    """A row's reason code from the rule's own check: ``<prefix>.<code>`` (``ric.check_char``)."""

    def code(values: Sequence[Any]) -> str | None:
        found = problem(*values, **kw)
        return None if found is None else f"{prefix}.{found}"

    return code


def map_forms(
    e: Any,
    prefix: str,
    problem: Callable[..., str | None],
    sql: Callable[..., Any],
    *,
    vector: Callable[[Sequence[Any]], Any] | None = None,
    **kw: Any,
) -> CheckForms:
    """The forms of a one-column rule: ``sql(column, dialect, **kw)``, ``problem(value, **kw)`` as the
    pandas condition and the reason, an optional fast accept."""

    def pandas(cols: Sequence[Any]) -> Any:
        return cols[0].map(lambda v: problem(v, **kw) is None).astype(bool)

    return CheckForms(
        "map", (e.column,), lambda c, d: sql(c[0], d, **kw), pandas, vector, explain(prefix, problem, **kw),
    )


def pair_forms(e: Any, prefix: str, problem: Callable[..., str | None], sql: Callable[..., Any], **kw: Any) -> CheckForms:
    """The forms of a column-pair rule: ``sql(a, b, dialect, **kw)`` and ``problem(a, b, **kw)``."""

    def pandas(cols: Sequence[Any]) -> Any:
        import pandas as pd

        a, b = cols
        return pd.Series([problem(x, y, **kw) is None for x, y in zip(a, b, strict=True)], index=a.index, dtype=bool)

    return CheckForms(
        "pair", (e.column_A, e.column_B), lambda c, d: sql(c[0], c[1], d, **kw), pandas,
        explain=explain(prefix, problem, **kw), ignore_row_if=e.ignore_row_if,
    )


def column_rule(
    prefix: str, problem: Callable[..., str | None], sql: Callable[..., Any], vector: Callable[[Sequence[Any]], Any] | None = None
) -> Callable[[Any], CheckForms]:
    """``compile`` of a one-column rule without parameters (:func:`map_forms`)."""
    return lambda e: map_forms(e, prefix, problem, sql, vector=vector)


def support(values: Sequence[Any], problem: Callable[[Any], str | None]) -> tuple[int, int]:
    """(values the check finds no problem with, values) of a drafting sample."""
    return sum(1 for v in values if problem(v) is None), len(values)


def share(evidence: tuple[int, int]) -> float:
    """The share of a (satisfied, of) drafting evidence; 0 for no values."""
    return evidence[0] / evidence[1] if evidence[1] else 0.0


def draft_valid(problem: Callable[[Any], str | None], words: str, **kwargs: Any) -> Callable[[Sequence[Any]], Proposal]:
    """The drafting heuristic of an identifier rule: proposed (with ``kwargs``) for every column of its
    kind, strict, with the share of the sampled values it finds valid as the evidence."""

    def draft(values: Sequence[Any]) -> Proposal:
        s = support(values, problem)
        return Proposal(dict(kwargs), f"{words}: {s[0]} of {s[1]} sampled valid", s)

    return draft
