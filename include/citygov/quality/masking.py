"""Masking of every value a quality result would show (可用不可见).

A column's mask kind comes from its suite (``meta.citygov.columns[name].mask``, drafted from the
detected identifier type and the dataset's grade): ID ``320706********1234``, mobile ``138****8000``,
name ``张*``, credit code ``913207********123X``, birth date ``1986-**-**``, ``redact`` (``***``) or
``none``. :func:`mask_result` masks GX result dicts by those kinds, then :func:`scrub` masks anything
left in any string that still looks like an ID number, credit code or mobile number, whatever column it
came from. :func:`find_unmasked` is the check tests and the Data Docs build run over the output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# One masking rule for the whole project; MASK_KINDS and mask_value are re-exported for the suites.
from citygov.identifiers import (  # noqa: F401
    BANKCARD_IN_TEXT,
    MASK_KINDS,
    MOBILE_IN_TEXT,
    PLATE_IN_TEXT,
    RIC_IN_TEXT,
    USCC_IN_TEXT,
    bankcard_is_valid,
    mask_text,
    mask_value,
)


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
_DROPPED = ("unexpected_rows", "unexpected_index_query", "unexpected_index_list", "partial_unexpected_index_list")


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
    for key in _DROPPED:
        body.pop(key, None)
    return scrub(result)


def mask_suite_result(result: dict[str, Any], column_masks: Mapping[str, str]) -> dict[str, Any]:
    """Mask a whole ``ExpectationSuiteValidationResult.to_json_dict()`` in place and return it."""
    for item in result.get("results") or []:
        mask_result(item, column_masks)
    return scrub(result)


def scrub(obj: Any) -> Any:
    """Mask, in every string of ``obj`` (dicts and lists walked), whatever looks like an 18- or 15-digit
    ID number, a credit code or a mobile number. The safety net under :func:`mask_result`."""
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = scrub(obj[key])
        return obj
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(scrub(v) for v in obj)
    return obj


scrub_text = mask_text


def find_unmasked(text: str, *, organisations: bool = True) -> list[str]:
    """Identifiers in ``text`` that are *not* masked, right or wrong: 18-character ID numbers and 15-digit
    ones with a plausible birth date in them, credit-code-shaped tokens, and mobile numbers. A failing
    ID (a wrong check character) is still somebody's ID, so validity is not asked; number plates, and
    card numbers whose Luhn digit is right. ``organisations=False`` leaves out credit codes (a unit's
    code, e.g. a department's own, is public): what is left is personal."""
    found: list[str] = []
    for m in RIC_IN_TEXT.finditer(text):
        token = m.group(1).upper()
        month, day = (token[10:12], token[12:14]) if len(token) == 18 else (token[8:10], token[10:12])
        century_ok = len(token) == 15 or token[6:8] in {"18", "19", "20"}
        if century_ok and 1 <= int(month) <= 12 and 1 <= int(day) <= 31:
            found.append(token)
    if organisations:
        found.extend(m.group(1) for m in USCC_IN_TEXT.finditer(text) if m.group(1).upper() not in found)
    found.extend(m.group(1) for m in MOBILE_IN_TEXT.finditer(text))
    found.extend(m.group(1) for m in BANKCARD_IN_TEXT.finditer(text) if bankcard_is_valid(m.group(1)))
    found.extend(m.group(1) for m in PLATE_IN_TEXT.finditer(text))
    return found
