"""Validate a GX expectation suite against a database table or a file, with GX's own result objects.

Why not ``batch.validate`` for everything: GX's ``SqlAlchemyExecutionEngine`` computes each metric of
each expectation with its own query, which measured 3.1–5.1x the time of one aggregate query that
computes the same metrics (AIRFLOW_NOTES.md). So for the expectations listed in :data:`NATIVE`, this
module compiles the whole suite into

1. **one fused aggregate query** (one table scan): row count, non-NULL count per column and one
   ``SUM(CASE WHEN <unexpected> THEN 1 ELSE 0 END)`` per expectation, using the very SQL conditions the
   custom expectations give GX (:mod:`citygov.quality.sqlcond`);
2. a ``GROUP BY … HAVING COUNT(*) > 1`` per uniqueness expectation, and a grouped read of the distinct
   values per referential-integrity expectation (checked against the base table in batches);
3. for failing expectations only, one streamed query for sample rows, read until every failing
   expectation has its samples (at most one more scan, usually a few pages);

then hands the metrics to each expectation's own ``_validate`` (GX's success, ``mostly`` and
result-format logic) and builds GX ``ExpectationValidationResult`` objects, so results, stores and Data
Docs are GX's. Expectation types outside :data:`NATIVE` run through GX's ``SqlAlchemyExecutionEngine``
unchanged. Files are read in bounded chunks into pandas and checked with the same Python rules the
custom expectations' pandas partials use. Nothing loads a whole table into memory.

Each condition is compiled by SQLAlchemy once per dialect and expectation signature and reused as SQL
text for every table (:class:`_SqlText`); on PostgreSQL the statements run with ``jit = off`` and ISO
``DateStyle``. ``engine="gx"`` (see :func:`validate_table`) runs the suite through GX instead: the
reference the tests compare the fused path to (``bench/quality_bench.py`` times both).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.sql.elements import ColumnElement

from citygov.inventory import ident
from citygov.quality import rules, sqlcond
from citygov.quality.files import CHUNK_ROWS, iter_chunks

log = logging.getLogger(__name__)

SAMPLE_SIZE = 20
"""Failing values kept per expectation (GX's ``partial_unexpected_count``); masked before storing."""
"""Rows of a file held in memory at once."""
REF_BATCH = 1000
"""Distinct values looked up in a base table per query."""

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}

BaseLookup = Callable[[str, str, list[Any]], set[Any]]
"""``(base_entry, base_column, values) -> the values that exist there``: how referential checks reach
a base table in another database or file (the runner provides it from the catalog)."""


class ValidationError(RuntimeError):
    """The suite could not be run at all (table missing, file unreadable); a finding, not a crash."""


# --- compiled checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSample:
    """One failing row as read from the source: raw values, so the runner masks it before anything keeps it."""

    key: tuple[Any, ...] | None
    """The row's values of the dataset's key columns; None when the source has no key column."""
    values: tuple[Any, ...]
    """The row's values of the check's columns."""
    problem: str
    """Why it fails, as a code (``ric.check_char``, ``duplicate``: :data:`citygov.quality.rules.REASONS`)."""
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
    """A vectorized *fast accept* over ``columns`` as :class:`TextColumn`: True only for values the rule
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
    """The problem code of one failing row's values over ``columns`` (:data:`citygov.quality.rules.REASONS`)."""
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


def _in_set_sql(value_set: list[Any]) -> Callable[[Sequence[ColumnElement[Any]], str], ColumnElement[bool]]:
    return lambda cols, d: cols[0].in_(list(value_set))


def _between_sql(e: Any) -> Callable[[Sequence[ColumnElement[Any]], str], ColumnElement[bool]]:
    def cond(cols: Sequence[ColumnElement[Any]], d: str) -> ColumnElement[bool]:
        c = cols[0]
        parts = []
        if e.min_value is not None:
            parts.append(c > e.min_value if e.strict_min else c >= e.min_value)
        if e.max_value is not None:
            parts.append(c < e.max_value if e.strict_max else c <= e.max_value)
        return sa.func.coalesce(sa.and_(*parts), sa.false()) if parts else sa.true()

    return cond


def _between_pandas(e: Any) -> Callable[[Sequence[pd.Series]], pd.Series]:
    def cond(cols: Sequence[pd.Series]) -> pd.Series:
        values = pd.to_numeric(cols[0], errors="coerce")
        ok = values.notna()
        if e.min_value is not None:
            ok &= values > e.min_value if e.strict_min else values >= e.min_value
        if e.max_value is not None:
            ok &= values < e.max_value if e.strict_max else values <= e.max_value
        return ok.fillna(False).astype(bool)

    return cond


def _lengths_sql(e: Any) -> Callable[[Sequence[ColumnElement[Any]], str], ColumnElement[bool]]:
    def cond(cols: Sequence[ColumnElement[Any]], d: str) -> ColumnElement[bool]:
        n = sa.func.length(sa.cast(cols[0], sa.String))
        parts = []
        if e.min_value is not None:
            parts.append(n >= e.min_value)
        if e.max_value is not None:
            parts.append(n <= e.max_value)
        return sa.func.coalesce(sa.and_(*parts), sa.false()) if parts else sa.true()

    return cond


def _lengths_pandas(e: Any) -> Callable[[Sequence[pd.Series]], pd.Series]:
    def cond(cols: Sequence[pd.Series]) -> pd.Series:
        n = cols[0].map(lambda v: len(str(v)))
        ok = pd.Series(True, index=cols[0].index)
        if e.min_value is not None:
            ok &= n >= e.min_value
        if e.max_value is not None:
            ok &= n <= e.max_value
        return ok.astype(bool)

    return cond


def _explain(rule: str, check: Callable[..., str | None], **kw: Any) -> Callable[[Sequence[Any]], str | None]:
    """A row's problem code from the rule itself: ``<rule>.<the *_problem function's code>``."""
    return lambda values: rules.problem_code(rule, check(*values, **kw))


