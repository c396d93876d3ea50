"""The domain checks as plain Python predicates over one value (or one pair of values).

These functions *define* what each domain expectation means; the pandas partials call them, and the
SQL conditions in :mod:`citygov.quality.sqlcond` are tested to agree with them value for value. A
``*_problem`` function returns None for a good value and a short reason code for a bad one.

Values are read as text: surrounding whitespace is ignored, letters are compared upper-case. A blank
value (empty or only spaces) is no identifier's problem: it is judged by :func:`not_blank_problem` alone,
so one empty cell is one completeness finding, not also an accuracy one (and an optional column stored
as ``''`` is not invalid).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date

from citygov.identifiers import PLATE_RE, USCC_ALPHABET, ric_check_char, uscc_check_char
from citygov.quality.reference import division_known, known_division_codes

RIC_MIN_YEAR = 1850
"""Birth years before this are not real (the GB 11643 example is born 1880)."""

MALE_VALUES: tuple[str, ...] = ("1", "男", "男性", "M")
"""Gender-column values that mean male (GB/T 2261.1 code 1)."""
FEMALE_VALUES: tuple[str, ...] = ("2", "女", "女性", "F")
"""Gender-column values that mean female (GB/T 2261.1 code 2)."""

_DIGITS17 = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS15 = re.compile(r"[0-9]{15}")
_ISO_DATE = re.compile(r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}")
_USCC_SHAPE = re.compile(rf"[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DIVISION = re.compile(r"[0-9]{6}")


def text(value: object) -> str:
    """A cell as text without surrounding spaces (SQL ``TRIM`` strips spaces only, so this does too)."""
    return "" if value is None else str(value).strip(" ")


def _real_date(year: int, month: int, day: int) -> bool:
    if year < RIC_MIN_YEAR or not 1 <= month <= 12 or day < 1:
        return False
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    days = 29 if month == 2 and leap else 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31
    return day <= days


def ric_birth(value: object) -> str | None:
    """The birth date in an 18- or 15-digit ID number as ``YYYY-MM-DD``, when it is a real date.

    Needs only the digits, not a right check character (consistency checks use it on any ID).
    """
    t = text(value).upper()
    if _DIGITS17.fullmatch(t):
        y, m, d = int(t[6:10]), int(t[10:12]), int(t[12:14])
    elif _DIGITS15.fullmatch(t):
        y, m, d = 1900 + int(t[6:8]), int(t[8:10]), int(t[10:12])
    else:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}" if _real_date(y, m, d) else None


def ric_male(value: object) -> bool | None:
    """Whether an ID number's sequence says male (odd) or female (even); None when it is no ID shape."""
    t = text(value).upper()
    if _DIGITS17.fullmatch(t):
        return int(t[16]) % 2 == 1
    if _DIGITS15.fullmatch(t):
        return int(t[14]) % 2 == 1
    return None


def ric_problem(
    value: object,
    *,
    as_of: date | str | None = None,
    allow_15_digit: bool = True,
    division_in_birth_year: bool = False,
) -> str | None:
    """Why ``value`` is not a valid resident ID number (GB 11643-1999), or None when it is.

    18 characters: 17 digits and the MOD 11-2 check character (``X`` in either case); a real birth date
    from 1850 on and not after ``as_of``; a division prefix known in GB/T 2260, retired codes included
    (``division_in_birth_year`` also asks that the code was in use in the birth year, as
    ``stdnum.cn.ric`` does). Old 15-digit numbers (division, ``YYMMDD`` in the 1900s, sequence, no check
    character) pass with a real date and a known division unless ``allow_15_digit`` is False.

    Reasons: ``format``, ``fifteen_digit``, ``check_char``, ``birth_date``, ``future_birth``, ``division``.
    """
    t = text(value).upper()
    if t == "":
        return None
    if _DIGITS17.fullmatch(t):
        if ric_check_char(t[:17]) != t[17]:
            return "check_char"
    elif _DIGITS15.fullmatch(t):
        if not allow_15_digit:
            return "fifteen_digit"
    else:
        return "format"
    born = ric_birth(t)
    if born is None:
        return "birth_date"
    if as_of is not None and born > _iso(as_of):
        return "future_birth"
    year = int(born[:4]) if division_in_birth_year else None
    if not division_known(t[:6], year=year):
        return "division"
    return None


def uscc_problem(value: object) -> str | None:
    """Why ``value`` is not a unified social credit code (GB 32100-2015), or None.

    18 characters of ``0-9 A-H J-N P-R T U W X Y``, a 6-digit division part (positions 3–8) and the MOD 31
    check character. Letters are allowed in positions 1–2 (e.g. registering authority ``Y``), unlike
    ``stdnum.cn.uscc``, which wants digits in positions 1–8. Reasons: ``format``, ``check_char``.
    """
    t = text(value).upper()
    if t == "":
        return None
    if not _USCC_SHAPE.fullmatch(t):
        return "format"
    return None if uscc_check_char(t[:17]) == t[17] else "check_char"


