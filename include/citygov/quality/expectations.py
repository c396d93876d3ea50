"""Domain expectations for Chinese public data, as Great Expectations 1.x custom expectations.

Importing this module registers them with GX; any suite may then use them by type name:

| expectation | GB/T 36344 | checks |
|---|---|---|
| ``expect_column_values_to_be_valid_ric`` | 准确性 | resident ID (GB 11643): check character, real birth date not after ``as_of``, known division prefix (retired codes too), 15-digit IDs |
| ``expect_column_values_to_be_valid_uscc`` | 准确性 | unified social credit code (GB 32100): alphabet, division part, MOD 31 check character |
| ``expect_column_values_to_be_valid_division_code`` | 规范性 | GB/T 2260 division code (the shipped national table) |
| ``expect_column_values_to_be_valid_mobile`` | 准确性 | mainland mobile number |
| ``expect_column_values_to_be_valid_plate`` | 准确性 | mainland number plate (号牌, GA 36), new-energy plates and 挂/学/警 too |
| ``expect_column_values_to_be_date_not_in_future`` | 准确性 | a date not after ``reference_date`` (the run's logical date) |
| ``expect_column_values_to_not_be_blank`` | 完整性 | not NULL, not empty, not only spaces |
| ``expect_column_pair_values_to_match_id_birth_date`` | 一致性 | birth date column agrees with the ID number |
| ``expect_column_pair_values_to_match_id_gender`` | 一致性 | gender column agrees with the ID number's sequence digit |
| ``expect_column_values_to_exist_in_base_table`` | 一致性 | every value exists in a base-library table (referential integrity) |

A blank value (empty or only spaces) passes the identifier and code expectations, as NULL does: it is
``expect_column_values_to_not_be_blank``'s finding (完整性), not also an accuracy one.

Each class carries its dimension as ``dimension`` and in ``library_metadata["gbt36344_dimension"]``.
The row rules live in :mod:`citygov.quality.rules` (pandas) and :mod:`citygov.quality.sqlcond` (SQL),
shared with the fused validation in :mod:`citygov.quality.engine`.
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
from great_expectations.util import camel_to_snake

from citygov.expectation_rules import EXPECTATION_RULES
from citygov.findings import Dimension
from citygov.quality import rules, sqlcond

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


def _dimension(class_name: str) -> Dimension:
    """The expectation's dimension from its rule (one definition: citygov.expectation_rules)."""
    return EXPECTATION_RULES[camel_to_snake(class_name)].dimension


def _dialect(kwargs: dict[str, Any]) -> str:
    return sqlcond.dialect_name(kwargs.get("_sqlalchemy_engine") or kwargs.get("_dialect"))


def _ok(series: pd.Series, check: Any) -> pd.Series:
    return series.map(lambda v: check(v) is None).astype(bool)


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


# --- resident ID ---------------------------------------------------------------------------------------


class ColumnValuesValidRic(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_valid_ric"
    condition_value_keys = ("as_of", "allow_15_digit", "division_in_birth_year")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, as_of=None, allow_15_digit=True, division_in_birth_year=False, **kwargs):
        return _ok(
            column,
            lambda v: rules.ric_problem(
                v, as_of=as_of, allow_15_digit=allow_15_digit, division_in_birth_year=division_in_birth_year
            ),
        )

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, as_of=None, allow_15_digit=True, division_in_birth_year=False, **kwargs):
        return sqlcond.ric_ok(
            column,
            _dialect(kwargs),
            as_of=as_of,
            allow_15_digit=allow_15_digit,
            division_in_birth_year=division_in_birth_year,
        )


class ExpectColumnValuesToBeValidRic(_Described, ColumnMapExpectation):
    """Expect column values to be valid resident ID numbers (居民身份证号码, GB 11643-1999).

    18 characters: 17 digits and the ISO 7064 MOD 11-2 check character; a real birth date, not after
    ``as_of`` (the run's logical date, usually ``{"$PARAMETER": "logical_date"}``); the first six digits a
    division code known in GB/T 2260, retired codes included (old IDs keep them). Old 15-digit numbers
    pass with a real 19xx date and a known division unless ``allow_15_digit`` is False.
    ``division_in_birth_year`` also requires the code to have been in use in the birth year (what
    ``stdnum.cn.ric`` does; off by default because IDs are re-issued under a newer code).
    """

    as_of: str | SuiteParameterDict | None = None
    allow_15_digit: bool = True
    division_in_birth_year: bool = False

    map_metric = "column_values.citygov_valid_ric"
    success_keys = ("mostly", "as_of", "allow_15_digit", "division_in_birth_year")
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应为有效的居民身份证号码 valid resident ID (GB 11643)"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "identifier")
    _library_metadata = library_metadata


# --- credit code ---------------------------------------------------------------------------------------


