"""GX result objects of computed checks: metrics handed to each expectation's own ``_validate`` (GX's
success, ``mostly`` and result-format logic), failing rows attached, suite results, and their JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from citygov.quality.checks import RESULT_FORMAT, SAMPLE_SIZE, Check


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


def rows_from_gx(check: Check, result: Any, keys: Sequence[str]) -> None:
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


