"""Consistency with the ID number: ``expect_column_pair_values_to_match_id_birth_date`` and
``expect_column_pair_values_to_match_id_gender``.

Drafted for an ID column (:mod:`.ric`) beside a birth-date column (by name or dates in it) or a gender
column (by name) when most sampled rows that both sides let judge agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import FEMALE_VALUES, MALE_VALUES, date_text, text
from citygov.quality.registry import (
    CheckForms,
    ExpectationRule,
    GxForm,
    IdPair,
    Param,
    Proposal,
    pair_forms,
    share,
)
from citygov.quality.registry.dates import date_text_sql
from citygov.quality.registry.ric import ric_birth, ric_birth_sql, ric_male, ric_male_sql
from citygov.quality.sqlcond import never_null

BIRTH_TYPE = "expect_column_pair_values_to_match_id_birth_date"
GENDER_TYPE = "expect_column_pair_values_to_match_id_gender"
BIRTH_NAMES = frozenset({"csrq", "出生日期", "birth_date", "birthday"})
"""Column names that say a column holds birth dates."""
GENDER_NAMES = frozenset({"xb", "性别", "gender", "sex"})
"""Column names that say a column holds genders."""


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


def id_birth_ok(id_column: ColumnElement[Any], birth_column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`id_birth_problem` is None."""
    born = ric_birth_sql(id_column, dialect)
    day = date_text_sql(birth_column, dialect)
    return never_null(sa.or_(born.is_(None), day.is_(None), born == day))


def id_gender_ok(
    id_column: ColumnElement[Any],
    gender_column: ColumnElement[Any],
    dialect: str,
    *,
    male_values: Collection[str] = MALE_VALUES,
    female_values: Collection[str] = FEMALE_VALUES,
) -> ColumnElement[bool]:
    """SQL for :func:`id_gender_problem` is None."""
    male = ric_male_sql(id_column, dialect)
    g = sqlcond.as_text(gender_column)
    wrong = sa.or_(sa.and_(male == 1, g.in_(list(female_values))), sa.and_(male == 0, g.in_(list(male_values))))
    return never_null(sa.not_(sa.func.coalesce(wrong, sa.false())))


def gender_values(e: Any) -> dict[str, tuple[str, ...]]:
    """How an expectation's gender column writes male and female (GB/T 2261.1 and 男/女 by default)."""
    return {
        "male_values": tuple(getattr(e, "male_values", None) or MALE_VALUES),
        "female_values": tuple(getattr(e, "female_values", None) or FEMALE_VALUES),
    }


def birth_accept(cols: Sequence[Any]) -> Any:
    """Fast accept of the ID ↔ birth date rule over two TextColumns (compiled kernel,
    :func:`citygov.quality.kernels.id_birth`): the ID's birth digits (bytes 7–14, or ``19`` and bytes
    7–12 of a 15-digit ID) are the date's ``YYYY-MM-DD`` digits, or a side is too short to hold an ID
    or a date (NULL included). Lower-case ``x``, spaces and the rest go to :func:`id_birth_problem`."""
    from citygov.quality import kernels, vector

    return vector.pair_kernel_accept(cols[0], cols[1], kernels.id_birth)


def gender_accept(male_values: Collection[str], female_values: Collection[str]) -> Callable[[Sequence[Any]], Any]:
    """Fast accept of the ID ↔ gender rule (compiled kernel, :func:`citygov.quality.kernels.id_gender`):
    the gender is exactly a word of the ID's sex (one the other list does not also hold, without
    surrounding spaces, up to 8 bytes), or the ID is too short to be one, or the gender is NULL or empty
    while neither list holds ``""``. Other values go to :func:`id_gender_problem`."""
    import numpy as np

    words: list[bytes] = []
    says_male: list[bool] = []
    for male, own, other in ((True, male_values, female_values), (False, female_values, male_values)):
        for word in own:
            if isinstance(word, str) and word and word == word.strip(" ") and word not in other:
                raw = word.encode("utf-8")
                if len(raw) <= 8:
                    words.append(raw)
                    says_male.append(male)
    packed = np.array([np.frombuffer(w.ljust(8, b"\0"), dtype="<i8")[0] for w in words], dtype=np.int64)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    male_flags = np.array(says_male, dtype=np.bool_)
    blank_agrees = "" not in male_values and "" not in female_values

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels, vector

        return vector.pair_kernel_accept(cols[0], cols[1], kernels.id_gender, packed, lengths, male_flags, blank_agrees)

    return cond


