"""市民政局: subsistence allowances, marriages, adoptions, social organisations and old-age allowances
in its database, and three spreadsheets in its folder; a birth date that disagrees with the ID
number, empty keys, an undeclared column, ID numbers catalogued as open data and an uncatalogued file."""

from __future__ import annotations

from datetime import date, timedelta

from citygov.catalog.schema import (
    Layer,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    SyncMode,
    UpdateCycle,
)
from citygov.demo.builder import CityBuilder, DatasetSpec, DefectSpec, DepartmentSpec, Rows
from citygov.demo.fake import CURRENT_COUNTIES
from citygov.demo.model import FILES_DEPARTMENT, col_c, col_d, col_n, col_t

_FILES = f"dept_{FILES_DEPARTMENT}_files"
"""The connection of the department's folder."""
_ASSOCIATION_FIELDS = (
    "摄影家",
    "书法家",
    "餐饮行业",
    "物流行业",
    "水晶行业",
    "软件行业",
    "志愿者",
    "老年人体育",
    "青年企业家",
    "慈善",
    "律师",
    "注册会计师",
    "建筑业",
    "旅游",
    "收藏家",
    "围棋",
    "足球",
    "作家",
)


def _allowance_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    for p in city.sample(city.clean, max(20, city.n // 4)):
        day = city.fake.date_between(max(city.ago(9), p.birth), city.yesterday)
        size = city.rng.randint(1, 5)
        rows.append(
            {
                "sfzhm": p.ric,
                "xm": p.name,
                "csrq": p.birth.isoformat(),
                "jtrks": size,
                "bzje": float(size * city.rng.choice((780, 820, 860))),
                "ssxq": p.district,
                "sqrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _shift_birth_dates(city: CityBuilder, rows: Rows) -> None:
    for k, i in enumerate(city.pick_rows(rows, 2)):
        born = date.fromisoformat(str(rows[i]["csrq"]))
        rows[i]["csrq"] = (born - timedelta(days=31 + 97 * k)).isoformat()


SUBSISTENCE_ALLOWANCES = DatasetSpec(
    location="dbdxxx",
    title="最低生活保障对象信息",
    columns=(
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_d("csrq"),
        col_n("jtrks"),
        col_n("bzje", "DECIMAL(10,2)"),
        col_c("ssxq", 6),
        col_d("sqrq"),
        col_t("gxsj"),
    ),
    rows=_allowance_rows,
    layer=Layer.THEME,
    summary="城乡最低生活保障对象、家庭人口和月保障金额",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L3,
    primary_key=("sfzhm",),
    related=("gaj.rkjbxx",),
    spoil=_shift_birth_dates,
    defects=(
        DefectSpec(
            "id_birthdate_mismatch",
            "quality",
            "2 条记录的出生日期 csrq 与公民身份号码中的出生日期不一致",
            column="csrq",
            count=2,
        ),
    ),
)


def _marriage_rows(city: CityBuilder) -> Rows:
    men = city.adults(25, 70, "1")
    women = city.adults(23, 70, "2")
    city.rng.shuffle(men)
    city.rng.shuffle(women)
    rows: Rows = []
    seqs: dict[tuple[str, int], int] = {}
    for man, woman in list(zip(men, women, strict=False))[: max(10, city.n // 4)]:
        day = city.fake.date_between(city.as_of - timedelta(days=3 * 365), city.yesterday)
        divorce = city.rng.random() < 0.15
        key = (man.district, day.year)
        seqs[key] = seqs.get(key, 0) + 1
        rows.append(
            {
                "djbh": f"{'L' if divorce else 'J'}{man.district}-{day.year}-{seqs[key]:06d}",
                "nfxm": man.name,
                "nfsfzhm": man.ric,
                "nvfxm": woman.name,
                "nvfsfzhm": woman.ric,
                "djlx": "离婚" if divorce else "结婚",
                "djrq": day.isoformat(),
                "djjgmc": f"{city.fake.divisions[man.district].name}民政局婚姻登记处",
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


def _empty_keys(city: CityBuilder, rows: Rows) -> None:
    first, second = city.pick_rows(rows, 2)
    rows[first]["djbh"] = None
    rows[second]["djbh"] = ""


MARRIAGES = DatasetSpec(
    location="hydjxx",
    title="婚姻登记信息",
    columns=(
        col_c("djbh", 30),
        col_c("nfxm", 50),
        col_c("nfsfzhm", 18),
        col_c("nvfxm", 50),
        col_c("nvfsfzhm", 18),
        col_c("djlx", 10),
        col_d("djrq"),
        col_c("djjgmc", 100),
        col_t("gxsj"),
    ),
    rows=_marriage_rows,
    layer=Layer.DEPARTMENT,
    summary="结婚、离婚登记的双方当事人、登记日期和登记机关",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.DAILY,
    grade=Sensitivity.L3,
    primary_key=("djbh",),
    spoil=_empty_keys,
    defects=(
        DefectSpec(
            "missing_value",
            "quality",
            "2 条记录的主键 登记编号 djbh 为空（1 条 NULL，1 条空字符串）",
            column="djbh",
            count=2,
        ),
    ),
)


def _adoption_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    adopters = city.sample(city.adults(30, 60), max(5, min(20 * city.scale, city.n // 10)))
    for i, p in enumerate(adopters):
        day = city.fake.date_between(city.as_of - timedelta(days=5 * 365), city.yesterday)
        gender = city.fake.pick("12")
        rows.append(
            {
                "djbh": f"SY{day:%Y}{i + 1:05d}",
                "syrxm": p.name,
                "syrsfzhm": p.ric,
                "bsyrxm": city.fake.name(gender, p.name[0]),
                "bsyrcsrq": city.fake.date_between(
                    day - timedelta(days=6 * 365), day - timedelta(days=60)
                ).isoformat(),
                "djrq": day.isoformat(),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


ADOPTIONS = DatasetSpec(
    location="sydjxx",
    title="收养登记信息",
    columns=(
        col_c("djbh", 20),
        col_c("syrxm", 50),
        col_c("syrsfzhm", 18),
        col_c("bsyrxm", 50),
        col_d("bsyrcsrq"),
        col_d("djrq"),
        col_t("gxsj"),
    ),
    rows=_adoption_rows,
    layer=Layer.DEPARTMENT,
    summary="收养登记的收养人和被收养人信息",
    share=ShareType.NOT_SHARED,
    basis="《中华人民共和国民法典》第一千一百一十条：收养人、送养人要求保守收养秘密的，其他人应当尊重其意愿，不得泄露",
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L4,
    primary_key=("djbh",),
)


def _organisation_rows(city: CityBuilder) -> Rows:
    fake = city.fake
    rows: Rows = []
    for _ in range(max(10, min(city.n // 4, 400))):
        # Registered by the city or a county; the code's division part and the name agree.
        seat = fake.pick(("320700", *CURRENT_COUNTIES))
        place = fake.divisions[seat].name
        district, address = fake.address(None if seat == "320700" else seat)
        roll = city.rng.random()
        if roll < 0.6:
            kind, entity = "社会团体", "1"
            name = fake.org_name(
                lambda place=place: (
                    f"{place}{fake.pick(_ASSOCIATION_FIELDS)}{fake.pick(('协会', '研究会', '促进会', '联合会'))}"
                )
            )
        elif roll < 0.92:
            kind, entity = "民办非企业单位", "2"
            name = fake.org_name(
                lambda place=place: (
                    f"{place}{fake.pick(('康泰', '博雅', '阳光', '春晖', '启明', '乐童'))}"
                    f"{fake.pick(('养老服务中心', '幼儿园', '培训学校', '社会工作服务中心'))}"
                )
            )
        else:
            kind, entity = "基金会", "3"
            name = fake.org_name(
                lambda: f"连云港市{fake.pick(('慈善', '教育发展', '见义勇为', '青少年发展', '助学'))}基金会"
            )
        day = fake.date_between(city.ago(26), city.yesterday)
        rows.append(
            {
                "tyshxydm": fake.org_code(seat, "5", entity),
                "zzmc": name,
                "zzlx": kind,
                "fddbr": fake.person(30, 75).name,
                "ywfw": "开展行业交流、业务培训、咨询服务和公益活动",
                "djrq": day.isoformat(),
                "zs": address,
                "bz": fake.pick(("年检合格", "基本合格", "新登记")),
                "gxsj": city.updated(day),
            }
        )
    city.freshen(rows)
    return rows


_ORGANISATION_COLUMNS = (
    col_c("tyshxydm", 18),
    col_c("zzmc", 100),
    col_c("zzlx", 20),
    col_c("fddbr", 50),
    col_c("ywfw", 200),
    col_d("djrq"),
    col_c("zs", 200),
    col_c("bz", 100),
    col_t("gxsj"),
)

ORGANISATIONS = DatasetSpec(
    location="shzzxx",
    title="社会组织登记信息",
    columns=_ORGANISATION_COLUMNS,
    rows=_organisation_rows,
    layer=Layer.BASE,
    summary="社会团体、民办非企业单位和基金会的登记信息",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.CONDITIONAL,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L2,
    primary_key=("tyshxydm",),
    # The table carries a 备注 column nobody declared.
    declared=tuple(c for c in _ORGANISATION_COLUMNS if c.name != "bz"),
    defects=(
        DefectSpec("schema_unexpected_column", "patrol", "表中存在目录未登记的列 bz（备注）", column="bz"),
    ),
)


def _old_age_allowance_rows(city: CityBuilder) -> Rows:
    month = f"{city.yesterday:%Y-%m}"
    rows: Rows = []
    for p in city.adults(80)[: max(5, city.n // 4)]:
        years = city.age(p)
        rows.append(
            {
                "sfzhm": p.ric,
                "xm": p.name,
                "nl": years,
                "ffyf": month,
                "ffje": 100.0 if years < 90 else (200.0 if years < 100 else 500.0),
                "ssxq": p.district,
                "gxsj": city.updated(city.yesterday.replace(day=1)),
            }
        )
    city.freshen(rows)
    return rows


OLD_AGE_ALLOWANCES = DatasetSpec(
    location="gljtff",
    title="高龄津贴发放名单",
    columns=(
        col_c("sfzhm", 18),
        col_c("xm", 50),
        col_n("nl"),
        col_c("ffyf", 7),
        col_n("ffje", "DECIMAL(8,2)"),
        col_c("ssxq", 6),
        col_t("gxsj"),
    ),
    rows=_old_age_allowance_rows,
    layer=Layer.DEPARTMENT,
    # ID numbers, yet catalogued 无条件开放 and graded L1.
    summary="80 周岁以上老年人高龄津贴月度发放名单",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.MONTHLY,
    grade=Sensitivity.L1,
    primary_key=("sfzhm",),
    related=("gaj.rkjbxx",),
    defects=(
        DefectSpec(
            "sensitive_open_unconditional",
            "patrol",
            "含公民身份号码和姓名的数据集被登记为无条件开放、敏感级别 L1",
            column="sfzhm",
        ),
    ),
)


def _care_home_rows(city: CityBuilder) -> Rows:
    fake = city.fake
    rows: Rows = []
    for _ in range(max(10, min(30 * city.scale, 300))):
        district, address = fake.address()
        place = fake.divisions[district].name
        name = fake.org_name(
            lambda place=place: (
                f"{place}{fake.pick(('福寿', '康颐', '安乐', '祥和', '夕阳红', '松鹤'))}"
                f"{fake.pick(('养老院', '敬老院', '颐养中心', '护理院'))}"
            )
        )
        rows.append(
            {
                "机构名称": name,
                "机构性质": fake.pick(("公办", "民办", "公建民营")),
                "地址": address,
                "床位数": city.rng.randrange(40, 400, 10),
                "联系电话": f"0518-8{city.rng.randrange(10**7):07d}",
                "所属区县": district,
                "备案日期": fake.date_between(city.ago(14), city.yesterday),
            }
        )
    return rows


CARE_HOMES = DatasetSpec(
    location="养老机构名录.xlsx",
    title="养老机构名录",
    columns=(
        col_c("机构名称"),
        col_c("机构性质"),
        col_c("地址"),
        col_n("床位数"),
        col_c("联系电话"),
        col_c("所属区县"),
        col_d("备案日期"),
    ),
    rows=_care_home_rows,
    layer=Layer.THEME,
    summary="全市养老机构的名称、性质、地址、床位数和联系电话",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.QUARTERLY,
    grade=Sensitivity.L1,
    primary_key=("机构名称",),
    update_col=None,
    sync=SyncMode.FULL,
    conn_id=_FILES,
    fmt=ResourceFormat.SPREADSHEET,
)


def _funeral_service_rows(city: CityBuilder) -> Rows:
    fake = city.fake
    rows: Rows = []
    kinds = (("殡仪馆", "殡仪馆"), ("公墓", "公益性公墓"), ("殡葬服务站", "殡葬服务站"))
    for _ in range(max(8, min(12 * city.scale, 120))):
        district, address = fake.address()
        kind, suffix = city.rng.choice(kinds)
        place = fake.divisions[district].name
        name = fake.org_name(
            lambda place=place, suffix=suffix: (
                f"{place}{fake.pick(('安息', '永宁', '福寿', '仙鹤', '松柏', '万安'))}{suffix}"
            )
        )
        rows.append(
            {
                "机构名称": name,
                "机构类型": kind,
                "地址": address,
                "联系电话": f"0518-8{city.rng.randrange(10**7):07d}",
                "所属区县": district,
            }
        )
    return rows


FUNERAL_SERVICES = DatasetSpec(
    location="殡葬服务机构.csv",
    title="殡葬服务机构名录",
    columns=(col_c("机构名称"), col_c("机构类型"), col_c("地址"), col_c("联系电话"), col_c("所属区县")),
    rows=_funeral_service_rows,
    layer=Layer.DEPARTMENT,
    summary="殡仪馆、公益性公墓和殡葬服务站名录（GBK 编码 CSV）",
    share=ShareType.UNCONDITIONAL,
    open_attr=OpenAttr.UNCONDITIONAL,
    cycle=UpdateCycle.YEARLY,
    grade=Sensitivity.L1,
    primary_key=("机构名称",),
    update_col=None,
    sync=SyncMode.FULL,
    conn_id=_FILES,
    fmt=ResourceFormat.SPREADSHEET,
)


def _relief_rows(city: CityBuilder) -> Rows:
    rows: Rows = []
    for i, p in enumerate(city.sample(city.adults(19), 30)):
        rows.append(
            {
                "序号": i + 1,
                "姓名": p.name,
                "身份证号码": p.ric,
                "救助类别": city.fake.pick(("急难型", "支出型")),
                "救助金额": city.rng.randrange(500, 5000, 100),
                "救助日期": city.fake.date_between(
                    date(city.yesterday.year, 1, 1), city.yesterday
                ).isoformat(),
                "所属区县": p.district,
            }
        )
    return rows


TEMPORARY_RELIEF = DatasetSpec(
    location=lambda city: f"临时救助台账_{city.yesterday.year}.csv",
    title="临时救助台账",
    columns=(
        col_n("序号"),
        col_c("姓名"),
        col_c("身份证号码"),
        col_c("救助类别"),
        col_n("救助金额"),
        col_d("救助日期"),
        col_c("所属区县"),
    ),
    rows=_relief_rows,
    layer=Layer.DEPARTMENT,
    summary="",
    share=ShareType.CONDITIONAL,
    open_attr=OpenAttr.NOT_OPEN,
    cycle=UpdateCycle.IRREGULAR,
    grade=Sensitivity.L3,
    primary_key=("身份证号码",),
    update_col=None,
    conn_id=_FILES,
    fmt=ResourceFormat.SPREADSHEET,
    catalogued=False,
    defects=(
        DefectSpec("uncatalogued_resource", "census", "民政局文件夹中的临时救助台账（UTF-8 BOM CSV）未编目"),
    ),
)

MZJ = DepartmentSpec(
    "mzj",
    (
        SUBSISTENCE_ALLOWANCES,
        MARRIAGES,
        ADOPTIONS,
        ORGANISATIONS,
        OLD_AGE_ALLOWANCES,
        CARE_HOMES,
        FUNERAL_SERVICES,
        TEMPORARY_RELIEF,
    ),
)
