"""Masking of free text and evidence before the queue stores it: the queue keeps masked evidence only.

Resident ID numbers (18 or 15 digits) and mobile numbers inside any text are masked the way
:func:`citygov.identifiers.mask_value` masks a single value (``320706********1234``, ``138****8000``).
Names inside free text cannot be recognised reliably and are left to the person writing the text.
"""

from __future__ import annotations

import re
from typing import Any

from citygov.identifiers import mask_value

# Digits not preceded or followed by another digit, so a longer number is not partly masked.
_RIC_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def mask_text(text: str) -> str:
    """``text`` with every ID and mobile number in it masked."""
    text = _RIC_IN_TEXT.sub(lambda m: mask_value(m.group(1), "ric") or "", text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_value(m.group(1), "mobile") or "", text)


def mask_evidence(value: Any) -> Any:
    """Evidence (any JSON-able structure) with every string in it passed through :func:`mask_text`."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(k): mask_evidence(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_evidence(v) for v in value]
    return value
