"""The SQL conditions agree with the Python rules value for value, on SQLite and PostgreSQL.

The fused validation and GX's SQL engine count failing rows with :mod:`citygov.quality.sqlcond`; the
pandas path and the reference semantics are :mod:`citygov.quality.rules`. Any disagreement would make a
count depend on where the data lives.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from citygov.identifiers import USCC_ALPHABET, make_ric, make_uscc
from citygov.quality import rules, sqlcond
from citygov.quality.registry import blank, dates, division, mobile, pairs, plate, ric, uscc

AS_OF = "2026-11-28"
PG_ADMIN_URL = os.environ.get("CITYGOV_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _values(n: int = 2500) -> list[tuple[str | None, str | None]]:
    """(value, partner) pairs: IDs, credit codes, mobiles, division codes and dates, good and bad."""
    rng = random.Random(2260)
    out: list[tuple[str | None, str | None]] = []
    for _ in range(n):
        born = date(1890, 1, 1) + timedelta(days=rng.randrange(0, 140 * 365))
        ric = make_ric(rng.choice(["320706", "320705", "110101", "320708", "999999", "320721", "320724"]), born, rng.randrange(1000))
        roll = rng.random()
        if roll < 0.2:
            ric = ric[:17] + rng.choice("0123456789X")
        elif roll < 0.3:
            ric = ric[:6] + ric[8:17]  # 15 digits
        elif roll < 0.35:
            ric = ric.lower()
        elif roll < 0.4:
            ric = ric[:10] + rng.choice(["0229", "0230", "1301", "0000", "1231"]) + ric[14:]
        elif roll < 0.45:
            ric = f" {ric} "
        elif roll < 0.5:
            ric = ric[:-3] + "a" + ric[-2:]
        partner_roll = rng.random()
        if partner_roll < 0.5:
            partner = born.isoformat() if rng.random() < 0.8 else (born + timedelta(days=1)).isoformat()
        elif partner_roll < 0.8:
            partner = rng.choice(["1", "2", "男", "女", "9"])
        else:
            partner = rng.choice(["1990/01/02", "not a date", "", "2030-01-01 08:00:00"])
        out.append((ric, partner))
        code = make_uscc(rng.choice(["320706", "110101"]), rng.randrange(10**8), rng.choice("159"), "1")
        if rng.random() < 0.3:
            code = code[:17] + rng.choice(USCC_ALPHABET)
        if rng.random() < 0.05:
            code = code.lower()
        out.append((code, None))
        out.append((rng.choice(["138", "199", "120", "1"]) + f"{rng.randrange(10**8):08d}", None))
        out.append((rng.choice(["320706", "320705", "320708", "32070", "3207061", "abcdef", "110101"]), None))
        out.append(((date(2026, 11, 1) + timedelta(days=rng.randrange(60))).isoformat() + rng.choice(["", " 12:00:00"]), None))
    out += [("", ""), (" ", " "), ("１１０１０５１９４９１２３１００２Ｘ", "1949-12-31"), ("11010519491231002X\n", None), (None, None)]
    return out


def _check(engine: sa.Engine) -> None:
    dialect = engine.dialect.name
    table = sa.Table(
        "quality_values", sa.MetaData(), sa.Column("v", sa.String), sa.Column("p", sa.String), prefixes=["TEMPORARY"]
    )
    values = _values()
    with engine.connect() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"v": v, "p": p} for v, p in values])
        v, p = table.c.v, table.c.p
        query = sa.select(
            v,
            p,
            ric.ric_ok(v, dialect, as_of=AS_OF),
            ric.ric_ok(v, dialect, allow_15_digit=False),
            ric.ric_birth_sql(v, dialect),
            ric.ric_male_sql(v, dialect),
            uscc.uscc_ok(v, dialect),
            mobile.mobile_ok(v, dialect),
            division.division_ok(v, dialect),
            division.division_ok(v, dialect, current_only=True),
            dates.not_future_ok(v, dialect, reference_date=AS_OF),
            blank.not_blank_ok(v),
            pairs.id_birth_ok(v, p, dialect),
            pairs.id_gender_ok(v, p, dialect),
        ).where(v.is_not(None))
        rows = conn.execute(query).all()
    assert len(rows) == len(values) - 1
    for row in rows:
        value, partner = row[0], row[1]
        male = rules.ric_male(value)
        expected = (
            rules.ric_problem(value, as_of=AS_OF) is None,
            rules.ric_problem(value, allow_15_digit=False) is None,
            rules.ric_birth(value),
            None if male is None else int(male),
            rules.uscc_problem(value) is None,
            rules.mobile_problem(value) is None,
            rules.division_problem(value) is None,
            rules.division_problem(value, current_only=True) is None,
            rules.future_date_problem(value, reference_date=AS_OF) is None,
            rules.not_blank_problem(value) is None,
            partner is None or rules.id_birth_problem(value, partner) is None,
            partner is None or rules.id_gender_problem(value, partner) is None,
        )
        got = (
            bool(row[2]), bool(row[3]), row[4], row[5], bool(row[6]), bool(row[7]), bool(row[8]), bool(row[9]),
            bool(row[10]), bool(row[11]), bool(row[12]), bool(row[13]),
        )
        assert got == expected, (value, partner)
    # the generated values exercise both outcomes of every rule
    for column in (2, 3, 6, 7, 8, 9, 10, 12, 13):
        assert {bool(r[column]) for r in rows} == {True, False}, column


def test_sql_agrees_with_python_on_sqlite() -> None:
    engine = sa.create_engine("sqlite://")
    try:
        _check(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_sql_agrees_with_python_on_postgresql() -> None:
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # any driver error means "no server"
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
    try:
        _check(engine)
    finally:
        engine.dispose()


PLATES = [
    "苏G12345", "苏G·12345", "苏G・12345", "苏G.12345", "苏G-12345", "苏G 12345", "苏GD12345", "沪A12345学", "苏G1234挂",
    "苏G123456", "京AD1234X", "粤B·A1234", "苏GA1B2C", " 苏G12345 ",
    "苏GABCDE", "苏GABCDEF", "苏G1234", "苏I12345", "苏g12345", "苏G1234567", "X苏G12345", "苏G12345\n", "苏GABCD挂",
    "苏G*1234", "苏G--12345", "", "12345", "苏G12",
]


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_plate_sql_agrees_with_python(dialect: str) -> None:
    engine = sa.create_engine("sqlite://" if dialect == "sqlite" else PG_ADMIN_URL, connect_args={} if dialect == "sqlite" else {"connect_timeout": 3})
    table = sa.Table("quality_plates", sa.MetaData(), sa.Column("v", sa.String), prefixes=["TEMPORARY"])
    try:
        with engine.connect() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"v": v} for v in PLATES])
            rows = conn.execute(sa.select(table.c.v, plate.plate_ok(table.c.v, dialect))).all()
    except sa.exc.OperationalError as exc:
        if dialect == "sqlite" or os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    assert {value: bool(ok) for value, ok in rows} == {value: rules.plate_problem(value) is None for value in PLATES}
    assert sum(rules.plate_problem(v) is None for v in PLATES) == 15  # 14 plates and the blank (not-blank's to judge)


def test_unsupported_dialect_says_so() -> None:
    with pytest.raises(sqlcond.UnsupportedDialect):
        sqlcond.matches(sa.column("x"), ["[0-9]"], "mssql")


@pytest.mark.postgres
def test_typed_date_columns_on_postgresql_agree_with_their_text() -> None:
    """PostgreSQL DATE and TIMESTAMP columns are compared natively; the result must be the rules' on the
    ISO text of the same values."""
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # any driver error means "no server"
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
    table = sa.Table(
        "quality_dates", sa.MetaData(), sa.Column("ric", sa.String), sa.Column("d", sa.Date), sa.Column("ts", sa.DateTime),
        prefixes=["TEMPORARY"],
    )
    rng = random.Random(5)
    rows = []
    for _ in range(500):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
        day = date(2026, 11, 1) + timedelta(days=rng.randrange(60))
        from datetime import datetime, time

        rows.append({"ric": make_ric("320706", born, 1), "d": born if rng.random() < 0.7 else day,
                     "ts": datetime.combine(day, time(rng.randrange(24), 30))})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET datestyle = 'SQL, DMY'")  # a hostile server default
            conn.exec_driver_sql("SET LOCAL datestyle = 'ISO, YMD'")
            table.create(conn)
            conn.execute(table.insert(), rows)
            c = table.c
            got = conn.execute(sa.select(
                dates.not_future_ok(c.d, "postgresql", reference_date=AS_OF),
                dates.not_future_ok(c.ts, "postgresql", reference_date=AS_OF),
                pairs.id_birth_ok(c.ric, c.d, "postgresql"),
            )).all()
        for row, values in zip(got, rows, strict=True):
            assert bool(row[0]) == (rules.future_date_problem(values["d"].isoformat(), reference_date=AS_OF) is None)
            assert bool(row[1]) == (rules.future_date_problem(values["ts"].isoformat(" "), reference_date=AS_OF) is None)
            assert bool(row[2]) == (rules.id_birth_problem(values["ric"], values["d"].isoformat()) is None)
        assert {bool(r[0]) for r in got} == {True, False} and {bool(r[2]) for r in got} == {True, False}
    finally:
        engine.dispose()
