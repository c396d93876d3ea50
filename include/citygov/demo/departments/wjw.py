"""市卫生健康委员会: birth certificates, medical institutions and vaccinations (the dose number sits in a
column called ``order``, which needs quoting). No deliberate defects."""

from __future__ import annotations

from datetime import timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, SyncMode, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DepartmentSpec, Rows
from citygov.demo.fake import CURRENT_COUNTIES
from citygov.demo.model import col_c, col_d, col_n, col_t

HOSPITAL_SITES = {
    "连云港市第一人民医院": "320706",
    "连云港市第二人民医院": "320706",
    "连云港市妇幼保健院": "320706",
    "连云港市东方医院": "320703",
    "赣榆区人民医院": "320707",
    "东海县人民医院": "320722",
    "灌云县人民医院": "320723",
    "灌南县人民医院": "320724",
}
"""The city's public hospitals and the division each stands in."""
_HOSPITALS = tuple(HOSPITAL_SITES)
_VACCINATION_SCHEDULE = (
    ("乙肝疫苗", (0, 1, 6)),
    ("卡介苗", (0,)),
    ("脊灰灭活疫苗", (2, 3)),
    ("百白破疫苗", (3, 4, 5, 18)),
    ("麻腮风疫苗", (8, 18)),
    ("乙脑减毒活疫苗", (8, 24)),
    ("A群流脑多糖疫苗", (6, 9)),
    ("甲肝减毒活疫苗", (18,)),
)
"""Vaccines and the age in months of each dose."""