def mobile_problem(value: object) -> str | None:
    """Why ``value`` is not a mainland mobile number (11 digits, ``1[3-9]…``), or None."""
    t = text(value)
    return None if t == "" or _MOBILE.fullmatch(t) else "format"


def plate_problem(value: object) -> str | None:
    """Why ``value`` is not a mainland number plate (号牌, GA 36: province, issuing letter, an optional
    dot, 5 characters or 6 on new-energy plates with a digit among them, the last may be 挂 学 警 港 澳 领;
    :data:`citygov.identifiers.PLATE_RE`), or None."""
    t = text(value)
    return None if t == "" or PLATE_RE.fullmatch(t) else "format"


def division_problem(value: object, *, current_only: bool = False) -> str | None:
    """Why ``value`` is not a GB/T 2260 division code, or None. Retired codes pass unless ``current_only``."""
    t = text(value)
    if t == "":
        return None
    if not _DIVISION.fullmatch(t):
        return "format"
    if t not in known_division_codes():
        return "unknown"
    if current_only:
        from citygov.quality.reference import current_division_codes

        if t not in current_division_codes():
            return "retired"
    return None


def date_text(value: object) -> str | None:
    """The ``YYYY-MM-DD`` a date-like cell starts with (``YYYY/MM/DD`` too), or None."""
    t = text(value)
    if not _ISO_DATE.match(t):
        return None
    return t[:10].replace("/", "-")


def future_date_problem(value: object, *, reference_date: date | str) -> str | None:
    """``future`` when a date-like value lies after ``reference_date``; values that are no date pass
    (a format expectation judges those)."""
    day = date_text(value)
    return "future" if day is not None and day > _iso(reference_date) else None


def not_blank_problem(value: object) -> str | None:
    """``missing`` for NULL, an empty string or only whitespace."""
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    return "missing" if text(value) == "" else None


def id_birth_problem(id_value: object, birth_value: object) -> str | None:
    """``mismatch`` when both the ID number and the birth-date cell hold a date and they differ."""
    born = ric_birth(id_value)
    day = date_text(birth_value)
    return "mismatch" if born is not None and day is not None and born != day else None


def id_gender_problem(
    id_value: object,
    gender_value: object,
    *,
    male_values: Collection[str] = MALE_VALUES,
    female_values: Collection[str] = FEMALE_VALUES,
) -> str | None:
    """``mismatch`` when the gender cell says the opposite of the ID number's sequence digit; values
    that are neither male nor female pass (a value-set expectation judges those)."""
    male = ric_male(id_value)
    g = text(gender_value)
    if male is None:
        return None
    if male and g in set(female_values):
        return "mismatch"
    if not male and g in set(male_values):
        return "mismatch"
    return None


def _iso(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)[:10]


# --- a failing row's reason in words ---------------------------------------------------------------------

REASONS: dict[str, str] = {
    "ric.format": "身份证号码格式错误 not an ID number (18 characters, or 15 digits)",
    "ric.fifteen_digit": "15位旧号码 old 15-digit ID number (not accepted here)",
    "ric.check_char": "校验位错误 check character wrong",
    "ric.birth_date": "出生日期无效 the birth date in the ID number is no real date",
    "ric.future_birth": "出生日期晚于 {reference} the birth date in the ID number is after {reference}",
    "ric.division": "行政区划代码不存在 division code of the ID number unknown",
    "uscc.format": "统一社会信用代码格式错误 not a credit code (18 characters of 0-9 A-Y)",
    "uscc.check_char": "校验位错误 check character wrong",
    "mobile.format": "手机号码格式错误 not a mobile number (11 digits, 1[3-9]…)",
    "plate.format": "号牌格式错误 not a number plate (GA 36)",
    "division.format": "行政区划代码格式错误 not a 6-digit division code",
    "division.unknown": "行政区划代码不存在 division code unknown",
    "division.retired": "行政区划代码已撤销 division code retired",
    "date.future": "日期晚于 {reference} date after {reference}",
    "id_birth.mismatch": "出生日期与身份证不符 birth date {other} does not match the ID number",
    "id_gender.mismatch": "性别与身份证不符 gender {other} does not match the ID number",
    "missing": "值为空 value missing (NULL or blank)",
    "null": "值为空 value is NULL",
    "not_in_set": "不在取值范围内 not one of {allowed}",
    "out_of_range": "超出范围 out of range, expected {range}",
    "length": "长度不符 length {length}, expected {range}",
    "duplicate": "重复 value occurs more than once",
    "duplicate_key": "组合重复 combination of values occurs more than once",
    "not_in_base": "基础库中不存在 not found in {base}",
    "unexpected": "不符合规则 fails {rule}",
}
"""What a failing row's problem code (``<rule>.<reason code>`` of the ``*_problem`` functions, or a
check's own code) means, in Chinese then English; ``{…}`` are filled from the row's detail."""


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