def _birth(e: Any) -> CheckForms:
    return dataclasses.replace(pair_forms(e, "id_birth", id_birth_problem, id_birth_ok), vector=birth_accept)


def _gender(e: Any) -> CheckForms:
    values = gender_values(e)
    forms = pair_forms(e, "id_gender", id_gender_problem, id_gender_ok, **values)
    return dataclasses.replace(forms, vector=gender_accept(values["male_values"], values["female_values"]))


def _agreement(pair: IdPair, problem: Callable[[Any, Any], str | None], judged: Callable[[Any, Any], bool]) -> tuple[int, int]:
    rows = [(x, y) for x, y in zip(pair.id_sample, pair.sample, strict=False) if x is not None and y is not None and judged(x, y)]
    return sum(1 for x, y in rows if problem(x, y) is None), len(rows)


def _named(pair: IdPair, names: frozenset[str]) -> bool:
    return pair.name.lower() in names or pair.name in names


def _draft_birth(pair: IdPair) -> Proposal | None:
    if not (_named(pair, BIRTH_NAMES) or date_text(next((v for v in pair.sample if v), None)) is not None):
        return None
    s = _agreement(pair, id_birth_problem, lambda a, b: ric_birth(a) is not None and date_text(b) is not None)
    if not s[1] or share(s) < pair.pair_min:
        return None
    why = f"出生日期与身份证一致 {s[0]} of {s[1]} sampled rows agree"
    return Proposal({"column_A": pair.id_column, "column_B": pair.name}, why, s, other_mask="birthdate")


def _draft_gender(pair: IdPair) -> Proposal | None:
    if not _named(pair, GENDER_NAMES):
        return None
    s = _agreement(pair, id_gender_problem, lambda a, b: ric_male(a) is not None and text(b) in (*MALE_VALUES, *FEMALE_VALUES))
    if not s[1] or share(s) < pair.pair_min:
        return None
    return Proposal({"column_A": pair.id_column, "column_B": pair.name}, f"性别与身份证一致 {s[0]} of {s[1]} sampled rows agree", s)


_PAIR = ("column_A", "column_B")

RULES = (
    ExpectationRule(
        BIRTH_TYPE, Dimension.CONSISTENCY, "出生日期与身份证不符", "birth date disagrees with the ID",
        "以证件为准更正出生日期或身份证号码 correct the birth date or the ID number, as the document says",
        compile=_birth,
        problem=id_birth_problem,
        reasons={"id_birth.mismatch": "出生日期与身份证不符 birth date {other} does not match the ID number"},
        gx=GxForm(
            "ExpectColumnPairValuesToMatchIdBirthDate", "column_pair_values.citygov_id_birth_date",
            "$column_B 应与 $column_A 中的出生日期一致 birth date agrees with the ID",
            """Expect the birth date in ``column_B`` to equal the one encoded in the ID number in ``column_A``.

    Rows where either side holds no date (an ID of the wrong shape or with no real date, a birth date
    that is no ``YYYY-MM-DD``) are not judged here: the ID and format expectations report those.
    """,
            tags=("consistency",),
            args=_PAIR,
        ),
        draft_pair=_draft_birth,
    ),
    ExpectationRule(
        GENDER_TYPE, Dimension.CONSISTENCY, "性别与身份证不符", "gender disagrees with the ID",
        "以证件为准更正性别或身份证号码 correct the gender or the ID number, as the document says",
        compile=_gender,
        problem=id_gender_problem,
        reasons={"id_gender.mismatch": "性别与身份证不符 gender {other} does not match the ID number"},
        gx=GxForm(
            "ExpectColumnPairValuesToMatchIdGender", "column_pair_values.citygov_id_gender",
            "$column_B 应与 $column_A 的性别位一致 gender agrees with the ID",
            """Expect the gender in ``column_B`` to agree with the ID number's sequence digit in ``column_A``
    (odd male, even female). ``male_values`` / ``female_values`` say how the column writes them
    (default GB/T 2261.1 codes 1 / 2 and 男 / 女); other values are not judged here.""",
            tags=("consistency",),
            params=(Param("male_values", None, "values"), Param("female_values", None, "values")),
            args=_PAIR,
        ),
        draft_pair=_draft_gender,
    ),
)
