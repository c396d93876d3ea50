"""A suite's expectations compiled for the engine: one :class:`Check` per expectation, from its rule.

:func:`compile_check` asks the rule registry (:mod:`citygov.quality.registry`) for the forms of an
expectation type; a type without forms (or with a ``row_condition``) runs through GX's own engine. The
streaming engine (:mod:`citygov.quality.stream`: tables and files), the fused SQL
(:mod:`citygov.quality.tables`), the vectorized verdicts (:mod:`citygov.quality.vector`) and the backflow
row checks all run these checks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from citygov.quality import registry
from citygov.quality.cells import text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sqlalchemy.sql.elements import ColumnElement

SAMPLE_SIZE = 20
"""Failing values kept per expectation (GX's ``partial_unexpected_count``); masked before storing."""
REF_BATCH = 1000
"""Distinct values looked up in a base table per query."""

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}

BaseLookup = Callable[[str, str, list[Any]], set[Any]]
"""``(base_entry, base_column, values) -> the values that exist there``: how referential checks reach
a base table in another database or file (the runner provides it from the catalog)."""


class ValidationError(RuntimeError):
    """The suite could not be run at all (table missing, file unreadable); a finding, not a crash."""


@dataclass(frozen=True)
class RowSample:
    """One failing row as read from the source: raw values, so the runner masks it before anything keeps it."""

    key: tuple[Any, ...] | None
    """The row's values of the dataset's key columns; None when the source has no key column."""
    values: tuple[Any, ...]
    """The row's values of the check's columns."""
    problem: str
    """Why it fails, as a code (``ric.check_char``, ``duplicate``: :func:`citygov.quality.registry.reasons`)."""
    detail: dict[str, Any]
    """What the words need besides the masked values (``count`` of a duplicate, ``length``)."""


@dataclass
class Check:
    """One expectation of the suite, compiled for the fused path."""

    expectation: Any
    """The GX expectation with suite parameters substituted."""
    kind: str
    """``map`` (one column), ``pair``, ``unique``, ``compound_unique``, ``ref``, ``table`` or ``gx``."""
    columns: tuple[str, ...] = ()
    sql: Callable[[Sequence[ColumnElement[Any]], str], ColumnElement[bool]] | None = None
    """The *expected* condition over ``columns`` (True for a good row)."""
    pandas: Callable[[Sequence[pd.Series]], pd.Series] | None = None
    """The expected condition over the chunk's ``columns`` as Series."""
    vector: Callable[[Sequence[Any]], np.ndarray] | None = None
    """A vectorized *fast accept* over ``columns`` as :class:`~citygov.quality.vector.TextColumn`: True only for values the rule
    certainly accepts; :func:`vector_expected` judges every other value with ``pandas`` (the rule itself)."""
    filter_nulls: bool = True
    """``map`` only: whether NULLs are left out (GX's ``filter_column_isnull``)."""
    ignore_row_if: str = "both_values_are_missing"
    """``pair``/``compound_unique``: which rows with NULLs are not evaluated."""
    # results
    unexpected: int = 0
    evaluated: int = 0
    """Rows evaluated: non-NULL rows (``map``), rows left after ``ignore_row_if`` (pair, compound)."""
    samples: list[Any] = field(default_factory=list)
    """Failing values (GX's ``partial_unexpected_list``)."""
    rows: list[RowSample] = field(default_factory=list)
    """Failing rows with their record key and problem (GX's ``partial_unexpected_index_list``)."""
    explain: Callable[[Sequence[Any]], str | None] | None = None
    """The problem code of one failing row's values over ``columns`` (:func:`citygov.quality.registry.reasons`)."""
    error: str | None = None
    _config: Any = None

    def problem(self, values: Sequence[Any]) -> str:
        """Why a failing row fails, as a code; ``unexpected`` when the check cannot say."""
        return (self.explain(values) if self.explain is not None else None) or "unexpected"

    def add_row(self, key: Sequence[Any] | None, values: Sequence[Any], **detail: Any) -> None:
        """Keep one failing row (its values and key as read: raw until the runner masks them)."""
        values = tuple(values)
        problem = self.problem(values)
        if problem == "length" and values[0] is not None:
            detail.setdefault("length", len(str(values[0])))  # the raw length: a masked value may not keep it
        self.rows.append(RowSample(None if key is None else tuple(key), values, problem, detail))

    @property
    def config(self) -> Any:
        """The expectation's GX configuration (computing it is not free: kept once)."""
        if self._config is None:
            self._config = self.expectation.configuration
        return self._config

    @property
    def type(self) -> str:
        return self.config.type

    @property
    def config_kwargs(self) -> dict[str, Any]:
        return dict(self.config.kwargs)

    @property
    def map_metric(self) -> str | None:
        return getattr(self.expectation, "map_metric", None)

