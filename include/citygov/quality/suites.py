"""Expectation suites as reviewable files: one GX 1.x suite per catalog dataset in ``expectations/``.

A suite file is the JSON of a GX ``ExpectationSuite`` named after the catalog code
(``expectations/320700-GAJ-0001.json``), without GX's generated ids so diffs stay readable. Its
``meta.citygov`` block says which entry it belongs to and how each column's values are masked; each
expectation's ``meta`` carries its GB/T 36344 dimension and, when drafted, why it was suggested.

:func:`draft_suite` suggests a suite from the catalog entry and a profile of the data, for a steward to
edit: completeness for the primary key and complete columns, uniqueness of the key, identifier checks
for recognised ID numbers / credit codes / mobile numbers, division codes, dates not in the future,
ID ↔ birth date / gender consistency where the data mostly agrees, enumerations, non-negative numbers,
fixed-length codes, and referential integrity to related base-library (基础库) entries.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from citygov.catalog.schema import CatalogEntry, ColumnType, Layer, Sensitivity
from citygov.findings import Dimension
from citygov.quality import rules
from citygov.quality.masking import scrub
from citygov.quality.profile import DatasetProfile
from citygov.settings import project_home

SUITES_DIR_ENV = "CITYGOV_SUITES_DIR"
"""Environment variable overriding where suite files live (default ``<project>/expectations``)."""

LOGICAL_DATE = {"$PARAMETER": "logical_date"}
"""Suite parameter every run supplies: the run's logical date (``YYYY-MM-DD``)."""

AGREEMENT = 0.9
"""Share of sampled rows a candidate rule must already satisfy to be suggested."""

BUILTIN_DIMENSIONS: dict[str, Dimension] = {
    "expect_column_values_to_not_be_null": Dimension.COMPLETENESS,
    "expect_column_proportion_of_non_null_values_to_be_between": Dimension.COMPLETENESS,
    "expect_table_row_count_to_be_between": Dimension.COMPLETENESS,
    "expect_column_to_exist": Dimension.CONFORMITY,
    "expect_table_columns_to_match_set": Dimension.CONFORMITY,
    "expect_column_values_to_be_in_set": Dimension.CONFORMITY,
    "expect_column_values_to_match_regex": Dimension.CONFORMITY,
    "expect_column_value_lengths_to_be_between": Dimension.CONFORMITY,
    "expect_column_values_to_be_of_type": Dimension.CONFORMITY,
    "expect_column_values_to_be_unique": Dimension.ACCURACY,
    "expect_compound_columns_to_be_unique": Dimension.ACCURACY,
    "expect_column_values_to_be_between": Dimension.ACCURACY,
    "expect_column_pair_values_to_be_equal": Dimension.CONSISTENCY,
    "expect_column_pair_values_a_to_be_greater_than_b": Dimension.CONSISTENCY,
}
"""GB/T 36344 dimension of the built-in GX expectations citygov uses (custom ones carry their own)."""


class SuiteFileError(ValueError):
    """A suite file that cannot be used: says which file, which expectation and what to fix."""


def suites_dir(explicit: Path | str | None = None) -> Path:
    """Where suite files live: ``explicit``, else ``$CITYGOV_SUITES_DIR``, else ``<project>/expectations``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(SUITES_DIR_ENV)
    return Path(env) if env else project_home() / "expectations"


def suite_path(code: str, directory: Path | str | None = None) -> Path:
    """The suite file of catalog entry ``code``."""
    return suites_dir(directory) / f"{code}.json"


def register_expectations() -> None:
    """Import the custom expectations so GX knows their types (idempotent)."""
    import citygov.quality.expectations  # noqa: F401


@cache
def gx_context() -> Any:
    """One ephemeral GX context per process, progress bars and analytics off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    register_expectations()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars={"globally": False, "metric_calculations": False},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def dimension_of(expectation: Any) -> Dimension:
    """The GB/T 36344 dimension of an expectation (object or configuration): its ``meta.dimension`` when
    a steward set one, else the custom class's, else :data:`BUILTIN_DIMENSIONS`, else 规范性."""
    config = expectation.configuration if hasattr(expectation, "configuration") else expectation
    meta = config.meta or {}
    if meta.get("dimension"):
        return Dimension(meta["dimension"])
    from great_expectations.expectations.registry import get_expectation_impl

    register_expectations()
    try:
        cls = get_expectation_impl(config.type)
    except Exception:
        cls = None
    if cls is not None and isinstance(getattr(cls, "dimension", None), Dimension):
        return cls.dimension
    return BUILTIN_DIMENSIONS.get(config.type, Dimension.CONFORMITY)


