"""Resident ID numbers (居民身份证号码, GB 11643-1999): ``expect_column_values_to_be_valid_ric``.

18 characters: 17 digits and the MOD 11-2 check character (``X`` in either case); a real birth date
from 1850 on and not after ``as_of``; a division prefix known in GB/T 2260, retired codes included.
The number itself is checked by :func:`citygov.identifiers.ric_defect` (the project's one ID
validator); this rule adds the division table. Also the ID's birth date and sex, which the consistency
rules (:mod:`.pairs`) compare with other columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.identifiers import RIC15_RE, RIC18_RE, ric_birth_text, ric_defect
from citygov.quality import sqlcond
from citygov.quality.cells import RIC_MIN_YEAR, iso, text
from citygov.quality.reference import division_known
from citygov.quality.registry import (
    LOGICAL_DATE,
    CheckForms,
    ExpectationRule,
    GxForm,
    Param,
    draft_valid,
    explain,
    map_forms,
)
from citygov.quality.sqlcond import DIGIT, concat, digits_at, in_divisions, matches, never_null, real_date

TYPE = "expect_column_values_to_be_valid_ric"
PREFIX = "ric"

# --- Python ----------------------------------------------------------------------------------------------


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
    defect = ric_defect(t, as_of=as_of, allow_15_digit=allow_15_digit)
    if defect is not None:
        return defect
    year = int(t[6:10] if len(t) == 18 else "19" + t[6:8]) if division_in_birth_year else None
    return None if division_known(t[:6], year=year) else "division"


def ric_birth(value: object) -> str | None:
    """The birth date in an 18- or 15-digit ID number as ``YYYY-MM-DD``, when it is a real date.

    Needs only the digits, not a right check character (consistency checks use it on any ID).
    """
    return ric_birth_text(text(value).upper())


def ric_male(value: object) -> bool | None:
    """Whether an ID number's sequence says male (odd) or female (even); None when it is no ID shape."""
    t = text(value).upper()
    if RIC18_RE.fullmatch(t):
        return int(t[16]) % 2 == 1
    if RIC15_RE.fullmatch(t):
        return int(t[14]) % 2 == 1
    return None


# --- SQL -------------------------------------------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _shapes(t: ColumnElement[str], dialect: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return matches(t, [DIGIT] * 17 + ["[0-9X]"], dialect), matches(t, [DIGIT] * 15, dialect)


def ric_ok(
    column: ColumnElement[Any],
    dialect: str,
    *,
    as_of: date | str | None = None,
    allow_15_digit: bool = True,
    division_in_birth_year: bool = False,
) -> ColumnElement[bool]:
    """SQL for :func:`ric_problem` is None."""
    if division_in_birth_year:
        raise sqlcond.UnsupportedDialect("division_in_birth_year is checked in Python only (pandas or GX fallback)")
    t = sa.func.upper(sqlcond.as_text(column))
    shape18, shape15 = _shapes(t, dialect)
    total = sum((digits_at(t, i + 1, 1) * w for i, w in enumerate(_WEIGHTS)), sa.literal(0))
    check_ok = sa.func.substr(sa.literal("10X98765432"), (total % 11) + 1, 1) == sa.func.substr(t, 18, 1)
    div_ok = in_divisions(sa.func.substr(t, 1, 6), dialect)
    ok18 = [check_ok, real_date(digits_at(t, 7, 4), digits_at(t, 11, 2), digits_at(t, 13, 2)), div_ok]
    ok15 = [real_date(digits_at(t, 7, 2) + 1900, digits_at(t, 9, 2), digits_at(t, 11, 2)), div_ok]
    if as_of is not None:
        ref = iso(as_of).replace("-", "")
        ok18.append(sa.func.substr(t, 7, 8) <= ref)
        ok15.append(concat("19", sa.func.substr(t, 7, 6)) <= ref)
    whens = [(sqlcond.empty(t), sa.true()), (shape18, sa.and_(*ok18))]
    if allow_15_digit:
        whens.append((shape15, sa.and_(*ok15)))
    return never_null(sa.case(*whens, else_=sa.false()))


