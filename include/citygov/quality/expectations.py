"""Domain expectations for Chinese public data, as Great Expectations 1.x custom expectations.

Importing this module registers them with GX; any suite may then use them by type name. The classes
are generated from the rule registry (:mod:`citygov.quality.registry`): each rule with a ``gx`` form
becomes a ``MetricProvider`` whose pandas partial is the rule's Python check and whose SQL partial is the
rule's SQL form, and an ``Expectation`` with the rule's parameters, dimension and Data Docs sentence.
Nothing about a check is declared here; the README lists the expectations. Only the referential one is
written out: its SQL partial reads another table.

A blank value (empty or only spaces) passes the identifier and code expectations, as NULL does: it is
``expect_column_values_to_not_be_blank``'s finding (完整性), not also an accuracy one. Each class carries
its dimension as ``dimension`` and in ``library_metadata["gbt36344_dimension"]``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd
import sqlalchemy as sa
from great_expectations.compatibility import pydantic
from great_expectations.core.metric_function_types import SummarizationMetricNameSuffixes
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
    _format_map_output,
)
from great_expectations.expectations.expectation_configuration import parse_result_format
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from citygov.findings import Dimension
from citygov.quality import registry, sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import ExpectationRule as _Rule
from citygov.quality.registry import Param

_UNEXPECTED_COUNT = SummarizationMetricNameSuffixes.UNEXPECTED_COUNT.value


def _library_metadata(dimension: Dimension, *tags: str) -> dict[str, Any]:
    return {
        "maturity": "production",
        "tags": ["citygov", "GB/T 36344", *tags],
        "contributors": ["@citygov"],
        "requirements": ["python-stdnum (tests only, as an oracle)"],
        "has_full_test_suite": True,
        "manually_reviewed_code": True,
        "gbt36344_dimension": dimension.value,
    }


def _dialect(kwargs: dict[str, Any]) -> str:
    return sqlcond.dialect_name(kwargs.get("_sqlalchemy_engine") or kwargs.get("_dialect"))


class _Described:
    """A Chinese/English sentence for Data Docs instead of GX's generic ``type(**kwargs)`` badge."""

    sentence: ClassVar[str] = "$column"

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict | None = None,
    ) -> list[RenderedStringTemplateContent]:
        config = configuration or (result.expectation_config if result is not None else None)
        kwargs = dict(config.kwargs) if config is not None else {}
        params = {k: str(v) for k, v in kwargs.items() if isinstance(v, (str, int, float, bool)) and v is not None}
        dimension = getattr(cls, "dimension", None)
        template = cls.sentence + (f"（{dimension.value}）" if dimension else "")
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": template, "params": params, "styling": {"default": {"classes": ["badge", "badge-secondary"]}}},
            )
        ]


def _validate_every_row(self: Any, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None) -> Any:
    """Like expect_column_values_to_not_be_null: every row is evaluated, NULLs included."""
    # Like expect_column_values_to_not_be_null: every row is evaluated, NULLs included.
    result_format = parse_result_format(self._get_result_format(runtime_configuration=runtime_configuration))
    total = metrics.get("table.row_count") or 0
    unexpected = metrics.get(f"{self.map_metric}.{_UNEXPECTED_COUNT}") or 0
    mostly = self._get_success_kwargs().get("mostly")
    success = True if total == 0 else (total - unexpected) / total >= mostly
    return _format_map_output(
        result_format=result_format,
        success=success,
        element_count=total,
        nonnull_count=None,
        unexpected_count=unexpected,
        unexpected_list=metrics.get(f"{self.map_metric}.unexpected_values"),
        unexpected_index_list=metrics.get(f"{self.map_metric}.unexpected_index_list"),
    )


# --- generated from the registry ---------------------------------------------------------------------

_PAIR_DOMAIN_KEYS = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")
_ANNOTATIONS: dict[str, Any] = {
    "bool": bool,
    "date": str | SuiteParameterDict | None,
    "required_date": str | SuiteParameterDict,
    "values": list[str] | None,
}


