"""Masking of free text and evidence before the queue stores it: the queue keeps masked evidence only.

ID numbers, credit codes and mobile numbers inside any text are masked by
:func:`citygov.identifiers.mask_text`, the same rule as a single value (``320706********1234``,
``138****8000``). Names inside free text cannot be recognised reliably and are left to the person
writing the text.
"""

from __future__ import annotations

from typing import Any

from citygov.identifiers import mask_text

__all__ = ["mask_evidence", "mask_text"]


def mask_evidence(value: Any) -> Any:
    """Evidence (any JSON-able structure) with every string in it passed through :func:`mask_text`."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(k): mask_evidence(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_evidence(v) for v in value]
    return value