def ric_birth_sql(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """SQL for :func:`ric_birth` (``YYYY-MM-DD`` or NULL)."""
    t = sa.func.upper(sqlcond.as_text(column))
    shape18, shape15 = _shapes(t, dialect)
    born18 = concat(sa.func.substr(t, 7, 4), "-", sa.func.substr(t, 11, 2), "-", sa.func.substr(t, 13, 2))
    born15 = concat("19", sa.func.substr(t, 7, 2), "-", sa.func.substr(t, 9, 2), "-", sa.func.substr(t, 11, 2))
    real18 = real_date(digits_at(t, 7, 4), digits_at(t, 11, 2), digits_at(t, 13, 2))
    real15 = real_date(digits_at(t, 7, 2) + 1900, digits_at(t, 9, 2), digits_at(t, 11, 2))
    return sa.case(
        (shape18, sa.case((real18, born18), else_=sa.null())),
        (shape15, sa.case((real15, born15), else_=sa.null())),
        else_=sa.null(),
    )


def ric_male_sql(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """1 when the ID number's sequence digit is odd (male), 0 when even, NULL for no ID shape."""
    t = sa.func.upper(sqlcond.as_text(column))
    shape18, shape15 = _shapes(t, dialect)
    return sa.case((shape18, digits_at(t, 17, 1) % 2), (shape15, digits_at(t, 15, 1) % 2), else_=sa.null())


# --- vectorized ------------------------------------------------------------------------------------------


def fast_accept(as_of: Any, allow_15_digit: bool = True) -> Any:
    """18-character IDs (``X`` in either case), 15-digit ones when ``allow_15_digit``, and blanks, by
    the compiled kernel; spaces around and odd-looking values go to :func:`ric_problem`."""
    from citygov.quality import vector

    limit = vector.iso_number(as_of) if as_of is not None else 99999999

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels

        return vector.kernel_accept(cols[0], kernels.ric, limit, vector.division_table(False), RIC_MIN_YEAR, allow_15_digit,
                                    blank=True)

    return cond


# --- the rule --------------------------------------------------------------------------------------------


def _compile(e: Any) -> CheckForms:
    kw = {"as_of": e.as_of, "allow_15_digit": e.allow_15_digit}
    if e.division_in_birth_year:  # the birth year's division table: Python only, GX runs it
        return CheckForms("gx", (e.column,), explain=explain(PREFIX, ric_problem, **kw, division_in_birth_year=True))
    return map_forms(e, PREFIX, ric_problem, ric_ok, vector=fast_accept(e.as_of, e.allow_15_digit), **kw)


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "身份证号码无效", "invalid resident ID number",
        "核对并更正身份证号码（校验位、出生日期、行政区划） check and correct the ID numbers (check character, birth date, division)",
        compile=_compile,
        problem=ric_problem,
        reasons={
            "ric.format": "身份证号码格式错误 not an ID number (18 characters, or 15 digits)",
            "ric.fifteen_digit": "15位旧号码 old 15-digit ID number (not accepted here)",
            "ric.check_char": "校验位错误 check character wrong",
            "ric.birth_date": "出生日期无效 the birth date in the ID number is no real date",
            "ric.future_birth": "出生日期晚于 {reference} the birth date in the ID number is after {reference}",
            "ric.division": "行政区划代码不存在 division code of the ID number unknown",
        },
        gx=GxForm(
            "ExpectColumnValuesToBeValidRic", "column_values.citygov_valid_ric",
            "$column 应为有效的居民身份证号码 valid resident ID (GB 11643)",
            """Expect column values to be valid resident ID numbers (居民身份证号码, GB 11643-1999).

    18 characters: 17 digits and the ISO 7064 MOD 11-2 check character; a real birth date, not after
    ``as_of`` (the run's logical date, usually ``{"$PARAMETER": "logical_date"}``); the first six digits a
    division code known in GB/T 2260, retired codes included (old IDs keep them). Old 15-digit numbers
    pass with a real 19xx date and a known division unless ``allow_15_digit`` is False.
    ``division_in_birth_year`` also requires the code to have been in use in the birth year (what
    ``stdnum.cn.ric`` does; off by default because IDs are re-issued under a newer code).
    """,
            tags=("identifier",),
            params=(Param("as_of", None, "date"), Param("allow_15_digit", True), Param("division_in_birth_year", False)),
        ),
        draft_kind="ric",
        draft=draft_valid(ric_problem, "身份证号码 ID numbers", as_of=LOGICAL_DATE),
    ),
)
