"""市市场监督管理局: enterprises, sole traders, penalties, food production licences and the list of
abnormal operations; a wrong credit code check character, an amount kept as text, a stale table and
a catalog row the import must reject."""

from __future__ import annotations

from datetime import timedelta

from citygov.catalog.schema import Layer, OpenAttr, Sensitivity, ShareType, SyncMode, UpdateCycle
from citygov.demo.builder import CityBuilder, DatasetSpec, DefectSpec, DepartmentSpec, Rows
from citygov.demo.model import col_c, col_d, col_n, col_t
from citygov.identifiers import USCC_ALPHABET

_PENALTY_REASONS = (
    "销售不符合食品安全标准的食品",
    "未按规定公示年度报告",
    "发布虚假广告",
    "无照经营",
    "使用未经检定的计量器具",
    "销售过期食品",
)
_FOOD_CATEGORIES = (
    "粮食加工品",
    "食用油",
    "调味品",
    "肉制品",
    "乳制品",
    "饮料",
    "方便食品",
    "饼干",
    "罐头",
    "速冻食品",
    "水产制品",
    "糕点",
)
_ABNORMAL_REASONS = (
    "通过登记的住所或者经营场所无法联系",
    "未按照规定的期限公示年度报告",
    "公示企业信息隐瞒真实情况、弄虚作假",
)
_STALE_DAYS = 40
"""食品生产许可 is declared 每日 but nobody has updated it for this many days."""


def _enterprise_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    for e in city.enterprises:
        rows.append(
            {
                "tyshxydm": e.code,
                "qymc": e.name,
                "fddbr": e.legal_rep.name,
                "zczb": e.capital,
                "clrq": e.founded.isoformat(),
                "qylx": e.kind,
                "djjg": e.district,
                "zs": e.address,
                "djzt": "存续" if city.rng.random() < 0.85 else "在业",
                "gxsj": city.updated(e.founded),
            }
        )
    city.freshen(rows)
    return rows


ENTERPRISES = DatasetSpec(
    location="qydjxx",
    title="企业登记信息",
    columns=(
        col_c("tyshxydm", 18),
        col_c("qymc", 100),
        col_c("fddbr", 50),
        col_n("zczb", "DECIMAL(14,2)"),
        col_d("clrq"),
        col_c("qylx", 50),
        col_c("djjg", 6),
        col_c("zs", 200),
        col_c("djzt", 10),
        col_t("gxsj"),
    ),
    rows=_enterprise_rows,
    layer=Layer.BASE,
    summary="本市登记企业的统一社会信用代码、名称、法定代表人、注册资本（万元）等",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.CONDITIONAL,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L2,
    primary_key=("tyshxydm",),
)