def _by_rule(rule: str, check: Callable[..., str | None], **kw: Any) -> dict[str, Any]:
    """A rule-backed check's pandas condition and its rows' problem codes, both from the one ``*_problem``
    function of :mod:`citygov.quality.rules` (one column, or a pair when the function takes two)."""

    def pandas(cols: Sequence[pd.Series]) -> pd.Series:
        if len(cols) == 1:
            return cols[0].map(lambda v: check(v, **kw) is None).astype(bool)
        a, b = cols
        return pd.Series([check(x, y, **kw) is None for x, y in zip(a, b, strict=True)], index=a.index, dtype=bool)

    return {"pandas": pandas, "explain": _explain(rule, check, **kw)}



# --- vectorized conditions (fast accept, the rule judges the rest) ---------------------------------------

_FIXED_MAX = 64
"""Values longer than this are never fast-accepted (keeps the code-point matrix small)."""


class TextColumn:
    """A column of text values for vectorized conditions, in UTF-8 bytes: ``lengths`` (bytes; 0 is NULL,
    as an empty CSV field), and ``fixed(n)`` / ``prefix(n)`` give the rows of exactly / at least ``n``
    bytes with their first ``n`` bytes as an ``(rows, n)`` uint8 matrix. ``values`` gives the text of a
    row (None for NULL) for the rule to judge what the fast accept left.

    Build one from text (``TextColumn(values)``) or from fields of a UTF-8 buffer
    (:meth:`from_buffer`, no Python string per value)."""

    def __init__(self, values: Sequence[str | None]) -> None:
        raw = [v.encode("utf-8") if v else b"" for v in values]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        width = min(int(lengths.max(initial=0)), _FIXED_MAX)
        # longer values keep their first bytes (the S dtype truncates): prefix() and the first byte hold
        matrix = np.array(raw, dtype=f"S{max(width, 1)}").view(np.uint8).reshape(len(raw), max(width, 1))
        self._init(lengths, matrix, values)

    @classmethod
    def from_buffer(cls, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> TextColumn:
        """The fields ``buffer[starts[i] : starts[i] + lengths[i]]`` of a UTF-8 buffer (uint8 array that
        extends at least 64 bytes past its last field). The matrix bytes past a value's length are
        whatever follows it in the buffer: ``fixed`` and ``prefix`` never reach them."""
        self = cls.__new__(cls)
        lengths = np.asarray(lengths, dtype=np.int64)
        width = max(min(int(lengths.max(initial=0)), _FIXED_MAX), 1)
        matrix = np.lib.stride_tricks.sliding_window_view(buffer, width)[starts]
        self._init(lengths, matrix, _Decoded(buffer, starts, lengths))
        return self

    def _init(self, lengths: np.ndarray, matrix: np.ndarray, values: Sequence[str | None]) -> None:
        self.values = values
        self.lengths = lengths
        self.null = lengths == 0
        self.codes = matrix
        self._short = lengths <= matrix.shape[1]

    def __len__(self) -> int:
        return len(self.lengths)

    def fixed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows((self.lengths == n) & self._short, n)

    def prefix(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows((self.lengths >= n) & (n <= self.codes.shape[1]), n)

    def _rows(self, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.codes.shape[1]:
            return mask & False, np.zeros((0, n), np.uint8)
        return mask, self.codes[:, :n] if mask.all() else self.codes[mask, :n]  # all rows: no copy


class _Decoded(Sequence[str | None]):
    """The text of buffer fields, decoded on access (only the values a rule has to judge)."""

    def __init__(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        self.buffer, self.starts, self.lengths = buffer, starts, lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: Any) -> Any:
        start, n = int(self.starts[i]), int(self.lengths[i])
        return self.buffer[start : start + n].tobytes().decode("utf-8") if n else None


def _accept(col: TextColumn, mask: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(col), dtype=bool)
    out[np.flatnonzero(mask)[ok]] = True
    return out


def _not_blank_vector(cols: Sequence[TextColumn]) -> np.ndarray:
    c = cols[0]
    # Only spaces are stripped (rules.text): a first byte that is no space means text is left.
    return ~c.null & (c.codes[:, 0] != 32)


def _in_set_vector(values: list[Any]) -> Callable[[Sequence[TextColumn]], np.ndarray] | None:
    texts = [v for v in values if isinstance(v, str) and 0 < len(v.encode("utf-8")) <= _FIXED_MAX]
    if len(texts) > 64:
        return None

    by_length: dict[int, list[bytes]] = {}
    for text in texts:
        raw = text.encode("utf-8")
        by_length.setdefault(len(raw), []).append(raw)

    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        c = cols[0]
        out = np.zeros(len(c), dtype=bool)
        for n, wanted in by_length.items():
            mask, matrix = c.fixed(n)
            if n <= 8:  # each value as one integer: one isin for the lot
                packed = np.zeros((len(matrix), 8), dtype=np.uint8)
                packed[:, :n] = matrix
                wants = np.zeros((len(wanted), 8), dtype=np.uint8)
                wants[:, :n] = np.frombuffer(b"".join(wanted), dtype=np.uint8).reshape(len(wanted), n)
                out |= _accept(c, mask, np.isin(packed.view(np.uint64).ravel(), wants.view(np.uint64).ravel()))
                continue
            for raw in wanted:
                out |= _accept(c, mask, (matrix == np.frombuffer(raw, dtype=np.uint8)).all(axis=1))
        return out

    return cond


@functools.cache
def _division_table(current_only: bool) -> np.ndarray:
    """A million flags: is ``NNNNNN`` a (current) GB/T 2260 code."""
    from citygov.quality.reference import current_division_codes, known_division_codes

    table = np.zeros(1_000_000, dtype=bool)
    codes = current_division_codes() if current_only else known_division_codes()
    table[[int(c) for c in codes if len(c) == 6 and c.isascii() and c.isdigit()]] = True
    return table


def _division_vector(current_only: bool) -> Callable[[Sequence[TextColumn]], np.ndarray]:
    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        from citygov.quality import kernels

        mask, matrix = cols[0].fixed(6)
        return _accept(cols[0], mask, kernels.known_division(np.ascontiguousarray(matrix), _division_table(current_only)))

    return cond


def _iso_number(day: Any) -> int:
    return int(str(day.isoformat() if hasattr(day, "isoformat") else day)[:10].replace("-", ""))


def _ric_vector(as_of: Any) -> Callable[[Sequence[TextColumn]], np.ndarray]:
    """18-character IDs only (upper-case ``X``); 15-digit and odd-looking values go to the rule."""
    limit = _iso_number(as_of) if as_of is not None else 99999999

    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        from citygov.quality import kernels

        mask, m = cols[0].fixed(18)
        return _accept(cols[0], mask, kernels.ric(m, limit, _division_table(False), rules.RIC_MIN_YEAR))

    return cond


def _not_future_vector(reference_date: Any) -> Callable[[Sequence[TextColumn]], np.ndarray]:
    limit = _iso_number(reference_date)

    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        from citygov.quality import kernels

        mask, m = cols[0].prefix(10)
        return _accept(cols[0], mask, kernels.iso_day_not_after(np.ascontiguousarray(m), limit))

    return cond


def vector_expected(check: Check, columns: Sequence[Sequence[str | None] | TextColumn]) -> np.ndarray:
    """The *expected* verdict of a ``map`` or ``pair`` check for every row of ``columns`` (lists of text,
    None or ``""`` meaning NULL), as a boolean array: rows the check does not evaluate (NULLs of a
    ``filter_nulls`` map check, rows dropped by ``ignore_row_if``) are expected. Values the vectorized
    condition accepts are not looked at again; every other evaluated value is judged by the check's
    pandas condition, i.e. by :mod:`citygov.quality.rules`."""
    assert check.kind in {"map", "pair"} and check.pandas is not None
    n = len(columns[0])
    if check.kind == "map":
        text = columns[0] if isinstance(columns[0], TextColumn) else TextColumn(columns[0])
        evaluated = ~text.null if check.filter_nulls else np.ones(n, dtype=bool)
        accepted = check.vector([text]) if check.vector is not None else np.zeros(n, dtype=bool)
    else:
        frame = [pd.Series([v or None for v in _values(c)], dtype=object) for c in columns]
        evaluated = np.asarray(_keep_frame(frame, check.ignore_row_if), dtype=bool)
        accepted = np.zeros(n, dtype=bool)
    judge = np.flatnonzero(evaluated & ~accepted)
    out = ~evaluated | accepted
    if len(judge):
        series = [pd.Series([_values(c)[i] or None for i in judge], dtype=object) for c in columns]
        out[judge] = np.asarray(check.pandas(series), dtype=bool)
    return out


def _values(column: Sequence[str | None] | TextColumn) -> Sequence[str | None]:
    return column.values if isinstance(column, TextColumn) else column

def compile_check(e: Any) -> Check:
    """Compile one (parameter-substituted) expectation for the fused path; unknown types run in GX."""
    t = e.expectation_type
    col = (getattr(e, "column", None),)
    if getattr(e, "row_condition", None):
        return Check(e, "gx")  # conditional expectations: GX's own row_condition parsing
    if t == "expect_column_values_to_not_be_null":
        return Check(
            e, "map", col, lambda c, d: c[0].is_not(None), lambda c: c[0].notna(), filter_nulls=False,
            vector=lambda c: ~c[0].null, explain=lambda v: "null",
        )
    if t == "expect_column_values_to_not_be_blank":
        return Check(
            e, "map", col, lambda c, d: sqlcond.not_blank_ok(c[0]),
            lambda c: c[0].map(lambda v: rules.not_blank_problem(v) is None).astype(bool), filter_nulls=False,
            vector=_not_blank_vector, explain=lambda v: rules.not_blank_problem(v[0]),
        )
    if t == "expect_column_values_to_be_unique":
        return Check(e, "unique", col, explain=lambda v: "duplicate")
    if t == "expect_compound_columns_to_be_unique":
        return Check(e, "compound_unique", tuple(e.column_list), ignore_row_if=e.ignore_row_if, explain=lambda v: "duplicate_key")
    if t == "expect_column_values_to_be_in_set" and not isinstance(e.value_set, dict):
        values = list(e.value_set)
        return Check(
            e, "map", col, _in_set_sql(values), lambda c: c[0].isin(values), vector=_in_set_vector(values),
            explain=lambda v: "not_in_set",
        )
    if t == "expect_column_values_to_be_between":
        return Check(e, "map", col, _between_sql(e), _between_pandas(e), explain=lambda v: "out_of_range")
    if t == "expect_column_value_lengths_to_be_between":
        return Check(e, "map", col, _lengths_sql(e), _lengths_pandas(e), explain=lambda v: "length")
    if t == "expect_column_values_to_be_valid_ric":
        kw = {"as_of": e.as_of, "allow_15_digit": e.allow_15_digit}
        if e.division_in_birth_year:
            return Check(e, "gx", col, explain=_explain("ric", rules.ric_problem, **kw, division_in_birth_year=True))
        return Check(
            e, "map", col, lambda c, d: sqlcond.ric_ok(c[0], d, **kw), **_by_rule("ric", rules.ric_problem, **kw),
            vector=_ric_vector(e.as_of),
        )
    if t == "expect_column_values_to_be_valid_uscc":
        return Check(e, "map", col, lambda c, d: sqlcond.uscc_ok(c[0], d), **_by_rule("uscc", rules.uscc_problem))
    if t == "expect_column_values_to_be_valid_mobile":
        return Check(e, "map", col, lambda c, d: sqlcond.mobile_ok(c[0], d), **_by_rule("mobile", rules.mobile_problem))
    if t == "expect_column_values_to_be_valid_plate":
        return Check(e, "map", col, lambda c, d: sqlcond.plate_ok(c[0], d), **_by_rule("plate", rules.plate_problem))
    if t == "expect_column_values_to_be_valid_division_code":
        cur = e.current_only
        return Check(
            e, "map", col, lambda c, d: sqlcond.division_ok(c[0], d, current_only=cur),
            **_by_rule("division", rules.division_problem, current_only=cur), vector=_division_vector(cur),
        )
    if t == "expect_column_values_to_be_date_not_in_future":
        ref = e.reference_date
        return Check(
            e, "map", col, lambda c, d: sqlcond.not_future_ok(c[0], d, reference_date=ref),
            **_by_rule("date", rules.future_date_problem, reference_date=ref), vector=_not_future_vector(ref),
        )
    if t == "expect_column_pair_values_to_match_id_birth_date":
        return Check(
            e, "pair", (e.column_A, e.column_B), lambda c, d: sqlcond.id_birth_ok(c[0], c[1], d),
            **_by_rule("id_birth", rules.id_birth_problem), ignore_row_if=e.ignore_row_if,
        )
    if t == "expect_column_pair_values_to_match_id_gender":
        kw = {
            "male_values": tuple(e.male_values or rules.MALE_VALUES),
            "female_values": tuple(e.female_values or rules.FEMALE_VALUES),
        }
        return Check(
            e, "pair", (e.column_A, e.column_B), lambda c, d: sqlcond.id_gender_ok(c[0], c[1], d, **kw),
            **_by_rule("id_gender", rules.id_gender_problem, **kw), ignore_row_if=e.ignore_row_if,
        )
    if t == "expect_column_values_to_exist_in_base_table":
        if e.base_values is not None:
            values = list(e.base_values)
            return Check(
                e, "map", col, lambda c, d: sa.or_(sqlcond.as_text(c[0]) == "", c[0].in_(values)),
                lambda c: c[0].isin(values) | (c[0].map(rules.text) == ""), explain=lambda v: "not_in_base",
            )
        return Check(e, "ref", col, explain=lambda v: "not_in_base")
    if t == "expect_table_row_count_to_be_between":
        return Check(e, "table")
    return Check(e, "gx", tuple(c for c in (getattr(e, "column", None),) if c))


NATIVE: tuple[str, ...] = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_value_lengths_to_be_between",
    "expect_table_row_count_to_be_between",
    "expect_column_values_to_be_valid_ric",
    "expect_column_values_to_be_valid_uscc",
    "expect_column_values_to_be_valid_mobile",
    "expect_column_values_to_be_valid_plate",
    "expect_column_values_to_be_valid_division_code",
    "expect_column_values_to_be_date_not_in_future",
    "expect_column_values_to_not_be_blank",
    "expect_column_pair_values_to_match_id_birth_date",
    "expect_column_pair_values_to_match_id_gender",
    "expect_column_values_to_exist_in_base_table",
)
"""Expectation types the fused path computes itself; every other type runs through GX's engine."""


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


# --- building GX results -------------------------------------------------------------------------------------


def _metrics(check: Check, row_count: int) -> dict[str, Any]:
    m = check.map_metric
    out: dict[str, Any] = {"table.row_count": row_count}
    if check.kind == "table":
        return out
    if check.kind in {"pair", "compound_unique"}:
        out[f"{m}.filtered_row_count"] = check.evaluated
    else:
        out["column_values.nonnull.unexpected_count"] = row_count - check.evaluated
    # After the NULL count: for expect_column_values_to_not_be_null the map metric *is* column_values.nonnull.
    out[f"{m}.unexpected_count"] = check.unexpected
    out[f"{m}.unexpected_values"] = list(check.samples)
    return out


def build_result(check: Check, row_count: int, keys: Sequence[str] = ()) -> Any:
    """The GX ``ExpectationValidationResult`` of a computed check (or of its error), with its failing
    rows (:func:`attach_rows`)."""
    from great_expectations.core import ExpectationValidationResult

    e = check.expectation
    if check.error is not None:
        return ExpectationValidationResult(
            success=False,
            expectation_config=check.config,
            result={},
            exception_info={
                "raised_exception": True,
                "exception_message": check.error,
                "exception_traceback": None,
            },
        )
    raw = e._validate(metrics=_metrics(check, row_count), runtime_configuration={"result_format": RESULT_FORMAT})
    evr = ExpectationValidationResult(**raw)  # what Expectation._build_evr does, with the kept config
    evr.expectation_config = check.config
    attach_rows(evr, check, keys)
    return evr


def attach_rows(result: Any, check: Check, keys: Sequence[str]) -> None:
    """Put a check's failing rows into its GX result as GX 1.x reports them with
    ``unexpected_index_column_names`` (SUMMARY: ``partial_unexpected_index_list``, one dict of the check's
    columns and the key columns per row), plus citygov's ``partial_unexpected_reasons`` (the problem of
    each of those rows, in the same order). Values are raw here: the runner masks them."""
    body = result.result
    if not check.rows or not isinstance(body, dict):
        return
    body["unexpected_index_column_names"] = list(keys)
    body["partial_unexpected_index_list"] = [
        {**dict(zip(check.columns, r.values, strict=True)), **dict(zip(keys, r.key or (), strict=False))}
        for r in check.rows
    ]
    body["partial_unexpected_reasons"] = [{"problem": r.problem, **r.detail} for r in check.rows]


def _rows_from_gx(check: Check, result: Any, keys: Sequence[str]) -> None:
    """A GX-run check's failing rows from GX's own result: its ``partial_unexpected_index_list`` when it
    reports the key columns, else its ``partial_unexpected_list`` (values without a key)."""
    body = result.result if isinstance(result.result, dict) else {}
    columns = check.columns or tuple(
        c for c in (check.config_kwargs.get("column"), check.config_kwargs.get("column_A"), check.config_kwargs.get("column_B")) if c
    )
    check.columns = columns
    indexed = body.get("partial_unexpected_index_list")
    if keys and isinstance(indexed, list) and all(isinstance(r, dict) for r in indexed):
        for row in indexed[:SAMPLE_SIZE]:
            # GX leaves the key out for some types (compound uniqueness): no key rather than a blank one
            check.add_row([row[k] for k in keys] if all(k in row for k in keys) else None, [row.get(c) for c in columns])
        return
    for value in (body.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]:
        if isinstance(value, dict):
            values: Sequence[Any] = [value.get(c) for c in columns]
        elif isinstance(value, (list, tuple)):
            values = list(value)
        else:
            values = [value]
        if len(values) == len(columns):
            check.add_row(None, values)


def suite_result(suite: Any, results: list[Any], meta: dict[str, Any], parameters: Mapping[str, Any]) -> Any:
    """Wrap expectation results into GX's ``ExpectationSuiteValidationResult``."""
    from great_expectations.core import ExpectationSuiteValidationResult

    evaluated = len(results)
    ok = sum(1 for r in results if r.success)
    return ExpectationSuiteValidationResult(
        success=ok == evaluated,
        results=results,
        suite_name=suite.name,
        suite_parameters=dict(parameters),
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": ok,
            "unsuccessful_expectations": evaluated - ok,
            "success_percent": ok / evaluated * 100 if evaluated else None,
        },
        meta=meta,
    )


def result_json(result: Any) -> dict[str, Any]:
    """``ExpectationSuiteValidationResult.to_json_dict()`` for the results built here, without GX's
    deep copies and marshmallow round trips (they cost more than validating a small table). The output
    loads back with GX's schema (Data Docs do exactly that); a test holds it equal to GX's own."""
    from great_expectations.util import convert_to_json_serializable

    def config_json(config: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": config.type,
            "kwargs": convert_to_json_serializable(dict(config.kwargs)),
            "meta": convert_to_json_serializable(config.meta or {}),
        }
        if config.id:
            out["id"] = config.id
        if config.notes:
            out["notes"] = config.notes
        out["severity"] = str(getattr(config.severity, "value", config.severity) or "critical")
        return out

    return {
        "success": result.success,
        "results": [
            {
                "success": r.success,
                "expectation_config": config_json(r.expectation_config),
                "result": convert_to_json_serializable(r.result or {}),
                "meta": convert_to_json_serializable(r.meta or {}),
                "exception_info": convert_to_json_serializable(
                    r.exception_info or {"raised_exception": False, "exception_traceback": None, "exception_message": None}
                ),
            }
            for r in result.results
        ],
        "suite_name": result.suite_name,
        "suite_parameters": convert_to_json_serializable(result.suite_parameters or {}),
        "statistics": convert_to_json_serializable(result.statistics or {}),
        "meta": convert_to_json_serializable(result.meta or {}),
        "id": result.id,
    }


# --- database tables -------------------------------------------------------------------------------------


def validate_table(
    source: Engine,
    table: str,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    engine: str = "fused",
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate the database table ``table`` with ``suite``; returns (GX suite result, row count).

    ``key_columns`` (the dataset's 主键) name each failing row in the results' samples; a key column the
    table lacks means no key at all (a row is never named by part of its key).

    ``engine="fused"`` (default) computes natively supported expectations in one aggregate query plus
    what uniqueness, referential checks and samples need; ``engine="gx"`` runs every expectation through
    GX's ``SqlAlchemyExecutionEngine`` except referential checks against a base table in another
    database, which GX cannot reach. Raises :class:`ValidationError` when the table cannot be read.
    """
    parameters = dict(parameters or {})
    dialect = source.dialect.name
    try:
        columns = {c["name"]: c for c in sa.inspect(source).get_columns(table)}
    except Exception as exc:
        raise ValidationError(f"table {table!r} cannot be read: {_describe(exc)}") from exc
    keys = _present_keys(key_columns, columns)
    target = sa.table(ident(table), *[sa.column(ident(name), info["type"]) for name, info in columns.items()])
    checks = [compile_check(substitute(e, parameters)) for e in suite.expectations]
    if engine == "gx" or dialect not in sqlcond.SUPPORTED_DIALECTS:
        for check in checks:
            # GX cannot reach a base table in another database (no base_table given): those lookups
            # stay citygov's.
            if check.kind != "ref" or getattr(check.expectation, "base_table", None):
                check.kind = "gx"
    for check in checks:
        missing = [c for c in check.columns if c and c not in columns]
        if missing and check.kind != "gx":
            check.error = f"column {', '.join(missing)} is not in table {table}"
    with source.connect() as conn:
        sqlcond.prepare_connection(conn)
        row_count = _fused_scan(conn, target, [c for c in checks if c.error is None], dialect)
        for check in checks:
            if check.error is not None:
                continue
            try:
                if check.kind == "unique":
                    _sql_unique(conn, target, check, [check.columns[0]], ignore="any_value_is_missing", keys=keys)
                elif check.kind == "compound_unique":
                    _sql_unique(conn, target, check, list(check.columns), ignore=check.ignore_row_if, keys=keys)
                elif check.kind == "ref":
                    _sql_ref(conn, target, check, base_lookup, keys)
            except Exception as exc:  # one broken check must not sink the others
                conn.rollback()
                sqlcond.prepare_connection(conn)
                check.error = _describe(exc)
        _sql_samples(conn, target, [c for c in checks if c.kind in {"map", "pair"} and c.unexpected and c.error is None],
                     dialect, keys)
    results: list[Any] = [None] * len(checks)
    gx_checks = [i for i, c in enumerate(checks) if c.kind == "gx" and c.error is None]
    if gx_checks:
        gx_results = _gx_validate_table(source, table, [checks[i].expectation for i in gx_checks], parameters, keys)
        for i, res in zip(gx_checks, gx_results, strict=True):
            _rows_from_gx(checks[i], res, keys)
            attach_rows(res, checks[i], keys)
            results[i] = res
    for i, check in enumerate(checks):
        if results[i] is None:
            results[i] = build_result(check, row_count, keys)
    info = {"engine": engine, "dialect": dialect, "table": table, **(meta or {})}
    return suite_result(suite, results, info, parameters), row_count


def _present_keys(key_columns: Sequence[str], available: Collection[str]) -> list[str]:
    """The key columns when the source has every one of them, else none."""
    keys = [k for k in key_columns if k]
    return keys if keys and all(k in available for k in keys) else []


def _fused_scan(conn: sa.Connection, target: sa.TableClause, checks: list[Check], dialect: str) -> int:
    """Row count, non-NULL counts and every row check's unexpected count in one aggregate query."""
    sql = _SqlText(conn.dialect, target)
    exprs: list[str] = ["count(*)"]
    nonnull: dict[str, int] = {}
    slots: list[tuple[Check, int | None, int | None]] = []

    def add(expr: str) -> int:
        exprs.append(expr)
        return len(exprs) - 1

    def nonnull_slot(name: str) -> int:
        if name not in nonnull:
            nonnull[name] = add(f"count({sql.column(name)})")
        return nonnull[name]

    for check in checks:
        if check.kind in {"map", "pair"}:
            u = add(f"coalesce(sum(CASE WHEN {sql.unexpected(check)} THEN 1 ELSE 0 END), 0)")
            if check.kind == "pair":
                slots.append((check, u, add(f"coalesce(sum(CASE WHEN {sql.keep(check)} THEN 1 ELSE 0 END), 0)")))
            else:
                slots.append((check, u, nonnull_slot(check.columns[0]) if check.filter_nulls else None))
        elif check.kind == "compound_unique":
            slots.append((check, None, add(f"coalesce(sum(CASE WHEN {sql.keep(check)} THEN 1 ELSE 0 END), 0)")))
        elif check.kind in {"unique", "ref"}:
            slots.append((check, None, nonnull_slot(check.columns[0])))
    row = conn.exec_driver_sql(f"SELECT {', '.join(exprs)} FROM {sql.table}").one()
    row_count = int(row[0])
    for check, u, f in slots:
        if u is not None:
            check.unexpected = int(row[u])
        if f is not None:
            check.evaluated = int(row[f])
        elif check.kind == "map":
            check.evaluated = row_count
    return row_count


_TEMPLATES: dict[tuple[Any, ...], str] = {}
_PLACEHOLDER = re.compile(r"cgcol([0-9]+)x")
_COLUMN_KEYS = {"column", "column_A", "column_B", "column_list", "batch_id", "mostly", "result_format", "catch_exceptions"}


class _SqlText:
    """SQL text of the checks of one table for one dialect.

    A check's condition is compiled by SQLAlchemy once per dialect and expectation signature (type and
    parameters, with placeholder columns) and reused for every table with the same kind of check: the
    domain conditions are large expression trees, and compiling them per table cost more than running
    a small table's whole validation. Literals are rendered by SQLAlchemy (quoted and escaped for the
    dialect); column and table names are quoted by the dialect's identifier preparer.
    """

    def __init__(self, dialect: sa.Dialect, target: sa.TableClause) -> None:
        self.dialect = dialect
        self.name = dialect.name
        # Reflected types (PostgreSQL DATE/TIMESTAMP columns are compared natively, see sqlcond._temporal).
        self.types = {c.name: c.type for c in target.c if not isinstance(c.type, sa.types.NullType)}
        self.table = dialect.identifier_preparer.format_table(target)

    def _render(self, clause: Any) -> str:
        return str(clause.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def column(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(ident(name))

    def _template(self, check: Check, part: str) -> str:
        kwargs = {k: v for k, v in check.config_kwargs.items() if k not in _COLUMN_KEYS}
        types = tuple(type(self.types.get(name)).__name__ for name in check.columns)
        key = (self.name, self.dialect.paramstyle, check.type, part, check.kind, check.filter_nulls, check.ignore_row_if,
               types, json.dumps(kwargs, sort_keys=True, default=str))
        text = _TEMPLATES.get(key)
        if text is None:
            cols = [sa.column(f"cgcol{i}x", self.types.get(name)) for i, name in enumerate(check.columns)]
            if part == "keep":
                clause = _keep_rows(cols, check.ignore_row_if)
            else:
                clause = sa.not_(check.sql(cols, self.name))
                if check.kind == "map" and check.filter_nulls:
                    clause = sa.and_(cols[0].is_not(None), clause)
                elif check.kind == "pair":
                    clause = sa.and_(_keep_rows(cols, check.ignore_row_if), clause)
            text = _TEMPLATES[key] = self._render(clause)
        return text

    def _fill(self, text: str, check: Check) -> str:
        quoted = [self.column(name) for name in check.columns]
        return "(" + _PLACEHOLDER.sub(lambda m: quoted[int(m.group(1))], text) + ")"

    def unexpected(self, check: Check) -> str:
        return self._fill(self._template(check, "unexpected"), check)

    def keep(self, check: Check) -> str:
        return self._fill(self._template(check, "keep"), check)


def _keep_rows(cols: Sequence[ColumnElement[Any]], ignore_row_if: str) -> ColumnElement[bool]:
    if ignore_row_if in {"either_value_is_missing", "any_value_is_missing"}:
        return sa.and_(*[c.is_not(None) for c in cols])
    if ignore_row_if in {"both_values_are_missing", "all_values_are_missing"}:
        return sa.or_(*[c.is_not(None) for c in cols])
    return sa.true()


def _sql_unique(conn: sa.Connection, target: sa.TableClause, check: Check, names: list[str], *, ignore: str,
                keys: Sequence[str] = ()) -> None:
    """Rows whose value (or value combination) occurs more than once: GX counts every such row."""
    cols = [target.c[n] for n in names]
    query = (
        sa.select(*cols, sa.func.count().label("n"))
        .where(_keep_rows(cols, ignore))
        .group_by(*cols)
        .having(sa.func.count() > 1)
    )
    total = 0
    counts: dict[tuple[Any, ...], int] = {}
    for row in conn.execution_options(stream_results=True, yield_per=1000).execute(query):
        n = int(row[-1])
        total += n
        value = row[0] if len(names) == 1 else dict(zip(names, row[:-1], strict=True))
        if len(check.samples) < SAMPLE_SIZE:
            counts[tuple(row[:-1])] = n
        while len(check.samples) < SAMPLE_SIZE and n > 0:
            check.samples.append(value)
            n -= 1
    check.unexpected = total
    _sql_rows_of(conn, target, check, keys, counts)


def _sql_rows_of(conn: sa.Connection, target: sa.TableClause, check: Check, keys: Sequence[str],
                 counts: Mapping[tuple[Any, ...], int]) -> None:
    """The rows (with their keys) that hold the sampled failing values of a uniqueness or referential
    check: one query over at most :data:`SAMPLE_SIZE` values, at most as many rows."""
    if not counts:
        return
    cols = [target.c[n] for n in check.columns]
    # sa.literal: bind parameters named param_N, never after a column (whose name may be anything)
    match = sa.or_(*[
        sa.and_(*[c.is_(None) if v is None else c == sa.literal(v) for c, v in zip(cols, combo, strict=True)])
        for combo in counts
    ])
    query = sa.select(*cols, *[target.c[k] for k in keys]).where(match).limit(SAMPLE_SIZE)
    for row in conn.execute(query):
        values = tuple(row[: len(cols)])
        check.add_row(tuple(row[len(cols) :]) if keys else None, values, count=counts.get(values))


def _sql_ref(conn: sa.Connection, target: sa.TableClause, check: Check, base_lookup: BaseLookup | None,
             keys: Sequence[str] = ()) -> None:
    e = check.expectation
    if base_lookup is None:
        raise ValidationError(f"no way to reach base table {e.base_entry} for {check.type}")
    col = target.c[check.columns[0]]
    query = sa.select(col, sa.func.count()).where(col.is_not(None)).group_by(col)
    batch: list[tuple[Any, int]] = []
    missing: dict[tuple[Any, ...], int] = {}

    def flush() -> None:
        found = base_lookup(e.base_entry, e.base_column, [v for v, _ in batch])
        for value, n in batch:
            if value not in found and rules.text(value) != "":  # a blank is the not-blank rule's
                check.unexpected += n
                if len(check.samples) < SAMPLE_SIZE:
                    missing[(value,)] = n
                check.samples.extend([value] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
        batch.clear()

    for value, n in conn.execution_options(stream_results=True, yield_per=REF_BATCH).execute(query):
        batch.append((value, int(n)))
        if len(batch) >= REF_BATCH:
            flush()
    if batch:
        flush()
    _sql_rows_of(conn, target, check, keys, missing)


def _sql_samples(conn: sa.Connection, target: sa.TableClause, checks: list[Check], dialect: str,
                 keys: Sequence[str] = ()) -> None:
    """Failing values and rows (with their ``keys``) of every failing row check from one streamed query,
    stopped once each has its samples (the bad rows' other columns are never selected)."""
    if not checks:
        return
    sql = _SqlText(conn.dialect, target)
    wanted = {id(c): min(SAMPLE_SIZE, c.unexpected) for c in checks}
    names = sorted({n for c in checks for n in c.columns} | set(keys))
    flags = [sql.unexpected(c) for c in checks]
    select_list = [sql.column(n) for n in names] + [f"CASE WHEN {f} THEN 1 ELSE 0 END" for f in flags]
    statement = f"SELECT {', '.join(select_list)} FROM {sql.table} WHERE {' OR '.join(flags)}"
    position = {n: i for i, n in enumerate(names)}
    result = conn.execution_options(stream_results=True, yield_per=500).exec_driver_sql(statement)
    try:
        for row in result:
            for k, check in enumerate(checks):
                if row[len(names) + k] and len(check.samples) < wanted[id(check)]:
                    values = tuple(row[position[n]] for n in check.columns)
                    check.samples.append(values[0] if check.kind == "map" else values)
                    check.add_row([row[position[n]] for n in keys] if keys else None, values)
            if all(len(c.samples) >= wanted[id(c)] for c in checks):
                break
    finally:
        result.close()


def _gx_validate_table(source: Engine, table: str, expectations: list[Any], parameters: Mapping[str, Any],
                       keys: Sequence[str] = ()) -> list[Any]:
    """Run ``expectations`` through GX's own SqlAlchemyExecutionEngine against ``table``; with ``keys``,
    GX reports each failing row's key columns (``unexpected_index_column_names``)."""
    import great_expectations as gx

    from citygov.quality.suites import gx_context

    context = gx_context()
    suite = gx.ExpectationSuite(name=f"gx_fallback_{table}")
    for e in expectations:
        suite.add_expectation(e.configuration.to_domain_obj())
    url = source.url.render_as_string(hide_password=False)
    sources = context.data_sources
    add = {"sqlite": sources.add_or_update_sqlite, "postgresql": sources.add_or_update_postgres}.get(
        source.dialect.name, sources.add_or_update_sql
    )
    # One datasource per dialect: GX refuses to turn a datasource of one type into another, so a single
    # name shared by every source broke the second dialect a process validated.
    datasource = add(name=f"citygov_{source.dialect.name}", connection_string=url)
    # A quoted_name is kept as is by GX (a plain str becomes quoted_name(quote=False): never quoted).
    asset = datasource.add_table_asset(name=f"t{len(datasource.assets)}", table_name=ident(table))
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    result_format: dict[str, Any] = dict(RESULT_FORMAT)
    if keys:
        result_format.update(unexpected_index_column_names=list(keys), return_unexpected_index_query=False)
    result = batch.validate(suite, result_format=result_format, expectation_parameters=dict(parameters))
    # GX groups results by domain; hand them back in the order of ``expectations``.
    pending: dict[str, list[Any]] = {}
    for res in result.results:
        pending.setdefault(_config_key(res.expectation_config), []).append(res)
    return [pending[_config_key(e.configuration)].pop(0) for e in expectations]


def _config_key(config: Any) -> str:
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    return json.dumps([config.type, kwargs], sort_keys=True, default=str)


# --- files ----------------------------------------------------------------------------------------------------


def validate_file(
    path: Path,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    chunk_rows: int = CHUNK_ROWS,
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate a CSV/XLSX file with ``suite`` in chunks of ``chunk_rows`` rows; returns (result, rows).

    Memory is bounded by the chunk plus, for uniqueness and referential checks, one counter of the
    distinct values of their columns (and, when they fail, a second pass for the keys of the sampled
    rows). Expectation types outside :data:`NATIVE` are reported as not evaluated (an error in their
    result) rather than guessed. ``key_columns`` as in :func:`validate_table`.
    """
    parameters = dict(parameters or {})
    try:
        header, chunks = iter_chunks(Path(path), chunk_rows)
    except Exception as exc:
        raise ValidationError(f"file {Path(path).name} cannot be read: {_describe(exc)}") from exc
    checks = [compile_check(substitute(e, parameters)) for e in suite.expectations]
    for check in checks:
        missing = [c for c in check.columns if c and c not in header]
        if missing:
            check.error = f"column {', '.join(missing)} is not in file {Path(path).name}"
        elif check.kind == "gx":
            check.error = f"{check.type} is not supported on files (supported: {', '.join(NATIVE)})"
    live = [c for c in checks if c.error is None]
    keys = _present_keys(key_columns, header)
    counters: dict[int, Counter[Any]] = {id(c): Counter() for c in live if c.kind in {"unique", "compound_unique", "ref"}}
    row_count = 0
    try:
        for frame in chunks:
            row_count += len(frame)
            for check in live:
                _pandas_chunk(check, frame, counters.get(id(check)), keys)
    except Exception as exc:
        raise ValidationError(f"file {Path(path).name} cannot be read: {_describe(exc)}") from exc
    wanted: dict[int, dict[tuple[Any, ...], int]] = {id(c): {} for c in live}
    for check in live:
        counter = counters.get(id(check))
        if counter is None:
            continue
        if check.kind in {"unique", "compound_unique"}:
            for value, n in counter.items():
                if n > 1:
                    check.unexpected += n
                    sample = value if check.kind == "unique" else dict(zip(check.columns, value, strict=True))
                    if len(check.samples) < SAMPLE_SIZE:
                        wanted[id(check)][value if check.kind == "compound_unique" else (value,)] = n
                    check.samples.extend([sample] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
        else:
            try:
                wanted[id(check)] = _pandas_ref(check, counter, base_lookup)
            except Exception as exc:
                check.error = _describe(exc)
    if any(wanted.values()):
        try:
            _file_rows_of(Path(path), chunk_rows, [c for c in live if wanted.get(id(c))], wanted, keys)
        except Exception as exc:
            raise ValidationError(f"file {Path(path).name} cannot be read: {_describe(exc)}") from exc
    results = [build_result(c, row_count, keys) for c in checks]
    info = {"engine": "pandas-chunks", "file": Path(path).name, "chunk_rows": chunk_rows, **(meta or {})}
    return suite_result(suite, results, info, parameters), row_count


def _file_rows_of(path: Path, chunk_rows: int, checks: list[Check], wanted: Mapping[int, Mapping[tuple[Any, ...], int]],
                  keys: Sequence[str]) -> None:
    """A second pass over a file for the rows (with their keys) holding the sampled failing values of
    uniqueness and referential checks, until each check has :data:`SAMPLE_SIZE` rows."""
    _, chunks = iter_chunks(path, chunk_rows)
    for frame in chunks:
        for check in checks:
            values = wanted[id(check)]
            if len(check.rows) >= SAMPLE_SIZE:
                continue
            hit = frame[check.columns[0]].isin([v[0] for v in values])
            for _, row in frame[hit].iterrows():
                combo = tuple(row[c] for c in check.columns)
                if combo in values and len(check.rows) < SAMPLE_SIZE:
                    check.add_row([row[k] for k in keys] if keys else None, combo, count=values[combo])
        if all(len(c.rows) >= SAMPLE_SIZE for c in checks):
            return


def _frame_keys(frame: pd.DataFrame, keys: Sequence[str], index: pd.Index) -> list[tuple[Any, ...] | None]:
    if not keys:
        return [None] * len(index)
    return list(frame.loc[index, list(keys)].itertuples(index=False, name=None))


def _pandas_chunk(check: Check, frame: pd.DataFrame, counter: Counter[Any] | None, keys: Sequence[str] = ()) -> None:
    cols = [frame[c] for c in check.columns]
    if check.kind == "map":
        data = cols[0]
        if check.filter_nulls:
            present = data.notna()
            check.evaluated += int(present.sum())
            sub = [data[present]]
        else:
            check.evaluated += len(data)
            sub = [data]
        if len(sub[0]) == 0:
            return
        bad = ~check.pandas(sub).astype(bool)
        check.unexpected += int(bad.sum())
        failing = sub[0][bad].head(SAMPLE_SIZE - len(check.samples))
        for value, key in zip(failing, _frame_keys(frame, keys, failing.index), strict=True):
            check.samples.append(value)
            check.add_row(key, (value,))
    elif check.kind == "pair":
        keep = _keep_frame(cols, check.ignore_row_if)
        check.evaluated += int(keep.sum())
        sub = [c[keep] for c in cols]
        if len(sub[0]) == 0:
            return
        bad = ~check.pandas(sub).astype(bool)
        check.unexpected += int(bad.sum())
        room = SAMPLE_SIZE - len(check.samples)
        a, b = sub[0][bad].head(room), sub[1][bad].head(room)
        for pair, key in zip(zip(a, b, strict=True), _frame_keys(frame, keys, a.index), strict=True):
            check.samples.append(pair)
            check.add_row(key, pair)
    elif check.kind == "unique" or check.kind == "ref":
        present = cols[0].notna()
        check.evaluated += int(present.sum())
        assert counter is not None
        counter.update(cols[0][present].tolist())
    elif check.kind == "compound_unique":
        keep = _keep_frame(cols, check.ignore_row_if)
        check.evaluated += int(keep.sum())
        assert counter is not None
        counter.update(zip(*[c[keep].tolist() for c in cols], strict=True))


def _keep_frame(cols: Sequence[pd.Series], ignore_row_if: str) -> pd.Series:
    present = [c.notna() for c in cols]
    if ignore_row_if in {"either_value_is_missing", "any_value_is_missing"}:
        out = present[0]
        for p in present[1:]:
            out = out & p
        return out
    if ignore_row_if in {"both_values_are_missing", "all_values_are_missing"}:
        out = present[0]
        for p in present[1:]:
            out = out | p
        return out
    return pd.Series(True, index=cols[0].index)


def _pandas_ref(check: Check, counter: Counter[Any], base_lookup: BaseLookup | None) -> dict[tuple[Any, ...], int]:
    """Count the values not found in the base table; returns the sampled ones with their row counts."""
    e = check.expectation
    sampled: dict[tuple[Any, ...], int] = {}
    if base_lookup is None:
        raise ValidationError(f"no way to reach base table {e.base_entry} for {check.type}")
    values = [v for v in counter if rules.text(v) != ""]  # a blank is the not-blank rule's
    for start in range(0, len(values), REF_BATCH):
        batch = values[start : start + REF_BATCH]
        found = base_lookup(e.base_entry, e.base_column, batch)
        for value in batch:
            if value not in found:
                n = counter[value]
                check.unexpected += n
                if len(check.samples) < SAMPLE_SIZE:
                    sampled[(value,)] = n
                check.samples.extend([value] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
    return sampled


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