def compile_check(e: Any) -> Check:
    """Compile one (parameter-substituted) expectation from its rule's forms; unknown types run in GX."""
    if getattr(e, "row_condition", None):
        return Check(e, "gx")  # conditional expectations: GX's own row_condition parsing
    rule = registry.rule_for(e.expectation_type)
    if rule is None or rule.compile is None:
        return Check(e, "gx", tuple(c for c in (getattr(e, "column", None),) if c))
    forms = rule.compile(e)
    return Check(
        e, forms.kind, forms.columns, sql=forms.sql, pandas=forms.pandas, vector=forms.vector,
        filter_nulls=forms.filter_nulls, ignore_row_if=forms.ignore_row_if, explain=forms.explain,
    )


def native_types() -> tuple[str, ...]:
    """Expectation types computed here rather than by GX's engine (every rule with a compile form)."""
    return registry.native_types()


# --- suite parameters --------------------------------------------------------------------------------------


def substitute(expectation: Any, parameters: Mapping[str, Any]) -> Any:
    """A copy of ``expectation`` with ``{"$PARAMETER": name}`` kwargs replaced by ``parameters[name]``."""
    if not any(isinstance(v, dict) and "$PARAMETER" in v for v in vars(expectation).values()):
        return expectation
    config = expectation.configuration
    kwargs = copy.deepcopy(dict(config.kwargs))
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$PARAMETER" in value:
            name = value["$PARAMETER"]
            if name not in parameters:
                raise ValidationError(f"{config.type}: suite parameter {name!r} was not given")
            kwargs[key] = parameters[name]
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return ExpectationConfiguration(
        type=config.type, kwargs=kwargs, meta=config.meta, id=config.id, notes=config.notes
    ).to_domain_obj()


def present_keys(key_columns: Sequence[str], available: Collection[str]) -> list[str]:
    """The key columns when the source has every one of them, else none."""
    keys = [k for k in key_columns if k]
    return keys if keys and all(k in available for k in keys) else []


# --- uniqueness and references, as every engine counts them ------------------------------------------------


def uniqueness_columns(check: Check) -> tuple[list[str], str]:
    """The columns a uniqueness check compares and which rows it leaves out (GX's ``ignore_row_if``): one
    column's NULLs, or a compound key's rule."""
    if check.kind == "unique":
        return [check.columns[0]], "any_value_is_missing"
    return list(check.columns), check.ignore_row_if


def record_duplicates(check: Check, counts: Mapping[Hashable, int], values: Mapping[Hashable, tuple[Any, ...]],
                      held: Iterable[tuple[Hashable, Sequence[Any] | None]]) -> None:
    """A uniqueness check's result from the rows counted per value (``counts``: a value's identity -> its
    rows; ``values``: identity -> the value as read): every row of a value held more than once is
    unexpected, as GX counts; the first values are the samples, and their first rows among ``held``
    ((identity, key) in reading order) the failing rows."""
    names, _ = uniqueness_columns(check)
    sampled: dict[Hashable, int] = {}
    for ident, n in counts.items():
        if n < 2:
            continue  # a hash collision, not a repeat
        check.unexpected += n
        combo = values[ident]
        value = combo[0] if len(names) == 1 else dict(zip(names, combo, strict=True))
        if len(check.samples) < SAMPLE_SIZE:
            sampled[ident] = n
        check.samples.extend([value] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
    for ident, key in held:
        if ident in sampled and len(check.rows) < SAMPLE_SIZE:
            check.add_row(key, values[ident], count=sampled[ident])


def base_lookup_of(check: Check, base_lookup: BaseLookup | None) -> BaseLookup:
    """The lookup a referential check needs; a :class:`ValidationError` when there is none."""
    if base_lookup is None:
        e = check.expectation
        raise ValidationError(f"no way to reach base table {e.base_entry} for {check.type}")
    return base_lookup


def count_missing(check: Check, batch: Sequence[tuple[Any, int]], lookup: BaseLookup, sampled: dict[Any, int]) -> None:
    """Count the rows of a referential check whose value its base table lacks, for ``batch`` (distinct
    values and their rows, at most :data:`REF_BATCH`); a blank is the not-blank rule's, never looked up.
    The first missing values go to ``sampled`` (value -> rows)."""
    e = check.expectation
    values = [v for v, _ in batch if text(v) != ""]
    found = lookup(e.base_entry, e.base_column, values) if values else set()
    for value, n in batch:
        if text(value) == "" or value in found:
            continue
        check.unexpected += n
        if len(check.samples) < SAMPLE_SIZE:
            sampled[value] = n
        check.samples.extend([value] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