def _given(params: tuple[Param, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The rule's parameters as the metric received them; None means the rule's own default."""
    return {p.name: kwargs[p.name] for p in params if kwargs.get(p.name) is not None}


def _metric_provider(rule: _Rule) -> type:
    gx = rule.gx
    assert gx is not None and rule.problem is not None and rule.compile is not None
    problem, params = rule.problem, gx.params
    names = tuple(p.name for p in params)
    sql = _sql_form(rule)
    if gx.args == ("column_A", "column_B"):

        def pair_pandas(cls: Any, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
            kw = _given(params, kwargs)
            return pd.Series([problem(a, b, **kw) is None for a, b in zip(column_A, column_B, strict=True)],
                             index=column_A.index, dtype=bool)

        def pair_sql(cls: Any, column_A: Any, column_B: Any, **kwargs: Any) -> Any:
            return sql([column_A, column_B], _dialect(kwargs), _given(params, kwargs))

        namespace = {
            "condition_metric_name": gx.metric, "condition_domain_keys": _PAIR_DOMAIN_KEYS, "condition_value_keys": names,
            "_pandas": column_pair_condition_partial(engine=PandasExecutionEngine)(pair_pandas),
            "_sqlalchemy": column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)(pair_sql),
        }
        return type(gx.class_name.replace("Expect", "Metric", 1), (ColumnPairMapMetricProvider,), namespace)

    def map_pandas(cls: Any, column: pd.Series, **kwargs: Any) -> pd.Series:
        kw = _given(params, kwargs)
        return column.map(lambda v: problem(v, **kw) is None).astype(bool)

    def map_sql(cls: Any, column: Any, **kwargs: Any) -> Any:
        return sql([column], _dialect(kwargs), _given(params, kwargs))

    namespace = {
        "condition_metric_name": gx.metric, "condition_value_keys": names,
        "_pandas": column_condition_partial(engine=PandasExecutionEngine)(map_pandas),
        "_sqlalchemy": column_condition_partial(engine=SqlAlchemyExecutionEngine)(map_sql),
    }
    if gx.every_row:
        namespace["filter_column_isnull"] = False
    return type(gx.class_name.replace("Expect", "Metric", 1), (ColumnMapMetricProvider,), namespace)


class _Stand:
    """An expectation-shaped object for a rule's ``compile``: the columns and the given parameters."""

    def __init__(self, columns: list[Any], params: dict[str, Any]) -> None:
        self.column = self.column_A = "a"
        self.column_B = "b"
        self.ignore_row_if = "neither"
        self.__dict__.update(params)


def _sql_form(rule: _Rule) -> Any:
    """The rule's SQL form over GX's columns: what ``compile`` gives for these parameters."""
    assert rule.gx is not None and rule.compile is not None
    defaults = {p.name: p.default for p in rule.gx.params}

    def sql(columns: list[Any], dialect: str, given: dict[str, Any]) -> Any:
        forms = rule.compile(_Stand(columns, {**defaults, **given}))
        if forms.sql is None:
            raise NotImplementedError(f"{rule.type} with these parameters is checked in Python only (pandas)")
        return forms.sql(columns, dialect)

    return sql


def _expectation(rule: _Rule) -> type:
    gx = rule.gx
    assert gx is not None
    pair = gx.args == ("column_A", "column_B")
    annotations: dict[str, Any] = {p.name: _ANNOTATIONS[p.kind] for p in gx.params}
    namespace: dict[str, Any] = {p.name: p.default for p in gx.params if p.kind != "required_date"}
    if pair:
        annotations["ignore_row_if"] = (
            Literal["both_values_are_missing", "either_value_is_missing", "neither"] | SuiteParameterDict
        )
        namespace["ignore_row_if"] = "either_value_is_missing"
    annotations.update(dimension=ClassVar[Dimension], sentence=ClassVar[str], library_metadata=ClassVar[dict[str, Any]])
    metadata = _library_metadata(rule.dimension, *gx.tags)
    namespace.update(
        __annotations__=annotations,
        __doc__=gx.doc,
        __module__=__name__,
        __qualname__=gx.class_name,
        map_metric=gx.metric,
        success_keys=("mostly", *(("ignore_row_if",) if pair else ()), *(p.name for p in gx.params)),
        args_keys=gx.args,
        dimension=rule.dimension,
        sentence=gx.sentence,
        library_metadata=metadata,
        _library_metadata=metadata,
    )
    if gx.every_row:
        namespace["_validate"] = _validate_every_row
    base = ColumnPairMapExpectation if pair else ColumnMapExpectation
    return type(gx.class_name, (_Described, base), namespace)


_GENERATED = [r for r in registry.all_rules() if r.gx is not None and not r.gx.written_out]
for _rule in _GENERATED:
    assert _rule.gx is not None
    globals()[_rule.gx.class_name.replace("Expect", "Metric", 1)] = _metric_provider(_rule)
    globals()[_rule.gx.class_name] = _expectation(_rule)


# --- referential integrity (written out: the SQL partial reads another table) ---------------------------

_BASE_RULE = registry.rule_for("expect_column_values_to_exist_in_base_table")
assert _BASE_RULE is not None and _BASE_RULE.gx is not None


class ColumnValuesInBaseTable(ColumnMapMetricProvider):
    condition_metric_name = _BASE_RULE.gx.metric
    condition_value_keys = ("base_entry", "base_column", "base_table", "base_values")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, base_entry=None, base_column=None, base_table=None, base_values=None, **kwargs):
        if base_values is None:
            raise NotImplementedError(
                f"pandas needs the base values of {base_entry}.{base_column} passed as base_values; "
                "citygov's runner resolves base tables itself"
            )
        allowed = set(base_values)
        return column.map(lambda v: v in allowed or text(v) == "").astype(bool)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, base_entry=None, base_column=None, base_table=None, base_values=None, **kwargs):
        if base_values is not None:
            return sa.or_(sqlcond.as_text(column) == "", column.in_(list(base_values)))
        if not base_table:
            raise NotImplementedError(
                f"GX's SQL engine can check {base_entry}.{base_column} only when base_table names a table "
                "in the same database; citygov's runner resolves base tables across databases itself"
            )
        base = sa.table(sa.sql.quoted_name(base_table, quote=True), sa.column(sa.sql.quoted_name(base_column, quote=True)))
        return sa.or_(sqlcond.as_text(column) == "", column.in_(sa.select(base.c[base_column]).where(base.c[base_column].is_not(None))))


