"""市人力资源和社会保障局: social insurance, skill certificates and pensions; a declared column the
certificate table lacks and an unemployment register that is still empty."""

from __future__ import annotations

from datetime import timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DefectSpec, DepartmentSpec, Rows
from citygov.demo.model import col_c, col_d, col_n, col_t

_INSURANCE_KINDS = ("110", "210", "310", "410")
_JOBS = (
    "电工",
    "焊工",
    "育婴员",
    "养老护理员",
    "中式烹调师",
    "保育师",
    "美容师",
    "汽车维修工",
    "网络与信息安全管理员",
    "健康管理师",
)
_LEVELS = ("五级/初级工", "四级/中级工", "三级/高级工", "二级/技师", "一级/高级技师")
_WORKERS = "rsj.workers"
"""The working-age residents in a shuffled order: insured first, then drawn for certificates."""


def _insurance_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    workers = city.shared[_WORKERS] = city.adults(19, 60)
    city.rng.shuffle(workers)
    for p in workers:
        if len(rows) >= city.n:
            break
        e = city.rng.choice(city.enterprises)
        start = max(city.since(p.birth, 19), e.founded)
        for kind in sorted(city.rng.sample(_INSURANCE_KINDS, 2)):
            day = city.fake.date_between(start, city.yesterday)
            rows.append(
                {
                    "sfzhm": p.ric,
                    "xm": p.name,
                    "xzlx": kind,
                    "dwtyshxydm": e.code,
                    "dwmc": e.name,
                    "cbrq": day.isoformat(),
                    "cbzt": "参保缴费" if city.rng.random() < 0.9 else "暂停缴费",
                    "jfjs": float(city.rng.randrange(4000, 20000, 10)),
                    "gxsj": city.updated(day),
                }
            )
    city.freshen(rows)
    return rows


INSURANCE = DatasetSpec(
    location="sbcbxx",
    title="社会保险参保信息",
    columns=(
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_c("xzlx", 3),
        col_c("dwtyshxydm", 18),
        col_c("dwmc", 100),
        col_d("cbrq"),
        col_c("cbzt", 10),
        col_n("jfjs", "DECIMAL(10,2)"),
        col_t("gxsj"),
    ),
    rows=_insurance_rows,
    layer=Layer.THEME,
    summary="职工参加养老(110)、失业(210)、医疗(310)、工伤(410)保险的参保单位、日期和缴费基数",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("sfzhm", "xzlx"),
    related=("gaj.rkjbxx", "scjgj.qydjxx"),
)


def _certificate_rows(city: CityBuilder) -> Rows:
    workers = city.shared[_WORKERS]
    rows: Rows = []
    for i in range(city.n // 2):
        p = city.rng.choice(workers)
        day = city.fake.date_between(max(city.ago(8), city.since(p.birth, 19)), city.yesterday)
        rows.append(
            {
                "zsbh": f"S{day:%Y}320700{i + 1:07d}",
                "xm": p.name,
                "sfzhm": p.ric,
                "zymc": city.fake.pick(_JOBS),
                "dj": city.fake.pick(_LEVELS),
                "fzrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


_CERTIFICATE_COLUMNS = (
    col_c("zsbh", 30),
    col_c("xm", 50),
    col_c("sfzhm", 18),
    col_c("zymc", 50),
    col_c("dj", 20),
    col_d("fzrq"),
    col_t("gxsj"),
)

CERTIFICATES = DatasetSpec(
    location="zyjnzs",
    title="职业技能等级证书信息",
    columns=_CERTIFICATE_COLUMNS,
    rows=_certificate_rows,
    layer=Layer.DEPARTMENT,
    summary="职业技能等级证书的持证人、职业、等级和发证日期",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.CONDITIONAL,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L3,
    primary_key=("zsbh",),
    declared=(*_CERTIFICATE_COLUMNS[:6], col_c("fzjg", 100), _CERTIFICATE_COLUMNS[6]),
    defects=(
        DefectSpec(
            "schema_missing_column", "patrol", "目录登记的信息项 fzjg（发证机关）在表中不存在", column="fzjg"
        ),
    ),
)


def _pension_rows(city: CityBuilder) -> Rows:
    # Paid on the 15th; the last three months paid before the as-of date.
    month = (
        city.yesterday.replace(day=1)
        if city.yesterday.day >= 15
        else (city.yesterday.replace(day=1) - timedelta(days=1)).replace(day=1)
    )
    months = [month]
    for _ in range(2):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    months.reverse()
    retirees = city.adults(61)[: max(10, city.n // 3)]
    amounts = {p.ric: round(city.rng.uniform(1800, 6000), 2) for p in retirees}
    rows: Rows = []
    for m in months:
        paid = m.replace(day=15)
        for p in retirees:
            rows.append(
                {
                    "sfzhm": p.ric,
                    "xm": p.name,
                    "ffyf": f"{m:%Y-%m}",
                    "ffje": amounts[p.ric],
                    "ffrq": paid.isoformat(),
                    "gxsj": city.updated(paid, min(paid + timedelta(days=3), city.yesterday)),
                }
            )
    city.freshen(rows)
    return rows


PENSIONS = DatasetSpec(
    location="yljff",
    title="基本养老金发放信息",
    columns=(
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_c("ffyf", 7),
        col_n("ffje", "DECIMAL(10,2)"),
        col_d("ffrq"),
        col_t("gxsj"),
    ),
    rows=_pension_rows,
    layer=Layer.DEPARTMENT,
    summary="企业职工基本养老金按月发放记录",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L3,
    primary_key=("sfzhm", "ffyf"),
)

UNEMPLOYED = DatasetSpec(
    location="syrydj",
    title="失业人员登记信息",
    columns=(
        col_c("djbh", 30),
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_d("syrq"),
        col_d("djrq"),
        col_t("gxsj"),
    ),
    rows=lambda city: [],
    layer=Layer.DEPARTMENT,
    summary="失业人员登记（新系统切换后尚未迁移数据）",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.IRREGULAR,
    grade=Sensitivity.L3,
    primary_key=("djbh",),
    update_col=None,
    defects=(DefectSpec("empty_resource", "patrol", "表存在但没有任何记录", count=0),),
)

RSJ = DepartmentSpec("rsj", (INSURANCE, CERTIFICATES, PENSIONS, UNEMPLOYED))