def _birth_certificate_rows(city: CityBuilder) -> Rows:
    mothers = city.adults(23, 44, "2")
    fathers = city.adults(25, 55, "1")
    rows: Rows = []
    for i in range(max(20, city.n // 2)):
        mother, father = city.rng.choice(mothers), city.rng.choice(fathers)
        born = city.fake.date_between(city.as_of - timedelta(days=2 * 365), city.as_of - timedelta(days=5))
        issued = min(born + timedelta(days=city.rng.randint(1, 3)), city.yesterday)
        gender = city.fake.pick("12")
        rows.append(
            {
                "zmbh": f"{'PQRSTU'[born.year % 6]}32{i + 1:07d}",
                "xsexm": city.fake.name(gender, father.name[0]),
                "xb": gender,
                "csrq": born.isoformat(),
                "cstz": city.rng.randint(2500, 4200),
                "mqxm": mother.name,
                "mqsfzhm": mother.ric,
                "fqxm": father.name,
                "fqsfzhm": father.ric,
                "csjg": city.fake.pick(_HOSPITALS),
                "qfrq": issued.isoformat(),
                "gxsj": city.updated(issued),
            }
        )
    city.freshen(rows)
    return rows


BIRTH_CERTIFICATES = DatasetSpec(
    location="csyxzm",
    title="出生医学证明信息",
    columns=(
        col_c("zmbh", 10),
        col_c("xsexm", 50),
        col_c("xb", 1),
        col_d("csrq"),
        col_n("cstz"),
        col_c("mqxm", 50),
        col_c("mqsfzhm", 18),
        col_c("fqxm", 50),
        col_c("fqsfzhm", 18),
        col_c("csjg", 100),
        col_d("qfrq"),
        col_t("gxsj"),
    ),
    rows=_birth_certificate_rows,
    layer=Layer.BASE,
    summary="出生医学证明的新生儿、父母身份信息、接生机构和签发日期",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("zmbh",),
)


def _institution_rows(city: CityBuilder) -> Rows:
    fake, rng = city.fake, city.rng
    rows: Rows = []
    for i in range(max(10, min(city.n // 4, 600))):
        district, address = fake.address(HOSPITAL_SITES[_HOSPITALS[i]] if i < len(_HOSPITALS) else None)
        place = fake.divisions[district].name
        if i < len(_HOSPITALS):
            name, kind, level, beds, reg = (
                _HOSPITALS[i],
                "综合医院",
                "三级甲等" if i < 2 else "二级甲等",
                rng.randrange(1500, 2500, 50) if i < 2 else rng.randrange(400, 1000, 50),
                ("1", "2"),
            )
            if "妇幼" in name:
                kind = "妇幼保健院"
        else:
            roll = rng.random()
            if roll < 0.4:
                name = fake.org_name(
                    lambda place=place: (
                        f"{place}{fake.pick(('新坝', '南城', '浦东', '洪门', '朐阳', '猴嘴', '墟沟', '青口', '牛山', '伊山', '新安'))}社区卫生服务中心"
                    )
                )
                kind, level, beds, reg = "社区卫生服务中心", "一级", rng.randrange(20, 120, 10), ("1", "2")
            elif roll < 0.8:
                name = fake.org_name(
                    lambda place=place: (
                        f"{place}{fake.surname()}氏{fake.pick(('诊所', '中医诊所', '口腔诊所'))}"
                    )
                )
                kind, level, beds, reg = "诊所", "未定级", 0, ("9", "2")
            else:
                name = fake.org_name(
                    lambda: f"连云港{fake.pick('康华仁济博爱瑞')}{fake.pick('安和德民')}医院"
                )
                kind, level, beds, reg = "民营医院", "二级", rng.randrange(100, 500, 10), ("5", "2")
        rows.append(
            {
                "tyshxydm": fake.org_code(district, *reg),
                "jgmc": name,
                "jglb": kind,
                "jgdj": level,
                "dz": address,
                "cws": beds,
                "ssxq": district,
                "gxsj": city.updated(city.as_of - timedelta(days=400)),
            }
        )
    city.freshen(rows)
    return rows


MEDICAL_INSTITUTIONS = DatasetSpec(
    location="yljgxx",
    title="医疗机构信息",
    columns=(
        col_c("tyshxydm", 18),
        col_c("jgmc", 100),
        col_c("jglb", 50),
        col_c("jgdj", 20),
        col_c("dz", 200),
        col_n("cws"),
        col_c("ssxq", 6),
        col_t("gxsj"),
    ),
    rows=_institution_rows,
    layer=Layer.BASE,
    summary="医疗机构的名称、类别、等级、地址和核定床位数",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L1,
    primary_key=("tyshxydm",),
    sync=SyncMode.FULL,
)


def _vaccination_rows(city: CityBuilder) -> Rows:
    sites = [f"{city.fake.divisions[c].name}疾病预防控制中心预防接种门诊" for c in CURRENT_COUNTIES]
    rows: Rows = []
    children = [p for p in city.clean if city.age(p) <= 6]
    for child in children:
        for vaccine, months in _VACCINATION_SCHEDULE:
            for dose, month in enumerate(months, start=1):
                day = child.birth + timedelta(days=30 * month + city.rng.randint(0, 10))
                if day > city.yesterday or len(rows) >= city.n:
                    continue
                rows.append(
                    {
                        "jzbh": f"JZ{day:%Y%m%d}{len(rows) + 1:06d}",
                        "sfzhm": child.ric,
                        "xm": child.name,
                        "ymmc": vaccine,
                        "order": dose,
                        "jzrq": day.isoformat(),
                        "jzdw": city.fake.pick(sites),
                        "gxsj": city.updated(day),
                    }
                )
    city.freshen(rows)
    return rows


VACCINATIONS = DatasetSpec(
    location="yfjz",
    title="预防接种记录",
    columns=(
        col_c("jzbh", 20),
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_c("ymmc", 50),
        col_n("order"),
        col_d("jzrq"),
        col_c("jzdw", 100),
        col_t("gxsj"),
    ),
    rows=_vaccination_rows,
    layer=Layer.DEPARTMENT,
    summary="儿童免疫规划疫苗接种记录，order 为剂次",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("jzbh",),
)

WJW = DepartmentSpec("wjw", (BIRTH_CERTIFICATES, MEDICAL_INSTITUTIONS, VACCINATIONS))
