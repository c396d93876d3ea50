"""市公安局: population, household moves, vehicles and migrants; a forgotten backup table nobody
catalogued and a catalogued monthly report that no longer exists."""

from __future__ import annotations

from datetime import date, timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DefectSpec, DepartmentSpec, Rows
from citygov.demo.fake import CURRENT_COUNTIES, OTHER_PREFECTURES, Person
from citygov.demo.model import col_c, col_d, col_n, col_t

_VEHICLE_BRANDS = ("大众", "丰田", "本田", "比亚迪", "吉利", "长安", "别克", "日产", "五菱", "奇瑞", "特斯拉")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_RIC_CHECK = "10X98765432"

PERSON_COLUMNS = (
    col_c("xm", 50),
    col_c("sfzhm", 18),
    col_c("xb", 1),
    col_d("csrq"),
    col_c("mz", 20),
    col_c("hjdz", 200),
    col_c("lxdh", 11),
    col_t("gxsj"),
)


def _person_row(city: CityBuilder, p: Person, latest: date | None = None) -> dict[str, object]:
    return {
        "xm": p.name,
        "sfzhm": p.ric,
        "xb": p.gender,
        "csrq": p.birth.isoformat(),
        "mz": p.ethnic,
        "hjdz": p.address,
        "lxdh": p.mobile,
        "gxsj": city.updated(p.birth, latest),
    }


def _population_rows(city: CityBuilder) -> Rows:
    rows = [_person_row(city, p) for p in city.people]
    city.freshen(rows)
    return rows


def _wrong_check_characters(city: CityBuilder, rows: Rows) -> None:
    # The first three rows are the three residents the builder set aside for this.
    for i in range(3):
        ric = str(rows[i]["sfzhm"])
        rows[i]["sfzhm"] = ric[:17] + _RIC_CHECK[(_RIC_CHECK.index(ric[17]) + 1) % 11]


POPULATION = DatasetSpec(
    location="rkjbxx",
    title="人口基本信息",
    columns=PERSON_COLUMNS,
    rows=_population_rows,
    layer=Layer.BASE,
    summary="全市户籍人口的姓名、公民身份号码、性别、出生日期、民族、户籍地址和联系电话",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("sfzhm",),
    spoil=_wrong_check_characters,
    defects=(
        DefectSpec(
            "invalid_id_number",
            "quality",
            "3 条记录的公民身份号码校验码错误（GB 11643 MOD 11-2）",
            column="sfzhm",
            count=3,
        ),
    ),
)