def _sole_trader_rows(city: CityBuilder) -> Rows:
    owners = city.sample(city.adults(19, 75), max(20, city.n // 2))
    rows: Rows = []
    for p in owners:
        day = city.fake.date_between(max(city.ago(16), city.since(p.birth, 19)), city.yesterday)
        rows.append(
            {
                "tyshxydm": city.fake.org_code(p.district, "9", "2"),
                "zhmc": city.fake.shop_name(p.district, p),
                "jyz": p.name,
                "jyzsfzhm": p.ric,
                "jycs": city.fake.address(p.district)[1],
                "clrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _wrong_credit_check_characters(city: CityBuilder, rows: Rows) -> None:
    for i in city.pick_rows(rows, 2):
        code = str(rows[i]["tyshxydm"])
        rows[i]["tyshxydm"] = code[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(code[17]) + 7) % 31]


SOLE_TRADERS = DatasetSpec(
    location="gtgshxx",
    title="个体工商户登记信息",
    columns=(
        col_c("tyshxydm", 18),
        col_c("zhmc", 100),
        col_c("jyz", 50),
        col_c("jyzsfzhm", 18),
        col_c("jycs", 200),
        col_d("clrq"),
        col_t("gxsj"),
    ),
    rows=_sole_trader_rows,
    layer=Layer.DEPARTMENT,
    summary="个体工商户的字号名称、经营者及其身份号码、经营场所",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.WEEKLY,
    grade=Sensitivity.L3,
    primary_key=("tyshxydm",),
    spoil=_wrong_credit_check_characters,
    defects=(
        DefectSpec(
            "invalid_credit_code",
            "quality",
            "2 条记录的统一社会信用代码校验码错误（GB 32100）",
            column="tyshxydm",
            count=2,
        ),
    ),
)


def _penalty_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    seqs: dict[int, int] = {}
    for e in city.rng.sample(city.enterprises, max(20, city.n // 4)):
        day = city.fake.date_between(max(e.founded, city.as_of - timedelta(days=3 * 365)), city.yesterday)
        seqs[day.year] = seqs.get(day.year, 0) + 1
        amount = city.rng.choice((2000, 5000, 8000, 10000, 20000, 50000))
        rows.append(
            {
                "cfjdsh": f"连市监罚〔{day.year}〕{seqs[day.year]}号",
                "dsrmc": e.name,
                "tyshxydm": e.code,
                "wfxw": city.fake.pick(_PENALTY_REASONS),
                "cfnr": "警告，并处罚款" if amount < 10000 else "罚款",
                "cfje": f"{amount}元",
                "cfrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


_PENALTY_COLUMNS = (
    col_c("cfjdsh", 50),
    col_c("dsrmc", 100),
    col_c("tyshxydm", 18),
    col_c("wfxw", 200),
    col_c("cfnr", 100),
    col_c("cfje"),
    col_d("cfrq"),
    col_t("gxsj"),
)

PENALTIES = DatasetSpec(
    location="xzcfxx",
    title="行政处罚信息",
    columns=_PENALTY_COLUMNS,
    rows=_penalty_rows,
    layer=Layer.DEPARTMENT,
    summary="市场监管领域行政处罚决定（双公示）",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L1,
    primary_key=("cfjdsh",),
    # The amount column was declared a number but is kept as text ("5000元").
    declared=tuple(c if c.name != "cfje" else col_n("cfje", "DECIMAL(12,2)") for c in _PENALTY_COLUMNS),
    defects=(
        DefectSpec(
            "schema_type_changed",
            "patrol",
            "罚款金额 cfje 目录登记为数值型 N，实际为文本（如“5000元”）",
            column="cfje",
        ),
    ),
)


def _food_licence_rows(city: CityBuilder) -> Rows:
    stale_day = city.as_of - timedelta(days=_STALE_DAYS)
    rows: Rows = []
    for i, e in enumerate(city.rng.sample(city.enterprises, max(20, city.n // 4))):
        day = city.fake.date_between(max(e.founded, city.ago(10)), stale_day)
        rows.append(
            {
                "xkzbh": f"SC{city.rng.randint(101, 131)}{e.district}{i + 1:04d}{city.rng.randrange(10)}",
                "qymc": e.name,
                "tyshxydm": e.code,
                "splb": city.fake.pick(_FOOD_CATEGORIES),
                "scdz": e.address,
                "fzrq": day.isoformat(),
                "gxsj": city.updated(day, stale_day),
            }
        )
    city.freshen(rows, day=stale_day)
    return rows


FOOD_LICENCES = DatasetSpec(
    location="spscxk",
    title="食品生产许可信息",
    columns=(
        col_c("xkzbh", 16),
        col_c("qymc", 100),
        col_c("tyshxydm", 18),
        col_c("splb", 50),
        col_c("scdz", 200),
        col_d("fzrq"),
        col_t("gxsj"),
    ),
    rows=_food_licence_rows,
    layer=Layer.DEPARTMENT,
    summary="食品生产许可证的编号、企业、食品类别和发证日期",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L1,
    primary_key=("xkzbh",),
    sync=SyncMode.FULL,
    defects=(
        DefectSpec(
            "stale_resource",
            "patrol",
            lambda city: (
                f"更新周期为每日，但更新时间字段 gxsj 最大值为 "
                f"{(city.as_of - timedelta(days=_STALE_DAYS)).isoformat()}，距数据日期 {_STALE_DAYS} 天"
            ),
            column="gxsj",
        ),
    ),
)


def _abnormal_operation_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    listed = [e for e in city.enterprises if e.founded + timedelta(days=365) <= city.yesterday]
    for e in city.rng.sample(listed, min(len(listed), max(10, city.n // 5))):
        day = city.fake.date_between(max(e.founded + timedelta(days=365), city.ago(8)), city.yesterday)
        rows.append(
            {
                "tyshxydm": e.code,
                "qymc": e.name,
                "lryy": city.fake.pick(_ABNORMAL_REASONS),
                "lrrq": day.isoformat(),
                "zcjg": city.depts["scjgj"].name,
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


ABNORMAL_OPERATIONS = DatasetSpec(
    location="jyycml",
    title="经营异常名录",
    columns=(
        col_c("tyshxydm", 18),
        col_c("qymc", 100),
        col_c("lryy", 200),
        col_d("lrrq"),
        col_c("zcjg", 100),
        col_t("gxsj"),
    ),
    rows=_abnormal_operation_rows,
    layer=Layer.DEPARTMENT,
    summary="列入经营异常名录的企业及列入原因",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L2,
    primary_key=("tyshxydm",),
    # 有条件共享 without a 共享条件: the catalog import rejects the row.
    overrides={"共享条件": ""},
    defects=(
        DefectSpec(
            "catalog_row_rejected",
            "catalog_import",
            "共享类型为有条件共享，但共享条件为空，目录导入应拒绝此行",
            column="共享条件",
        ),
        DefectSpec(
            "uncatalogued_resource", "census", "经营异常名录表的目录行被导入拒绝，该表因此没有有效目录条目"
        ),
    ),
)

SCJGJ = DepartmentSpec("scjgj", (ENTERPRISES, SOLE_TRADERS, PENALTIES, FOOD_LICENCES, ABNORMAL_OPERATIONS))