class ExpectColumnValuesToExistInBaseTable(_Described, ColumnMapExpectation):
    """Expect every value to exist in a base-library table (基础库), e.g. every enterprise credit code in a
    department table among the legal-entity base's codes.

    ``base_entry`` is the catalog code of the base resource and ``base_column`` its key column; citygov
    finds its source through the catalog, in any database or file. ``base_table`` (same database) or
    ``base_values`` let GX's own engines run it too.
    """

    base_entry: str
    base_column: str
    base_table: str | None = None
    base_values: list[Any] | None = pydantic.Field(default=None)

    map_metric = _BASE_RULE.gx.metric
    success_keys = ("mostly", "base_entry", "base_column", "base_table", "base_values")
    args_keys = ("column", "base_entry", "base_column")
    dimension: ClassVar[Dimension] = _BASE_RULE.dimension
    sentence: ClassVar[str] = _BASE_RULE.gx.sentence
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, *_BASE_RULE.gx.tags)
    _library_metadata = library_metadata


CUSTOM_EXPECTATIONS: tuple[type, ...] = (
    *(globals()[r.gx.class_name] for r in _GENERATED if r.gx is not None),
    ExpectColumnValuesToExistInBaseTable,
)
"""Every citygov expectation class (all registered with GX on import)."""
