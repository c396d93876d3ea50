"""市自然资源和规划局: real estate, land supply and standard place names; two land parcels carry
division codes GB/T 2260 does not have."""

from __future__ import annotations

from datetime import timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, SyncMode, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DefectSpec, DepartmentSpec, Rows
from citygov.demo.fake import CURRENT_COUNTIES
from citygov.demo.model import col_c, col_d, col_n, col_t

_LAND_USES = ("住宅用地", "商服用地", "工业用地", "仓储用地", "科教用地")
_SUPPLY_WAYS = ("挂牌出让", "拍卖出让", "招标出让", "划拨")
_PLACE_KINDS = (("道路", ""), ("居民点", "小区"), ("桥梁", "桥"), ("自然村", "村"))
"""Kinds of standard place names and the suffix their names end with."""
_UNKNOWN_DIVISIONS = ("320708", "320725")


def _real_estate_rows(city: CityBuilder) -> Rows:
    units: set[str] = set()
    rows: Rows = []
    for p in city.rng.choices(city.adults(19, 90), k=city.n):
        district, address = city.fake.address()

        def unit(district: str = district) -> str:
            r = city.rng
            return (
                f"{district}{r.randint(1, 12):03d}{r.randint(1, 20):03d}GB{r.randint(1, 9999):05d}"
                f"F{r.randint(1, 60):04d}{r.randint(1, 3000):04d}"
            )

        day = city.fake.date_between(max(city.ago(18), city.since(p.birth, 19)), city.yesterday)
        rows.append(
            {
                "bdcdyh": city.fake.unique(unit, units),
                "qlr": p.name,
                "qlrzjhm": p.ric,
                "zl": address,
                "ghyt": city.fake.pick(("住宅",) * 8 + ("商业", "办公")),
                "jzmj": round(city.rng.uniform(45, 180), 2),
                "djrq": day.isoformat(),
                "xzqdm": district,
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


REAL_ESTATE = DatasetSpec(
    location="bdcdjxx",
    title="不动产登记信息",
    columns=(
        col_c("bdcdyh", 28),
        col_c("qlr", 50),
        col_c("qlrzjhm", 18),
        col_c("zl", 200),
        col_c("ghyt", 20),
        col_n("jzmj", "DECIMAL(10,2)"),
        col_d("djrq"),
        col_c("xzqdm", 6),
        col_t("gxsj"),
    ),
    rows=_real_estate_rows,
    layer=Layer.BASE,
    summary="不动产单元号、权利人、坐落、规划用途、建筑面积和登记日期",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("bdcdyh",),
    related=("gaj.rkjbxx",),
)


def _land_supply_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    for i in range(max(20, city.n // 4)):
        e = city.rng.choice(city.enterprises)
        district = city.fake.pick(CURRENT_COUNTIES)
        road_a, road_b = city.fake.roads(district, 2)
        day = city.fake.date_between(max(e.founded, city.ago(9)), city.yesterday)
        rows.append(
            {
                "dkbh": f"{district}-{day.year}-G{i + 1:04d}",
                "dkmc": f"{road_a}以东、{road_b}以北地块",
                "xzqdm": district,
                "tdyt": city.fake.pick(_LAND_USES),
                "gyfs": city.fake.pick(_SUPPLY_WAYS),
                "mj": round(city.rng.uniform(3000, 120000), 2),
                "srdw": e.name,
                "srdwdm": e.code,
                "cjjg": float(city.rng.randrange(500, 80000, 50)),
                "htqdrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _unknown_division_codes(city: CityBuilder, rows: Rows) -> None:
    for code, i in zip(_UNKNOWN_DIVISIONS, city.pick_rows(rows, 2), strict=True):
        rows[i]["xzqdm"] = code


LAND_SUPPLY = DatasetSpec(
    location="tdgyxx",
    title="土地供应信息",
    columns=(
        col_c("dkbh", 30),
        col_c("dkmc", 100),
        col_c("xzqdm", 6),
        col_c("tdyt", 20),
        col_c("gyfs", 20),
        col_n("mj", "DECIMAL(12,2)"),
        col_c("srdw", 100),
        col_c("srdwdm", 18),
        col_n("cjjg", "DECIMAL(14,2)"),
        col_d("htqdrq"),
        col_t("gxsj"),
    ),
    rows=_land_supply_rows,
    layer=Layer.DEPARTMENT,
    summary="国有建设用地供应结果：地块、用途、供应方式、面积、受让单位和成交价（万元）",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L1,
    primary_key=("dkbh",),
    related=("scjgj.qydjxx",),
    spoil=_unknown_division_codes,
    defects=(
        DefectSpec(
            "unknown_division_code",
            "quality",
            f"2 条记录的行政区划代码 xzqdm 不在 GB/T 2260 中（{'、'.join(_UNKNOWN_DIVISIONS)}）",
            column="xzqdm",
            count=2,
        ),
    ),
)


def _place_name_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    for i in range(max(20, city.n // 2)):
        district = city.fake.pick(CURRENT_COUNTIES)
        kind, suffix = city.rng.choice(_PLACE_KINDS)
        base = (
            city.fake.road(district)
            if kind == "道路"
            else city.fake.road(district)[:2] + city.fake.pick("东西南北")
        )
        rows.append(
            {
                "dmbm": f"{district}{i + 1:06d}",
                "dmmc": base + suffix,
                "dmlb": kind,
                "xzqdm": district,
                "zxjd": round(city.rng.uniform(118.6, 119.8), 6),
                "zxwd": round(city.rng.uniform(34.0, 35.1), 6),
                "gxsj": city.updated(city.as_of - timedelta(days=300)),
            }
        )
    city.freshen(rows)
    return rows


PLACE_NAMES = DatasetSpec(
    location="dmxx",
    title="标准地名信息",
    columns=(
        col_c("dmbm", 12),
        col_c("dmmc", 100),
        col_c("dmlb", 20),
        col_c("xzqdm", 6),
        col_n("zxjd", "DECIMAL(10,6)"),
        col_n("zxwd", "DECIMAL(10,6)"),
        col_t("gxsj"),
    ),
    rows=_place_name_rows,
    layer=Layer.BASE,
    summary="道路、居民点、桥梁、自然村等标准地名及中心点经纬度",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.QUARTERLY,
    grade=Sensitivity.L1,
    primary_key=("dmbm",),
    sync=SyncMode.FULL,
)

ZRZYJ = DepartmentSpec("zrzyj", (REAL_ESTATE, LAND_SUPPLY, PLACE_NAMES))
