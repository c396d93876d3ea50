"""Templated datasets that top the catalog up to about 30 × scale entries: in turn per department, a
case file log, a statistics table or a permit register. No deliberate defects."""

from __future__ import annotations

from datetime import timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, SyncMode, UpdateCycle
from citygov.demo.builder import ENTRIES_PER_SCALE, CityBuilder, DatasetSpec, Rows
from citygov.demo.fake import CURRENT_COUNTIES, Person
from citygov.demo.model import DEPARTMENTS, Department, col_c, col_d, col_n, col_t

_INDICATORS = (("办件量", "件"), ("受理量", "件"), ("按时办结率", "%"), ("在册数量", "个"))


def case_files(dept: Department, number: str, adults: list[Person]) -> DatasetSpec:
    """办件记录: who applied for what and when it was done."""

    def rows(city: CityBuilder) -> Rows:
        made: Rows = []
        for j in range(city.template_rows):
            p = city.rng.choice(adults)
            accepted = city.fake.date_between(
                city.as_of - timedelta(days=400), city.yesterday - timedelta(days=5)
            )
            done = accepted + timedelta(days=city.rng.randint(0, 5))
            made.append(
                {
                    "bjbh": f"{dept.abbr}{number}{accepted:%Y%m%d}{j + 1:05d}",
                    "sxmc": f"{dept.business}事项办理",
                    "sqrxm": p.name,
                    "sqrzjhm": p.ric,
                    "lxdh": p.mobile,
                    "slrq": accepted.isoformat(),
                    "bjrq": done.isoformat(),
                    "bjzt": "已办结",
                    "gxsj": city.updated(done),
                }
            )
        city.freshen(made)
        return made

    return DatasetSpec(
        location=f"bjjl_{number}",
        title=f"{dept.business}办件记录（{number}）",
        columns=(
            col_c("bjbh", 30),
            col_c("sxmc", 100),
            col_c("sqrxm", 50),
            col_c("sqrzjhm", 18),
            col_c("lxdh", 11),
            col_d("slrq"),
            col_d("bjrq"),
            col_c("bjzt", 10),
            col_t("gxsj"),
        ),
        rows=rows,
        layer=Layer.DEPARTMENT,
        summary=f"{dept.name}{dept.business}办件过程记录",
        share=ShareType.CONDITIONAL,
        open_attr=OpenAttr.NOT_OPEN,
        cycle=UpdateCycle.DAILY,
        grade=Sensitivity.L3,
        primary_key=("bjbh",),
    )


def statistics(dept: Department, number: str) -> DatasetSpec:
    """统计指标: an indicator per county and month."""

    def rows(city: CityBuilder) -> Rows:
        made: Rows = []
        for j in range(city.template_rows):
            name, unit = city.rng.choice(_INDICATORS)
            period = city.as_of.replace(day=1) - timedelta(days=1 + 31 * city.rng.randrange(12))
            made.append(
                {
                    "zbbm": f"ZB{number}{j + 1:05d}",
                    "zbmc": f"{dept.business}{name}",
                    "tjq": f"{period:%Y-%m}",
                    "xzqdm": city.fake.pick(CURRENT_COUNTIES),
                    "zbz": round(city.rng.uniform(0, 100), 2)
                    if unit == "%"
                    else float(city.rng.randrange(10, 50000)),
                    "jldw": unit,
                    "gxsj": city.updated(period),
                }
            )
        city.freshen(made)
        return made

    return DatasetSpec(
        location=f"tjzb_{number}",
        title=f"{dept.business}统计指标（{number}）",
        columns=(
            col_c("zbbm", 20),
            col_c("zbmc", 100),
            col_c("tjq", 7),
            col_c("xzqdm", 6),
            col_n("zbz", "DECIMAL(16,2)"),
            col_c("jldw", 10),
            col_t("gxsj"),
        ),
        rows=rows,
        layer=Layer.TOPIC,
        summary=f"{dept.name}{dept.business}按区县、月份的统计指标",
        share=ShareType.UNCONDITIONAL,
        open_attr=OpenAttr.UNCONDITIONAL,
        cycle=UpdateCycle.MONTHLY,
        grade=Sensitivity.L1,
        primary_key=("zbbm",),
        sync=SyncMode.FULL,
    )


def permits(dept: Department, number: str) -> DatasetSpec:
    """许可信息: permits the department granted to enterprises."""

    def rows(city: CityBuilder) -> Rows:
        made: Rows = []
        for j in range(city.template_rows):
            e = city.rng.choice(city.enterprises)
            day = city.fake.date_between(max(e.founded, city.as_of - timedelta(days=3 * 365)), city.yesterday)
            made.append(
                {
                    "xkbh": f"{dept.abbr}XK{number}{j + 1:06d}",
                    "xkmc": f"{dept.business}许可",
                    "xkdx": e.name,
                    "tyshxydm": e.code,
                    "xkrq": day.isoformat(),
                    "xkjg": dept.name,
                    "gxsj": city.updated(day),
                }
            )
        city.freshen(made)
        return made

    return DatasetSpec(
        location=f"xkxx_{number}",
        title=f"{dept.business}许可信息（{number}）",
        columns=(
            col_c("xkbh", 30),
            col_c("xkmc", 100),
            col_c("xkdx", 100),
            col_c("tyshxydm", 18),
            col_d("xkrq"),
            col_c("xkjg", 100),
            col_t("gxsj"),
        ),
        rows=rows,
        layer=Layer.THEME,
        summary=f"{dept.name}作出的行政许可决定",
        share=ShareType.UNCONDITIONAL,
        open_attr=OpenAttr.CONDITIONAL,
        cycle=UpdateCycle.WEEKLY,
        grade=Sensitivity.L2,
        primary_key=("xkbh",),
        related=("scjgj.qydjxx",),
    )


def add_templates(city: CityBuilder) -> None:
    """Top the catalog up to about ``ENTRIES_PER_SCALE × scale`` entries (at least three templates)."""
    core = sum(1 for ds in city.datasets if ds.catalogued)
    count = max(3, ENTRIES_PER_SCALE * city.scale - core + 2)
    adults = city.adults(19)
    for i in range(count):
        dept = DEPARTMENTS[i % len(DEPARTMENTS)]
        kind = (i + i // len(DEPARTMENTS)) % 3
        number = f"{i + 1:04d}"
        if kind == 0:
            spec = case_files(dept, number, adults)
        elif kind == 1:
            spec = statistics(dept, number)
        else:
            spec = permits(dept, number)
        city.make_dataset(dept, spec)
