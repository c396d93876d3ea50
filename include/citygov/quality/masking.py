"""Masking of every value a quality result would show (可用不可见).

A column's mask kind comes from its suite (``meta.citygov.columns[name].mask``, drafted from the
detected identifier type and the dataset's grade): ID ``320706********1234``, mobile ``138****8000``,
name ``张*``, credit code ``913207********123X``, birth date ``1986-**-**``, ``redact`` (``***``) or
``none``. :func:`mask_result` masks GX result dicts by those kinds, then :func:`scrub` masks anything
left in any string that still looks like an ID number, credit code or mobile number, whatever column it
came from. :func:`find_unmasked` is the check tests and the Data Docs build run over the output.

A failing row is shown as a **sample** (:func:`row_samples`): ``{"key", "value", "reason"}`` (and
``"values"``, column → value, for a check of several columns). ``key`` is the record key masked as the
dispute queue masks it (each key column by its mask kind, :func:`citygov.identifiers.mask_key`), or
:data:`NO_KEY` where the dataset has no key column; ``value`` is masked by its column's kind (a birth
date is not an ID number); ``reason`` says in words why that row fails
(:func:`citygov.quality.rules.reason_words`, filled from masked values only). The check results,
a finding's evidence, the scorecard and Data Docs all show this one structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# One masking rule for the whole project: MASK_KINDS, mask_value and scrub (the recursive masker, the
# safety net under mask_result) are citygov.identifiers', re-exported here for the quality modules.
from citygov.identifiers import (  # noqa: F401
    BANKCARD_IN_TEXT,
    KEY_SEPARATOR,
    MASK_KINDS,
    MOBILE_IN_TEXT,
    PLATE_IN_TEXT,
    RIC_IN_TEXT,
    USCC_IN_TEXT,
    bankcard_is_valid,
    in_hex_token,
    mask_key_part,
    mask_value,
    scrub,
)
from citygov.quality import rules

NO_KEY = "—"
"""A sample's key where the dataset declares no key column, or its source lacks one: never invented."""
BLANK_KEY = "(空 blank)"
"""A sample's key where the row's key is empty."""
KEY_HEADER = "记录键 key"
REASON_HEADER = "原因 reason"


def mask_sample(sample: Any, kinds: Sequence[str | None], columns: Sequence[str] = ()) -> Any:
    """Mask a failing sample: a value (one column), a tuple/list (column pair) or a dict (compound key)."""
    if isinstance(sample, Mapping):
        by_name = dict(zip(columns, kinds, strict=False))
        return {k: mask_value(v, by_name.get(k)) for k, v in sample.items()}
    if isinstance(sample, (list, tuple)):
        masked = [mask_value(v, kinds[i] if i < len(kinds) else None) for i, v in enumerate(sample)]
        return type(sample)(masked) if isinstance(sample, tuple) else masked
    return mask_value(sample, kinds[0] if kinds else None)


def result_columns(kwargs: Mapping[str, Any]) -> list[str]:
    """The columns an expectation's kwargs name, in sample order."""
    if kwargs.get("column"):
        return [kwargs["column"]]
    if kwargs.get("column_A"):
        return [kwargs["column_A"], kwargs.get("column_B")]
    return list(kwargs.get("column_list") or [])


_VALUE_LISTS = ("partial_unexpected_list", "unexpected_list")
_DROPPED = ("unexpected_rows", "unexpected_index_query", "unexpected_index_list")


