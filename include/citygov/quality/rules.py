"""The domain checks as plain Python predicates over one value (or one pair of values), by name.

Each rule defines its check in its own module of :mod:`citygov.quality.registry` (beside its SQL,
vectorized and GX forms); this module lists them under one roof for callers that want a check as a
function, and puts a failing row's reason into words. A ``*_problem`` function returns None for a good
value and a short reason code for a bad one.

Values are read as text (:mod:`citygov.quality.cells`): surrounding spaces are ignored, letters are
compared upper-case. A blank value (empty or only spaces) is no identifier's problem: it is judged by
:func:`not_blank_problem` alone, so one empty cell is one completeness finding, not also an accuracy one
(and an optional column stored as ``''`` is not invalid).
"""

from __future__ import annotations

from citygov.quality import registry
from citygov.quality.cells import FEMALE_VALUES, MALE_VALUES, RIC_MIN_YEAR, date_text, text
from citygov.quality.registry.bankcard import bankcard_problem
from citygov.quality.registry.blank import not_blank_problem
from citygov.quality.registry.dates import future_date_problem
from citygov.quality.registry.division import division_problem
from citygov.quality.registry.mobile import mobile_problem
from citygov.quality.registry.pairs import id_birth_problem, id_gender_problem
from citygov.quality.registry.plate import plate_problem
from citygov.quality.registry.ric import ric_birth, ric_male, ric_problem
from citygov.quality.registry.uscc import uscc_problem

__all__ = [
    "FEMALE_VALUES", "MALE_VALUES", "REASONS", "RIC_MIN_YEAR", "bankcard_problem", "date_text", "division_problem",
    "future_date_problem", "id_birth_problem", "id_gender_problem", "mobile_problem", "not_blank_problem",
    "plate_problem", "problem_code", "reason_words", "ric_birth", "ric_male", "ric_problem", "text", "uscc_problem",
]

# --- a failing row's reason in words ---------------------------------------------------------------------

REASONS: dict[str, str] = {
    **registry.reasons(),
    "unexpected": "不符合规则 fails {rule}",
}
"""What a failing row's problem code (``<rule>.<reason code>`` of the ``*_problem`` functions, or a
check's own code) means, in Chinese then English, from every rule's ``reasons``; ``{…}`` are filled
from the row's detail."""


def reason_words(problem: str | None, detail: dict[str, object] | None = None) -> str:
    """The words for one failing row (:data:`REASONS`), with its detail filled in; a detail left out
    reads ``?``. The detail must be masked already: the words are shown as they are."""
    template = REASONS.get(problem or "") or REASONS["unexpected"]
    values = {k: ("?" if v is None else v) for k, v in (detail or {}).items()}
    if (problem or "") not in REASONS:
        values.setdefault("rule", problem or "?")
    words = template.format_map(_Missing(values))
    if values.get("count") not in (None, "?") and "{count}" not in template:
        words += f"（{values['count']} 行 rows）"
    return words


class _Missing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


def problem_code(rule: str, code: str | None) -> str | None:
    """``<rule>.<code>`` (``ric.check_char``) for a ``*_problem`` function's code, None for a good value."""
    return None if code is None else f"{rule}.{code}"
