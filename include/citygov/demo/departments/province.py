"""The province's backflow: two staging tables in the city's front database holding what the good
batches delivered, and the six batches in ``landing/`` (four good, one quarantining two rows, two bad
that arrived on the as-of date and were not loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, SyncMode, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DepartmentSpec, Rows
from citygov.demo.fake import Enterprise, Person
from citygov.demo.model import Batch, col_c, col_d, col_t

_DRAWN = "sdsj.backflow"


@dataclass
class _Backflow:
    """What the staging tables and the batches share."""

    firms: list[Enterprise]
    stamps: dict[date, str]
    """When the province sent each day's batches (02:mm:ss)."""
    pool: list[Person] = field(default_factory=list)
    """Working-age residents insured before the first batch day."""
    people: list[Person] = field(default_factory=list)
    """Those of the pool the two good insured batches deliver."""
    first: Rows = field(default_factory=list)
    """The first day's insured batch (60 % of ``people``) …"""
    second: Rows = field(default_factory=list)
    """… and the second day's."""


def _firm_row(drawn: _Backflow, e: Enterprise, day: date) -> dict[str, object]:
    return {
        "tyshxydm": e.code,
        "qymc": e.name,
        "fddbr": e.legal_rep.name,
        "clrq": e.founded.isoformat(),
        "djjg": e.district,
        "djzt": "存续",
        "tbsj": drawn.stamps[day],
    }


def _insured_row(city: CityBuilder, p: Person, day: date) -> dict[str, object]:
    drawn: _Backflow = city.shared[_DRAWN]
    first_day = city.as_of - timedelta(days=2)
    return {
        "sfzhm": p.ric,
        "xm": p.name,
        "xzlx": "110",
        "cbdq": p.district,
        "cbrq": city.fake.date_between(city.since(p.birth, 19), first_day - timedelta(days=1)).isoformat(),
        "tbsj": drawn.stamps[day],
    }


def _enterprise_rows(city: CityBuilder) -> Rows:
    size = max(20, min(city.n // 2, 1000))
    firms = [city.fake.enterprise() for _ in range(size)]
    stamps = {
        day: f"{day.isoformat()} 02:{city.rng.randrange(60):02d}:{city.rng.randrange(60):02d}"
        for day in (city.as_of - timedelta(days=2), city.yesterday, city.as_of)
    }
    drawn = city.shared[_DRAWN] = _Backflow(firms, stamps)
    return [_firm_row(drawn, e, city.yesterday) for e in firms]


ENTERPRISES = DatasetSpec(
    location="hl_qydjxx",
    title="省级企业登记信息（回流）",
    columns=(
        col_c("tyshxydm", 18),
        col_c("qymc", 100),
        col_c("fddbr", 50),
        col_d("clrq"),
        col_c("djjg", 6),
        col_c("djzt", 10),
        col_t("tbsj"),
    ),
    rows=_enterprise_rows,
    layer=Layer.BASE,
    summary="省市场监管局企业登记数据经省大数据管理中心全量回流至市前置库",
    share=ShareType.CONDITIONAL,
    condition="限市级部门依法履职使用",
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L2,
    primary_key=("tyshxydm",),
    update_col="tbsj",
    sync=SyncMode.FULL,
    related=("scjgj.qydjxx",),
)


def _insured_rows(city: CityBuilder) -> Rows:
    drawn: _Backflow = city.shared[_DRAWN]
    first_day = city.as_of - timedelta(days=2)
    drawn.pool = [p for p in city.adults(19, 60) if city.since(p.birth, 19) < first_day]
    drawn.people = city.sample(drawn.pool, min(max(20, city.n // 2), 1000, len(drawn.pool) - 15))
    split = len(drawn.people) * 6 // 10
    drawn.first = [_insured_row(city, p, first_day) for p in drawn.people[:split]]
    drawn.second = [_insured_row(city, p, city.yesterday) for p in drawn.people[split:]]
    return drawn.first + drawn.second


INSURED = DatasetSpec(
    location="hl_sbcbxx",
    title="省级社会保险参保信息（回流）",
    columns=(
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_c("xzlx", 3),
        col_c("cbdq", 6),
        col_d("cbrq"),
        col_t("tbsj"),
    ),
    rows=_insured_rows,
    layer=Layer.THEME,
    summary="省级统筹的企业职工养老保险参保信息按日增量回流至市前置库",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("sfzhm", "xzlx"),
    update_col="tbsj",
    related=("rsj.sbcbxx",),
)


def _batches(city: CityBuilder) -> None:
    drawn: _Backflow = city.shared[_DRAWN]
    first_day = city.as_of - timedelta(days=2)
    qy, sb = city.made["sdsj.hl_qydjxx"], city.made["sdsj.hl_sbcbxx"]
    taken = {p.ric for p in drawn.people}
    late = [
        _insured_row(city, p, city.as_of)
        for p in city.sample([p for p in drawn.pool if p.ric not in taken], 30)
    ]
    # Two rows of the first insured batch fail the dataset's suite (a wrong ID check character, an
    # unknown division code): the loader quarantines them, they are not in the staging table.
    # Copies of good rows, so the random draws (and the rest of the city) stay as they were.
    wrong_check = dict(drawn.first[0])
    ric = str(wrong_check["sfzhm"])
    wrong_check["sfzhm"] = ric[:17] + ("0" if ric[17] != "0" else "1")
    no_division = dict(drawn.first[1], xzlx="210", cbdq="329999")
    invalid = [
        (wrong_check, "expect_column_values_to_be_valid_ric", "sfzhm"),
        (no_division, "expect_column_values_to_be_valid_division_code", "cbdq"),
    ]
    firms = drawn.firms
    city.batches = [
        Batch(first_day, 1, qy, "full", "utf-8", [_firm_row(drawn, e, first_day) for e in firms[:-5]]),
        Batch(
            first_day,
            2,
            sb,
            "incremental",
            "utf-8",
            drawn.first + [r for r, _, _ in invalid],
            invalid_rows=invalid,
        ),
        Batch(city.yesterday, 1, qy, "full", "utf-8", qy.rows),
        Batch(city.yesterday, 2, sb, "incremental", "gbk", drawn.second),
        Batch(
            city.as_of,
            1,
            qy,
            "full",
            "utf-8",
            [_firm_row(drawn, e, city.as_of) for e in firms],
            "row_count_mismatch",
        ),
        Batch(city.as_of, 2, sb, "incremental", "utf-8", late, "corrupt_batch"),
    ]


PROVINCE_BACKFLOW = DepartmentSpec("sdsj", (ENTERPRISES, INSURED), finish=_batches)