def mask_result(result: dict[str, Any], column_masks: Mapping[str, str]) -> dict[str, Any]:
    """Mask one GX expectation result dict (``ExpectationValidationResult.to_json_dict()``) in place and
    return it: sample lists and value counts by the columns' mask kinds, unexpected rows and index
    queries dropped, then :func:`scrub` over everything."""
    config = result.get("expectation_config") or {}
    columns = result_columns(config.get("kwargs") or {})
    kinds = [column_masks.get(c) for c in columns]
    body = result.get("result") or {}
    for key in _VALUE_LISTS:
        if isinstance(body.get(key), list):
            body[key] = [mask_sample(v, kinds, columns) for v in body[key]]
    if isinstance(body.get("partial_unexpected_counts"), list):
        body["partial_unexpected_counts"] = [
            {**entry, "value": mask_sample(entry.get("value"), kinds, columns)} if isinstance(entry, dict) else entry
            for entry in body["partial_unexpected_counts"]
        ]
    rows = body.get("partial_unexpected_index_list")
    if isinstance(rows, list):
        keys = [k for k in body.get("unexpected_index_column_names") or [] if isinstance(k, str)]
        masked = [_mask_row(r, keys, column_masks) for r in rows if isinstance(r, Mapping)]
        reasons = body.get("partial_unexpected_reasons") or []
        body["partial_unexpected_index_list"] = masked
        body["partial_unexpected_reasons"] = [
            _words(reasons[i] if i < len(reasons) else None, row, columns, config) for i, row in enumerate(masked)
        ]
    else:
        body.pop("partial_unexpected_reasons", None)
    for key in _DROPPED:
        body.pop(key, None)
    return scrub(result)


def _mask_row(row: Mapping[str, Any], keys: Sequence[str], column_masks: Mapping[str, str]) -> dict[str, Any]:
    """One failing row of ``partial_unexpected_index_list``: key columns as the record key is shown,
    the check's columns by their kinds."""
    return {
        str(name): mask_key_part(value, column_masks.get(name)) if name in keys else mask_value(value, column_masks.get(name))
        for name, value in row.items()
    }


def _words(reason: Any, row: Mapping[str, Any], columns: Sequence[str], config: Mapping[str, Any]) -> str:
    """A row's reason in words, from its problem code and detail and the row's *masked* values."""
    if isinstance(reason, str):  # already words (a result masked before)
        return reason
    reason = dict(reason) if isinstance(reason, Mapping) else {}
    problem = reason.pop("problem", None)
    kwargs = config.get("kwargs") or {}
    detail: dict[str, Any] = {**reason, "reference": kwargs.get("reference_date") or kwargs.get("as_of")}
    if len(columns) > 1:
        detail["other"] = row.get(columns[1])
    if kwargs.get("base_entry"):
        detail["base"] = f"{kwargs['base_entry']}.{kwargs.get('base_column') or '?'}"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    detail["range"] = f"{low}–{high}" if low is not None and high is not None else (
        f"≥ {low}" if low is not None else f"≤ {high}" if high is not None else None)
    if isinstance(kwargs.get("value_set"), list):
        shown = [str(v) for v in kwargs["value_set"][:8]]
        detail["allowed"] = "、".join(shown) + ("…" if len(kwargs["value_set"]) > 8 else "")
    if problem not in rules.REASONS:
        from citygov.quality.registry import label

        detail["rule"] = label(config.get("type"))
    return rules.reason_words(problem, detail)