# --- files -----------------------------------------------------------------------------------------------


def load_suite(code: str, directory: Path | str | None = None) -> Any | None:
    """The GX suite of ``code`` from its file, or None when there is none.

    Raises :class:`SuiteFileError` naming the file and expectation when the file is not valid JSON or an
    expectation is unknown or misconfigured (GX itself would drop such an expectation with a log line).
    """
    path = suite_path(code, directory)
    if not path.is_file():
        return None
    return read_suite(path)


def read_suite(path: Path) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    register_expectations()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteFileError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not data.get("name"):
        raise SuiteFileError(f"{path}: a suite file is a JSON object with a name and a list of expectations")
    expectations = []
    for number, item in enumerate(data.get("expectations") or [], start=1):
        try:
            config = ExpectationConfiguration(
                type=item["type"], kwargs=item.get("kwargs") or {}, meta=item.get("meta") or {}, notes=item.get("notes")
            )
            expectations.append(config.to_domain_obj())
        except Exception as exc:
            what = item.get("type") if isinstance(item, dict) else item
            raise SuiteFileError(
                f"{path}: expectation {number} ({what}): {str(exc).strip().splitlines()[0]}; fix or remove it"
            ) from exc
    return gx.ExpectationSuite(
        name=data["name"], expectations=expectations, meta=data.get("meta") or {}, notes=data.get("notes")
    )


def suite_to_dict(suite: Any) -> dict[str, Any]:
    """A suite as the reviewable JSON structure of a suite file (no generated ids)."""
    items = []
    for e in suite.expectations:
        config = e.configuration
        item: dict[str, Any] = {"type": config.type, "kwargs": dict(config.kwargs)}
        if config.meta:
            item["meta"] = config.meta
        if config.notes:
            item["notes"] = config.notes
        items.append(item)
    meta = {k: v for k, v in (suite.meta or {}).items() if k != "great_expectations_version"}
    out: dict[str, Any] = {"name": suite.name, "expectations": items, "meta": meta}
    if suite.notes:
        out["notes"] = suite.notes
    return out