class ColumnValuesValidUscc(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _ok(column, rules.uscc_problem)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sqlcond.uscc_ok(column, _dialect(kwargs))


class ExpectColumnValuesToBeValidUscc(_Described, ColumnMapExpectation):
    """Expect column values to be unified social credit codes (统一社会信用代码, GB 32100-2015): 18
    characters of ``0-9 A-H J-N P-R T U W X Y``, a 6-digit division part and the MOD 31 check character."""

    map_metric = "column_values.citygov_valid_uscc"
    success_keys = ("mostly",)
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应为有效的统一社会信用代码 valid credit code (GB 32100)"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "identifier")
    _library_metadata = library_metadata


# --- division code -------------------------------------------------------------------------------------


class ColumnValuesValidDivision(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_valid_division"
    condition_value_keys = ("current_only",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, current_only=False, **kwargs):
        return _ok(column, lambda v: rules.division_problem(v, current_only=current_only))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, current_only=False, **kwargs):
        return sqlcond.division_ok(column, _dialect(kwargs), current_only=current_only)


class ExpectColumnValuesToBeValidDivisionCode(_Described, ColumnMapExpectation):
    """Expect column values to be GB/T 2260 administrative division codes (行政区划代码) from the shipped
    national table; retired codes pass unless ``current_only``."""

    current_only: bool = False

    map_metric = "column_values.citygov_valid_division"
    success_keys = ("mostly", "current_only")
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应为 GB/T 2260 行政区划代码 division code"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "reference data")
    _library_metadata = library_metadata


# --- mobile --------------------------------------------------------------------------------------------


class ColumnValuesValidMobile(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_valid_mobile"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _ok(column, rules.mobile_problem)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sqlcond.mobile_ok(column, _dialect(kwargs))


class ExpectColumnValuesToBeValidMobile(_Described, ColumnMapExpectation):
    """Expect column values to be mainland mobile numbers: 11 digits, ``1[3-9]`` then nine digits."""

    map_metric = "column_values.citygov_valid_mobile"
    success_keys = ("mostly",)
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应为有效的手机号码 valid mobile number"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "identifier")
    _library_metadata = library_metadata


# --- number plate --------------------------------------------------------------------------------------


class ColumnValuesValidPlate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_valid_plate"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _ok(column, rules.plate_problem)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sqlcond.plate_ok(column, _dialect(kwargs))


class ExpectColumnValuesToBeValidPlate(_Described, ColumnMapExpectation):
    """Expect column values to be mainland number plates (号牌, GA 36): province, issuing letter, an
    optional dot, then 5 characters (6 on new-energy plates) with a digit among them, the last may be
    挂 学 警 港 澳 领 (:func:`citygov.quality.rules.plate_problem`)."""

    map_metric = "column_values.citygov_valid_plate"
    success_keys = ("mostly",)
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应为有效的机动车号牌 valid number plate (GA 36)"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "identifier")
    _library_metadata = library_metadata


# --- dates ---------------------------------------------------------------------------------------------


class ColumnValuesDateNotInFuture(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_date_not_in_future"
    condition_value_keys = ("reference_date",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, reference_date=None, **kwargs):
        return _ok(column, lambda v: rules.future_date_problem(v, reference_date=reference_date))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, reference_date=None, **kwargs):
        return sqlcond.not_future_ok(column, _dialect(kwargs), reference_date=reference_date)


class ExpectColumnValuesToBeDateNotInFuture(_Described, ColumnMapExpectation):
    """Expect date or datetime values (``YYYY-MM-DD…`` or ``YYYY/MM/DD…``) not to lie after
    ``reference_date``, normally ``{"$PARAMETER": "logical_date"}``: a record cannot describe a day that has
    not happened yet. Values that are no date pass here (a format expectation judges them)."""

    reference_date: str | SuiteParameterDict

    map_metric = "column_values.citygov_date_not_in_future"
    success_keys = ("mostly", "reference_date")
    args_keys = ("column", "reference_date")
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 不应晚于 $reference_date date not in the future"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "date")
    _library_metadata = library_metadata


# --- completeness --------------------------------------------------------------------------------------


class ColumnValuesNotBlank(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_not_blank"
    filter_column_isnull = False

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return column.map(lambda v: rules.not_blank_problem(v) is None).astype(bool)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sqlcond.not_blank_ok(column)


class ExpectColumnValuesToNotBeBlank(_Described, ColumnMapExpectation):
    """Expect every value present: not NULL, not an empty string, not only spaces (what a steward means
    by 必填; GX's ``expect_column_values_to_not_be_null`` lets empty strings through)."""

    map_metric = "column_values.citygov_not_blank"
    success_keys = ("mostly",)
    args_keys = ("column",)
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 不应为空 value required"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "completeness")
    _library_metadata = library_metadata

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None):
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


# --- consistency with the ID number ------------------------------------------------------------------------


class ColumnPairIdBirthDate(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.citygov_id_birth_date"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return pd.Series(
            [rules.id_birth_problem(a, b) is None for a, b in zip(column_A, column_B, strict=True)],
            index=column_A.index,
            dtype=bool,
        )

    @column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_A, column_B, **kwargs):
        return sqlcond.id_birth_ok(column_A, column_B, _dialect(kwargs))


class ExpectColumnPairValuesToMatchIdBirthDate(_Described, ColumnPairMapExpectation):
    """Expect the birth date in ``column_B`` to equal the one encoded in the ID number in ``column_A``.

    Rows where either side holds no date (an ID of the wrong shape or with no real date, a birth date
    that is no ``YYYY-MM-DD``) are not judged here: the ID and format expectations report those.
    """

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] | SuiteParameterDict = "either_value_is_missing"

    map_metric = "column_pair_values.citygov_id_birth_date"
    success_keys = ("mostly", "ignore_row_if")
    args_keys = ("column_A", "column_B")
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column_B 应与 $column_A 中的出生日期一致 birth date agrees with the ID"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "consistency")
    _library_metadata = library_metadata