def row_samples(body: Mapping[str, Any], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The failing rows of a *masked* expectation result (its ``result`` dict) as samples (see the
    module docstring), in GX's order; [] when it reports none."""
    keys = [k for k in body.get("unexpected_index_column_names") or [] if isinstance(k, str)]
    reasons = body.get("partial_unexpected_reasons") or []
    out: list[dict[str, Any]] = []
    for i, row in enumerate(body.get("partial_unexpected_index_list") or []):
        if not isinstance(row, Mapping):
            continue
        values = [row.get(c) for c in columns]
        sample: dict[str, Any] = {
            "key": _key(row, keys),
            "value": values[0] if len(values) == 1 else " / ".join(_shown(v) for v in values),
            "reason": reasons[i] if i < len(reasons) and isinstance(reasons[i], str) else None,
        }
        if len(columns) > 1:
            sample["values"] = dict(zip(columns, values, strict=True))
        out.append(sample)
    return out


def _key(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    # The parts were masked one by one (mask_key_part); joined as identifiers.mask_key joins them.
    if not keys or any(k not in row for k in keys):
        return NO_KEY
    return KEY_SEPARATOR.join(str(row[k]) for k in keys) or BLANK_KEY


def _shown(value: Any) -> str:
    return "NULL" if value is None else str(value)


def shown_samples(stored: Any) -> list[dict[str, Any]]:
    """Stored samples (``CheckResult.masked_samples``, a finding's ``samples``) as samples: rows stored
    before samples had keys were masked values alone (a string, or a list for a pair); they read as a
    sample with no key and no reason. Every string is passed through :func:`scrub` once more."""
    out: list[dict[str, Any]] = []
    for item in stored or []:
        if isinstance(item, Mapping) and "key" in item:
            out.append(scrub(dict(item)))
        elif isinstance(item, (list, tuple)):
            out.append({"key": NO_KEY, "value": scrub(" / ".join(_shown(v) for v in item)), "reason": None})
        elif isinstance(item, Mapping):  # a compound value (column → value) stored without a key
            out.append({"key": NO_KEY, "value": scrub(" / ".join(_shown(v) for v in item.values())), "reason": None,
                        "values": scrub(dict(item))})
        else:
            out.append({"key": NO_KEY, "value": scrub(item), "reason": None})
    return out


def docs_samples(result: dict[str, Any]) -> dict[str, Any]:
    """A masked suite result (JSON) made ready for GX's Data Docs renderer, in place: each expectation
    with failing rows gets ``unexpected_index_list`` (GX renders it as the table of sampled values with
    their index columns) whose index columns are :data:`KEY_HEADER` and :data:`REASON_HEADER`, so a
    page shows value, count, record key and reason per row. Results without rows are left as they are."""
    for item in result.get("results") or []:
        body = item.get("result") or {}
        columns = [c for c in result_columns((item.get("expectation_config") or {}).get("kwargs") or {}) if c]
        samples = row_samples(body, columns)
        if not samples or not body.get("partial_unexpected_counts"):
            continue
        shown = " / ".join(columns)  # a pair is one value column ("A / B"), as the scorecard shows it
        body["unexpected_index_list"] = [
            {shown: _shown(s["value"]), KEY_HEADER: s["key"], REASON_HEADER: s["reason"] or "—"} for s in samples
        ]
        body["unexpected_index_column_names"] = [KEY_HEADER, REASON_HEADER]
    return result


def mask_suite_result(result: dict[str, Any], column_masks: Mapping[str, str]) -> dict[str, Any]:
    """Mask a whole ``ExpectationSuiteValidationResult.to_json_dict()`` in place and return it."""
    for item in result.get("results") or []:
        mask_result(item, column_masks)
    return scrub(result)


def find_unmasked(text: str, *, organisations: bool = True) -> list[str]:
    """Identifiers in ``text`` that are *not* masked, right or wrong: 18-character ID numbers and 15-digit
    ones with a plausible birth date in them, credit-code-shaped tokens, and mobile numbers. A failing
    ID (a wrong check character) is still somebody's ID, so validity is not asked; number plates, and
    card numbers whose Luhn digit is right. ``organisations=False`` leaves out credit codes (a unit's
    code, e.g. a department's own, is public): what is left is personal."""
    found: list[str] = []
    for m in RIC_IN_TEXT.finditer(text):
        if in_hex_token(m):
            continue
        token = m.group(1).upper()
        month, day = (token[10:12], token[12:14]) if len(token) == 18 else (token[8:10], token[10:12])
        century_ok = len(token) == 15 or token[6:8] in {"18", "19", "20"}
        if century_ok and 1 <= int(month) <= 12 and 1 <= int(day) <= 31:
            found.append(token)
    if organisations:
        found.extend(m.group(1) for m in USCC_IN_TEXT.finditer(text) if m.group(1).upper() not in found)
    found.extend(m.group(1) for m in MOBILE_IN_TEXT.finditer(text) if not in_hex_token(m))
    found.extend(m.group(1) for m in BANKCARD_IN_TEXT.finditer(text) if bankcard_is_valid(m.group(1)))
    found.extend(m.group(1) for m in PLATE_IN_TEXT.finditer(text))
    return found