def _move_rows(city: CityBuilder) -> Rows:
    # One side is a Lianyungang county, the other another county or prefecture.
    movers = city.adults()
    rows: Rows = []
    for i in range(city.n // 2):
        p = city.rng.choice(movers)
        day = city.fake.date_between(max(city.ago(6), city.since(p.birth, 19)), city.yesterday)
        other = city.fake.pick(OTHER_PREFECTURES + tuple(c for c in CURRENT_COUNTIES if c != p.district))
        inbound = city.rng.random() < 0.6
        rows.append(
            {
                "qybh": f"QY{day:%Y%m%d}{i + 1:05d}",
                "sfzhm": p.ric,
                "xm": p.name,
                "qylx": "迁入" if inbound else "迁出",
                "qcddm": other if inbound else p.district,
                "qrddm": p.district if inbound else other,
                "qyrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _future_move_dates(city: CityBuilder, rows: Rows) -> None:
    for k, i in enumerate(city.pick_rows(rows, 2)):
        rows[i]["qyrq"] = (city.as_of + timedelta(days=20 + 25 * k)).isoformat()


MOVES = DatasetSpec(
    location="hjqyxx",
    title="户籍迁移信息",
    columns=(
        col_c("qybh", 20),
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_c("qylx", 10),
        col_c("qcddm", 6),
        col_c("qrddm", 6),
        col_d("qyrq"),
        col_t("gxsj"),
    ),
    rows=_move_rows,
    layer=Layer.DEPARTMENT,
    summary="户籍迁入、迁出登记，含迁出地和迁入地行政区划代码",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("qybh",),
    spoil=_future_move_dates,
    defects=(
        DefectSpec("future_date", "quality", "2 条迁移记录的迁移日期晚于数据日期", column="qyrq", count=2),
    ),
)


def _vehicle_rows(city: CityBuilder) -> Rows:
    owners = city.adults(19, 80)
    plates: set[str] = set()
    rows: Rows = []
    for _ in range(city.n // 2):
        p = city.rng.choice(owners)

        def plate() -> str:
            body = f"{city.rng.randrange(100000):05d}"
            if city.rng.random() < 0.6:
                body = city.fake.pick(_PLATE_LETTERS) + body[1:]
            return f"苏G{body}"

        day = city.fake.date_between(max(city.ago(21), city.since(p.birth, 19)), city.yesterday)
        rows.append(
            {
                "hphm": city.fake.unique(plate, plates),
                "hpzl": "02",
                "clpp": city.fake.pick(_VEHICLE_BRANDS),
                "syr": p.name,
                "sfzhm": p.ric,
                "ccdjrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _import_twice(city: CityBuilder, rows: Rows) -> None:
    dups = city.pick_rows(rows, 3)
    rows.extend(dict(rows[i]) for i in dups)


VEHICLES = DatasetSpec(
    location="jdcxx",
    title="机动车登记信息",
    columns=(
        col_c("hphm", 10),
        col_c("hpzl", 2),
        col_c("clpp", 50),
        col_c("syr", 50),
        col_c("sfzhm", 18),
        col_d("ccdjrq"),
        col_t("gxsj"),
    ),
    rows=_vehicle_rows,
    layer=Layer.DEPARTMENT,
    summary="本市登记机动车的号牌、品牌、所有人和初次登记日期",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("hphm",),
    spoil=_import_twice,
    defects=(
        DefectSpec(
            "duplicate_key",
            "quality",
            "3 个号牌号码各出现 2 次（重复导入）：6 条记录涉及重复主键，其中 3 条为多余记录",
            column="hphm",
            count=6,
        ),
    ),
)


def _migrant_rows(city: CityBuilder) -> Rows:
    # Migrants from other Jiangsu prefectures.
    rows: Rows = []
    for i in range(max(20, city.n // 4)):
        p = city.fake.person(19, 60, divisions=OTHER_PREFECTURES)
        day = city.fake.date_between(city.as_of - timedelta(days=3 * 365), city.yesterday)
        rows.append(
            {
                "jzzbh": f"320700{day:%Y}{i + 1:06d}",
                "xm": p.name,
                "sfzhm": p.ric,
                "hjdqdm": p.ric[:6],
                "jzdz": p.address,
                "djrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


MIGRANTS = DatasetSpec(
    location="流动人口居住登记",  # the table name needs quoting
    title="流动人口居住登记信息",
    columns=(
        col_c("jzzbh", 20),
        col_c("xm", 50),
        col_c("sfzhm", 18),
        col_c("hjdqdm", 6),
        col_c("jzdz", 200),
        col_d("djrq"),
        col_t("gxsj"),
    ),
    rows=_migrant_rows,
    layer=Layer.DEPARTMENT,
    summary="外地户籍人员在本市办理居住登记和居住证的信息",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.WEEKLY,
    grade=Sensitivity.L3,
    primary_key=("jzzbh",),
)


def _backup_day(city: CityBuilder) -> date:
    return city.as_of - timedelta(days=270)


def _backup_rows(city: CityBuilder) -> Rows:
    day = _backup_day(city)
    people = [p for p in city.clean if p.birth < day - timedelta(days=30)][:50]
    rows = [_person_row(city, p, day) for p in people]
    city.freshen(rows, day=day)
    return rows


BACKUP = DatasetSpec(
    location=lambda city: f"rkjbxx_bak {_backup_day(city):%Y%m%d}",  # a space in the name
    title="人口基本信息备份",
    columns=PERSON_COLUMNS,
    rows=_backup_rows,
    layer=Layer.DEPARTMENT,
    summary="",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.IRREGULAR,
    grade=Sensitivity.L3,
    primary_key=("sfzhm",),
    catalogued=False,
    defects=(DefectSpec("uncatalogued_resource", "census", "公安局数据库中的人口信息备份表未编目"),),
)

MONTHLY_REPORT = DatasetSpec(
    location="hjrktjyb",
    title="户籍人口统计月报",
    columns=(col_c("tjyf", 7), col_c("xzqdm", 6), col_n("hjrks"), col_t("gxsj")),
    rows=lambda city: [],
    layer=Layer.DEPARTMENT,
    summary="按区县统计的月度户籍人口数",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L1,
    primary_key=("tjyf", "xzqdm"),
    exists=False,
    defects=(
        DefectSpec(
            "catalog_entry_without_resource",
            "census",
            "目录登记的资源位置 hjrktjyb 在公安局数据库中不存在（已停用未下线）",
        ),
    ),
)

GAJ = DepartmentSpec("gaj", (POPULATION, MOVES, VEHICLES, MIGRANTS, BACKUP, MONTHLY_REPORT))