class ColumnPairIdGender(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.citygov_id_gender"
    condition_domain_keys = ColumnPairIdBirthDate.condition_domain_keys
    condition_value_keys = ("male_values", "female_values")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, male_values=None, female_values=None, **kwargs):
        male = tuple(male_values or rules.MALE_VALUES)
        female = tuple(female_values or rules.FEMALE_VALUES)
        return pd.Series(
            [
                rules.id_gender_problem(a, b, male_values=male, female_values=female) is None
                for a, b in zip(column_A, column_B, strict=True)
            ],
            index=column_A.index,
            dtype=bool,
        )

    @column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_A, column_B, male_values=None, female_values=None, **kwargs):
        return sqlcond.id_gender_ok(
            column_A,
            column_B,
            _dialect(kwargs),
            male_values=tuple(male_values or rules.MALE_VALUES),
            female_values=tuple(female_values or rules.FEMALE_VALUES),
        )


class ExpectColumnPairValuesToMatchIdGender(_Described, ColumnPairMapExpectation):
    """Expect the gender in ``column_B`` to agree with the ID number's sequence digit in ``column_A``
    (odd male, even female). ``male_values`` / ``female_values`` say how the column writes them
    (default GB/T 2261.1 codes 1 / 2 and 男 / 女); other values are not judged here."""

    male_values: list[str] | None = None
    female_values: list[str] | None = None
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] | SuiteParameterDict = "either_value_is_missing"

    map_metric = "column_pair_values.citygov_id_gender"
    success_keys = ("mostly", "ignore_row_if", "male_values", "female_values")
    args_keys = ("column_A", "column_B")
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column_B 应与 $column_A 的性别位一致 gender agrees with the ID"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "consistency")
    _library_metadata = library_metadata


# --- referential integrity -----------------------------------------------------------------------------------


class ColumnValuesInBaseTable(ColumnMapMetricProvider):
    condition_metric_name = "column_values.citygov_in_base_table"
    condition_value_keys = ("base_entry", "base_column", "base_table", "base_values")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, base_entry=None, base_column=None, base_table=None, base_values=None, **kwargs):
        if base_values is None:
            raise NotImplementedError(
                f"pandas needs the base values of {base_entry}.{base_column} passed as base_values; "
                "citygov's runner resolves base tables itself"
            )
        allowed = set(base_values)
        return column.map(lambda v: v in allowed or rules.text(v) == "").astype(bool)

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

    map_metric = "column_values.citygov_in_base_table"
    success_keys = ("mostly", "base_entry", "base_column", "base_table", "base_values")
    args_keys = ("column", "base_entry", "base_column")
    dimension: ClassVar[Dimension] = _dimension(__qualname__)
    sentence: ClassVar[str] = "$column 应存在于基础库 $base_entry.$base_column exists in the base table"
    library_metadata: ClassVar[dict[str, Any]] = _library_metadata(dimension, "referential integrity")
    _library_metadata = library_metadata


CUSTOM_EXPECTATIONS: tuple[type, ...] = (
    ExpectColumnValuesToBeValidRic,
    ExpectColumnValuesToBeValidUscc,
    ExpectColumnValuesToBeValidDivisionCode,
    ExpectColumnValuesToBeValidMobile,
    ExpectColumnValuesToBeValidPlate,
    ExpectColumnValuesToBeDateNotInFuture,
    ExpectColumnValuesToNotBeBlank,
    ExpectColumnPairValuesToMatchIdBirthDate,
    ExpectColumnPairValuesToMatchIdGender,
    ExpectColumnValuesToExistInBaseTable,
)
"""Every citygov expectation class (all registered with GX on import)."""