def write_suite(suite: Any, directory: Path | str | None = None, *, path: Path | None = None) -> Path:
    """Write ``suite`` as ``<directory>/<name>.json`` (or ``path``), UTF-8, indented, Chinese readable."""
    target = path or suite_path(suite.name, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(suite_to_dict(suite), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def column_masks(suite: Any) -> dict[str, str]:
    """Column → mask kind from the suite's ``meta.citygov.columns``."""
    columns = ((suite.meta or {}).get("citygov") or {}).get("columns") or {}
    return {name: (info or {}).get("mask", "none") for name, info in columns.items()}


def suite_masks(code: str, directory: Path | str | None = None) -> dict[str, str]:
    """Column → mask kind of ``code``'s suite, read from its file without Great Expectations (all the
    dispute queue needs to mask a record key); {} when there is no suite or it cannot be read."""
    path = suite_path(code, directory)
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("meta") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    columns = (meta.get("citygov") or {}).get("columns") or {}
    return {str(n): (info or {}).get("mask", "none") for n, info in columns.items() if isinstance(info, dict | None)}


# --- drafting ----------------------------------------------------------------------------------------------

_DIVISION_NAMES = {"xzqdm", "ssxq", "qxdm", "hjdqdm", "qcddm", "qrddm", "cbdq", "djjg", "所属区县", "行政区划代码"}
_BIRTH_NAMES = {"csrq", "出生日期", "birth_date", "birthday"}
_GENDER_NAMES = {"xb", "性别", "gender", "sex"}
_PERIOD = re.compile(r"^[0-9]{4}([-/年][0-9]{1,2}月?)?$")
"""Years and months (统计期 2026-10): an enumeration of those only holds until next month."""
_MASK_BY_KIND = {"ric": "ric", "mobile": "mobile", "name": "name", "uscc": "uscc", "plate": "plate", "bankcard": "bankcard"}

BaseSampleCheck = Callable[[str, str, list[Any]], set[Any]]
"""``(base_entry, base_column, values) -> the values found there``, to test referential suggestions."""


def _share(values: Sequence[Any], ok: Callable[[Any], bool]) -> float:
    present = [v for v in values if v is not None and rules.text(v) != ""]
    return sum(1 for v in present if ok(v)) / len(present) if present else 0.0


def _pair_share(a: Sequence[Any], b: Sequence[Any], problem: Callable[[Any, Any], str | None], judged: Callable[[Any, Any], bool]) -> tuple[float, int]:
    pairs = [(x, y) for x, y in zip(a, b, strict=False) if x is not None and y is not None and judged(x, y)]
    if not pairs:
        return 0.0, 0
    return sum(1 for x, y in pairs if problem(x, y) is None) / len(pairs), len(pairs)


def draft_suite(
    entry: CatalogEntry,
    profile: DatasetProfile,
    *,
    catalog: Sequence[CatalogEntry] = (),
    base_check: BaseSampleCheck | None = None,
) -> Any:
    """Suggest a GX suite for ``entry`` from its catalog 信息项 and a ``profile`` of its data.

    Every suggestion is something the profiled data already (mostly) satisfies, so a drafted suite
    reports the rows that break a rule the rest of the data keeps; each expectation's ``meta.drafted``
    says why it was suggested. ``catalog`` and ``base_check`` enable referential-integrity suggestions
    towards related 基础库 entries. The result is a draft: review it, then save it with
    :func:`write_suite` into ``expectations/``.
    """
    import great_expectations as gx

    from citygov.quality import expectations as ce

    register_expectations()
    declared = {c.name: c.dtype for c in entry.columns}
    names = [c.name for c in entry.columns if c.name in profile.columns] or list(profile.columns)
    cols = profile.columns
    sensitive = entry.sensitivity in (Sensitivity.L3, Sensitivity.L4)
    items: list[Any] = []
    masks: dict[str, dict[str, str]] = {}

    def add(expectation: Any, why: str) -> None:
        expectation.meta = {"dimension": dimension_of(expectation).value, "drafted": why}
        items.append(expectation)

    pk = [c for c in entry.primary_key if c in cols]
    for name in pk:
        add(ce.ExpectColumnValuesToNotBeBlank(column=name), "主键必填 primary-key column")
    if len(pk) == 1:
        add(gx.expectations.ExpectColumnValuesToBeUnique(column=pk[0]), "主键唯一 primary key")
    elif len(pk) > 1:
        add(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=pk), "联合主键唯一 compound primary key")

    ric_columns: list[str] = []
    for name in names:
        p = cols[name]
        letter = declared.get(name, ColumnType(p.letter) if p.letter else ColumnType.STRING)
        present = profile.rows - p.nulls
        if name not in pk and profile.rows and p.nulls == 0 and p.blanks == 0:
            add(ce.ExpectColumnValuesToNotBeBlank(column=name), f"完整 no empty value in {profile.rows} rows")
        mask = _MASK_BY_KIND.get(p.kind or "", "none")
        if p.kind == "ric":
            ric_columns.append(name)
            share = _share(p.sample, lambda v: rules.ric_problem(v) is None)
            add(ce.ExpectColumnValuesToBeValidRic(column=name, as_of=LOGICAL_DATE), f"身份证号码 ID numbers ({share:.0%} valid in sample)")
        elif p.kind == "uscc":
            add(ce.ExpectColumnValuesToBeValidUscc(column=name), "统一社会信用代码 credit codes detected")
        elif p.kind == "mobile":
            add(ce.ExpectColumnValuesToBeValidMobile(column=name), "手机号码 mobile numbers detected")
        elif p.kind is None and not present:
            # No data to learn from (an empty or missing resource): the catalog's names and types only.
            if name in _DIVISION_NAMES:
                add(ce.ExpectColumnValuesToBeValidDivisionCode(column=name), "行政区划代码 by column name (no data profiled)")
            elif letter in (ColumnType.DATE, ColumnType.DATETIME):
                add(ce.ExpectColumnValuesToBeDateNotInFuture(column=name, reference_date=LOGICAL_DATE), "日期 declared D/T (no data profiled)")
        elif p.kind is None and present:
            division_share = _share(p.sample, lambda v: rules.division_problem(v) is None)
            shaped = _share(p.sample, lambda v: len(rules.text(v)) == 6 and rules.text(v).isdigit())
            if (name in _DIVISION_NAMES and shaped >= AGREEMENT) or division_share >= AGREEMENT:
                add(ce.ExpectColumnValuesToBeValidDivisionCode(column=name), f"行政区划代码 division codes ({division_share:.0%} known in sample)")
            elif letter in (ColumnType.DATE, ColumnType.DATETIME) or _share(p.sample, lambda v: rules.date_text(v) is not None) >= AGREEMENT:
                add(ce.ExpectColumnValuesToBeDateNotInFuture(column=name, reference_date=LOGICAL_DATE), "日期 dates cannot lie in the future")
            elif p.numeric and letter is ColumnType.NUMBER and p.min_number is not None and p.min_number >= 0:
                add(gx.expectations.ExpectColumnValuesToBeBetween(column=name, min_value=0), "非负数 non-negative in profile")
            elif (
                p.enum_values and letter is ColumnType.STRING and profile.rows >= 5 * len(p.enum_values)
                and not any(_PERIOD.match(v) for v in p.enum_values)
            ):
                add(gx.expectations.ExpectColumnValuesToBeInSet(column=name, value_set=scrub(list(p.enum_values))), f"枚举 {len(p.enum_values)} distinct values")
            elif (
                letter is ColumnType.STRING and p.blanks == 0 and p.distinct > 1
                and p.min_length is not None and p.min_length == p.max_length and p.min_length >= 2
                and all(rules.text(v).isascii() for v in p.sample if v is not None)
            ):
                add(
                    gx.expectations.ExpectColumnValueLengthsToBeBetween(column=name, min_value=p.min_length, max_value=p.max_length),
                    f"定长编码 every value {p.min_length} characters",
                )
            elif sensitive and letter is ColumnType.STRING and name not in pk:
                mask = "redact"
        masks[name] = {"kind": p.kind or "", "mask": mask}

    for ric in ric_columns:
        for name in names:
            p = cols[name]
            if name == ric or p.kind is not None:
                continue
            if name.lower() in _BIRTH_NAMES or name in _BIRTH_NAMES or rules.date_text(next((v for v in p.sample if v), None)) is not None:
                share, n = _pair_share(cols[ric].sample, p.sample, rules.id_birth_problem, lambda a, b: rules.ric_birth(a) is not None and rules.date_text(b) is not None)
                if n and share >= AGREEMENT:
                    add(ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A=ric, column_B=name), f"出生日期与身份证一致 {share:.0%} of {n} sampled rows agree")
                    if sensitive:
                        masks[name]["mask"] = "birthdate"
            if name.lower() in _GENDER_NAMES or name in _GENDER_NAMES:
                share, n = _pair_share(
                    cols[ric].sample, p.sample, rules.id_gender_problem,
                    lambda a, b: rules.ric_male(a) is not None and rules.text(b) in (*rules.MALE_VALUES, *rules.FEMALE_VALUES),
                )
                if n and share >= AGREEMENT:
                    add(ce.ExpectColumnPairValuesToMatchIdGender(column_A=ric, column_B=name), f"性别与身份证一致 {share:.0%} of {n} sampled rows agree")

    if catalog and base_check is not None:
        by_code = {e.code: e for e in catalog}
        for code in entry.related_codes:
            base = by_code.get(code)
            if base is None or base.code == entry.code or base.layer is not Layer.BASE or len(base.primary_key) != 1:
                continue
            key = base.primary_key[0]
            for name in names:
                p = cols[name]
                if p.kind not in ("ric", "uscc"):
                    continue
                values = sorted({rules.text(v) for v in p.sample if v is not None and rules.text(v)})[:500]
                try:
                    found = base_check(base.code, key, values)
                except Exception:  # a base we cannot read is no suggestion
                    continue
                share = sum(1 for v in values if v in found) / len(values) if values else 0.0
                if values and share >= AGREEMENT:
                    add(
                        ce.ExpectColumnValuesToExistInBaseTable(column=name, base_entry=base.code, base_column=key),
                        f"关联基础库 {base.code}.{key}: {share:.0%} of {len(values)} sampled values found",
                    )

    meta = {
        "citygov": {
            "entry_code": entry.code,
            "entry_name": entry.name,
            "provider": entry.provider,
            "location": entry.location,
            "sensitivity": entry.sensitivity.value,
            "columns": masks,
            "drafted_from": {"rows": profile.rows, "sampled_rows": profile.sampled_rows},
        }
    }
    return gx.ExpectationSuite(name=entry.code, expectations=items, meta=meta)
