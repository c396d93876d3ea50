"""A second city for tests, by its own small generator: five departments of 东海县 (320722), its own tables,
columns and codes, SQLite sources and one folder of CSV files, a catalog CSV, a connections file, and
defects planted with their exact counts in a manifest.

Not the demo generator (``citygov.demo``) with another seed, and more than ``tests/city_files.py``: a few
hundred to two thousand rows a table, so a drafted suite has to tell the rows that break a rule from the
rule. Deterministic: the same ``seed`` writes the same bytes.

Every quality defect sits in its own column (one defect, one failing rule, one count), on rows no other
defect touches; ``SecondCity.defects`` says what the pipeline must find, and nothing else is wrong.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from citygov.identifiers import USCC_ALPHABET, make_ric, make_uscc
from tests.catalog_files import row, write_catalog

AS_OF = date(2026, 12, 1)
"""The logical date the city is onboarded and inspected for."""

POLICE = "东海县公安局"
HEALTH = "东海县卫生健康委员会"
HOUSING = "东海县住房和城乡建设局"
MARKET = "东海县市场监督管理局"
TRANSPORT = "东海县交通运输局"

COUNTY = "320722"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志"

QUALITY_RULE = {
    "missing_value": "expect_column_values_to_not_be_blank",
    "invalid_id_number": "expect_column_values_to_be_valid_ric",
    "invalid_credit_code": "expect_column_values_to_be_valid_uscc",
    "invalid_mobile": "expect_column_values_to_be_valid_mobile",
    "invalid_plate": "expect_column_values_to_be_valid_plate",
    "unknown_division_code": "expect_column_values_to_be_valid_division_code",
    "future_date": "expect_column_values_to_be_date_not_in_future",
    "id_birthdate_mismatch": "expect_column_pair_values_to_match_id_birth_date",
    "duplicate_key": "expect_column_values_to_be_unique",
    "missing_reference": "expect_column_values_to_exist_in_base_table",
}
"""The rule that must find each kind of planted quality defect."""


@dataclass(frozen=True)
class PlantedDefect:
    """One deliberate defect, the findings that must report it and the dispute item it must become."""

    kind: str
    """``missing_value``, ``invalid_id_number``, … (quality); ``schema_missing_column``, ``schema_unexpected_column``,
    ``stale_resource``, ``empty_resource`` (patrol); ``uncatalogued_resource``, ``catalog_entry_without_resource`` (census)."""
    origin: str
    """The origin of its dispute item: ``quality``, ``patrol`` or ``census``."""
    rule_id: str
    """The rule of its dispute item: the expectation (quality) or finding rule (patrol, census)."""
    entry_code: str | None
    """The catalog entry (None for an uncatalogued table)."""
    department: str
    """Where its dispute item must go: the entry's 信息资源提供方, or the connection's department."""
    location: str
    """Table or file."""
    column: str | None = None
    count: int | None = None
    """Exact failing rows (quality only)."""
    detail: str = ""
    findings: tuple[tuple[str, str], ...] = ()
    """(origin, rule) of every finding that must report it; default its dispute's own."""

    @property
    def found_by(self) -> tuple[tuple[str, str], ...]:
        return self.findings or ((self.origin, self.rule_id),)


@dataclass
class SecondCity:
    """What :func:`build_second_city` wrote."""

    root: Path
    catalog_file: Path
    connections_file: Path
    defects: list[PlantedDefect] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written per entry code."""

    def manifest(self) -> dict:
        return {"as_of": AS_OF.isoformat(), "rows": self.rows, "defects": [asdict(d) for d in self.defects]}


def entry(code: str, name: str, provider: str, provider_code: str, conn_id: str, location: str, columns: str,
          primary_key: str, *, layer: str = "部门业务库", cycle: str = "不定时", updated: str = "",
          fmt: str = "数据库", related: str = "", sensitivity: str = "L3") -> dict[str, str]:
    return row(**{
        "信息资源代码": code, "信息资源名称": name, "信息资源提供方": provider, "提供方代码": provider_code,
        "信息资源分类": layer, "信息资源摘要": f"{provider}{name}", "信息资源格式": fmt, "信息项": columns,
        "数据连接": conn_id, "资源位置": location, "主键": primary_key, "更新时间字段": updated, "更新周期": cycle,
        "关联资源代码": related, "敏感级别": sensitivity, "共享类型": "有条件共享", "共享条件": "仅用于政务服务",
        "开放属性": "不予开放", "发布日期": "2024-03-01",
    })


PERSON = "320722-GAJ-0001"
INSTITUTION = "320722-WJW-0001"
VISIT = "320722-WJW-0002"
RATING = "320722-WJW-0003"
CONTRACT = "320722-ZJJ-0001"
PROPERTY = "320722-ZJJ-0002"
ENTITY = "320722-SCJG-0001"
ABNORMAL = "320722-SCJG-0002"
VEHICLE = "320722-JTJ-0001"
DRIVER = "320722-JTJ-0002"

CATALOG = [
    entry(PERSON, "常住人口信息", POLICE, "GAJ", "dh_gaj", "czrk", "gmsfhm:C;xm:C;xb:C;csrq:D;gxsj:T", "gmsfhm",
          layer="基础库", cycle="每日", updated="gxsj", sensitivity="L4"),
    entry(INSTITUTION, "医疗机构信息", HEALTH, "WJW", "dh_wjw", "yljg", "jgdm:C;jgmc:C;szqh:C;cws:N;gxsj:T", "jgdm",
          cycle="每月", updated="gxsj", sensitivity="L2"),
    entry(VISIT, "门诊就诊记录", HEALTH, "WJW", "dh_wjw", "mzjz", "jzlsh:C;hzsfzh:C;lxdh:C;jgdm:C;jzrq:D", "jzlsh",
          related=PERSON),
    entry(RATING, "医疗机构评价信息", HEALTH, "WJW", "dh_wjw", "yljgpj", "jgdm:C;pjnd:C;pjdj:C", "jgdm,pjnd"),
    entry(CONTRACT, "商品房网签合同", HOUSING, "ZJJ", "dh_zjj", "spfwq.csv", "htbh:C;msrsfzh:C;fwzl:C;htje:N;qyrq:D",
          "htbh", fmt="电子表格"),
    entry(PROPERTY, "物业服务企业", HOUSING, "ZJJ", "dh_zjj", "wyqy.csv", "qydm:C;qymc:C;lxdh:C;zzdj:C", "qydm",
          fmt="电子表格", sensitivity="L2"),
    entry(ENTITY, "市场主体登记信息", MARKET, "SCJG", "dh_scjg", "sczt", "tyshxydm:C;ztmc:C;fddbrsfzh:C;zczb:N;clrq:D",
          "tyshxydm"),
    entry(ABNORMAL, "经营异常名录", MARKET, "SCJG", "dh_scjg", "jyyc", "tyshxydm:C;lryy:C;lrrq:D", "tyshxydm"),
    entry(VEHICLE, "道路运输车辆信息", TRANSPORT, "JTJ", "dh_jtj", "dlysc", "clbh:C;cphm:C;jsysfzh:C;cllx:C;djrq:D",
          "clbh", related=PERSON),
    entry(DRIVER, "道路运输驾驶员信息", TRANSPORT, "JTJ", "dh_jtj", "dlysjsy", "sfzh:C;xm:C;cyzgzh:C;zjcx:C", "sfzh",
          related=PERSON),
]


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.defects: list[PlantedDefect] = []
        self.used_ids: set[str] = set()

    def plant(self, kind: str, code: str | None, department: str, location: str, column: str | None = None,
              count: int | None = None, detail: str = "", *, rule_id: str | None = None, origin: str = "quality",
              findings: tuple[tuple[str, str], ...] = ()) -> None:
        self.defects.append(PlantedDefect(kind, origin, rule_id or QUALITY_RULE[kind], code, department, location,
                                          column, count, detail, findings))

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def ric(self, division: str, start: date, end: date) -> tuple[str, date, int]:
        """A new valid 18-digit ID: (number, birth date, sequence)."""
        while True:
            born, seq = self.day(start, end), self.rng.randrange(1000)
            number = make_ric(division, born, seq)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number, born, seq

    def ric15(self, division: str) -> tuple[str, date, int]:
        """A valid old 15-digit ID (1900s, no check character)."""
        while True:
            born, seq = self.day(date(1935, 1, 1), date(1975, 12, 31)), self.rng.randrange(1000)
            number = f"{division}{born:%y%m%d}{seq:03d}"
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number, born, seq

    def mobile(self) -> str:
        return self.rng.choice(("13", "15", "17", "18", "19")) + f"{self.rng.randrange(10**9):09d}"

    def picks(self, n: int, k: int, taken: set[int]) -> list[int]:
        """``k`` row positions out of ``n`` that no other defect took."""
        chosen = self.rng.sample([i for i in range(n) if i not in taken], k)
        taken.update(chosen)
        return sorted(chosen)


def _wrong_check(number: str) -> str:
    right = number[-1]
    return number[:-1] + ("0" if right != "0" else "1")


def _table(db: Path, name: str, columns: list[str], rows: list[tuple]) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f"create table {name} ({', '.join(columns)})")
        conn.executemany(f"insert into {name} values ({', '.join('?' * len(columns))})", rows)


def build_second_city(root: Path, *, seed: int = 722) -> SecondCity:
    """Write 东海县's sources (``root/sources``), ``catalog.csv``, ``connections.json`` and ``defects.json``."""
    g = _Generator(seed)
    src = root / "sources"
    (src / "zjj").mkdir(parents=True, exist_ok=True)
    for old in src.glob("*.db"):
        old.unlink()
    rows: dict[str, int] = {}

    # --- 东海县公安局: 常住人口 (基础库), keyed by ID number --------------------------------------------------
    n = 2000
    people: list[list] = []
    for i in range(n):
        if i % 50 == 7:  # 40 valid old IDs of 连云区 320703 issued before the code's 1983 (python-stdnum refuses them)
            number, born, seq = g.ric("320703", date(1940, 1, 1), date(1982, 12, 31))
        elif i % 100 == 13:  # 20 valid old 15-digit IDs
            number, born, seq = g.ric15(COUNTY)
        else:
            number, born, seq = g.ric(COUNTY, date(1945, 1, 1), date(2012, 12, 31))
        updated = datetime(2026, 11, 30, 8) - timedelta(minutes=g.rng.randrange(60 * 24 * 20))
        people.append([number, g.name(), "男" if seq % 2 else "女", born.isoformat(), updated.isoformat(sep=" ")])
    taken: set[int] = set()
    blanks = g.picks(n, 60, taken)
    for k, i in enumerate(blanks):
        people[i][1] = (None, "", "  ")[k % 3]
    g.plant("missing_value", PERSON, POLICE, "czrk", "xm", 60, "20 NULL, 20 empty, 20 only spaces of 2000 names (3 %)")
    mismatched = g.picks(n, 25, taken)
    for i in mismatched:
        people[i][3] = (date.fromisoformat(people[i][3]) + timedelta(days=g.rng.choice((1, 31, 365)))).isoformat()
    g.plant("id_birthdate_mismatch", PERSON, POLICE, "czrk", "csrq", 25, "出生日期 a day, a month or a year off the ID's")
    _table(src / "gaj.db", "czrk", ["gmsfhm text", "xm text", "xb text", "csrq date", "gxsj datetime"], [tuple(p) for p in people])
    rows[PERSON] = n
    residents = [p[0] for p in people]
    g.rng.shuffle(residents)

    def outsider() -> str:
        """A valid ID number of someone not in 东海县's population (born in 海州区)."""
        return g.ric("320706", date(1960, 1, 1), date(2000, 12, 31))[0]

    # --- 东海县卫生健康委员会: 医疗机构 (stale), 门诊就诊记录, and a catalogued 评价 table that does not exist -----------
    n = 300
    codes = [make_uscc(COUNTY, 50_000_000 + i * 37, registering="1", entity_type="2") for i in range(n)]
    towns = [COUNTY] * 8 + ["320703", "320706", "320707"]
    institutions = [
        [codes[i], f"东海县{g.rng.choice(('石榴', '白塔', '牛山', '桃林', '洪庄'))}第{i + 1}卫生院", g.rng.choice(towns),
         g.rng.randrange(10, 500), (datetime(2026, 8, 20, 17) - timedelta(days=g.rng.randrange(200))).isoformat(sep=" ")]
        for i in range(n)
    ]
    taken = set()
    bad_divisions = ["320799", "329901", "320729"]
    for k, i in enumerate(g.picks(n, 9, taken)):
        institutions[i][2] = bad_divisions[k % 3]
    g.plant("unknown_division_code", INSTITUTION, HEALTH, "yljg", "szqh", 9, "320799, 329901, 320729: no GB/T 2260 code")
    g.plant("stale_resource", INSTITUTION, HEALTH, "yljg", detail="latest gxsj 2026-08-20, 更新周期 每月",
            rule_id="patrol.timeliness.stale", origin="patrol")
    _table(src / "wjw.db", "yljg", ["jgdm text", "jgmc text", "szqh text", "cws integer", "gxsj datetime"], [tuple(r) for r in institutions])
    rows[INSTITUTION] = n

    n = 1500
    visits = [
        [f"MZ{2026000000 + i * 7}", residents[i % len(residents)], g.mobile(), g.rng.choice(codes),
         g.day(date(2025, 1, 1), date(2026, 11, 30)).isoformat()]
        for i in range(n)
    ]
    taken = set()
    for i in g.picks(n, 15, taken):
        visits[i][1] = outsider()
    g.plant("missing_reference", VISIT, HEALTH, "mzjz", "hzsfzh", 15, f"15 of 1500 patients (1 %) not in {PERSON}")
    bad_mobiles = ["1381234567", "138123456789", "12812345678", "23812345678", "1381234567a", "0518-8888888"]
    for k, i in enumerate(g.picks(n, 18, taken)):
        visits[i][2] = bad_mobiles[k % len(bad_mobiles)]
    g.plant("invalid_mobile", VISIT, HEALTH, "mzjz", "lxdh", 18, "too short, too long, 12/23 prefixes, a letter, a landline")
    for i in g.picks(n, 4, taken):
        visits.append(list(visits[i]))
    g.plant("duplicate_key", VISIT, HEALTH, "mzjz", "jzlsh", 8, "4 visits imported twice: 8 rows share a key")
    _table(src / "wjw.db", "mzjz", ["jzlsh text", "hzsfzh text", "lxdh text", "jgdm text", "jzrq date"], [tuple(v) for v in visits])
    rows[VISIT] = len(visits)
    # The census and the patrol both report it; the queue holds the one problem once (有目无数).
    g.plant("catalog_entry_without_resource", RATING, HEALTH, "yljgpj", rule_id="resource.missing", origin="census",
            findings=(("census", "census.resource_missing"), ("patrol", "patrol.resource.missing")))

    # --- 东海县住房和城乡建设局: a folder of CSV files -------------------------------------------------------
    n = 1000
    roads = ("牛山路", "晶都大道", "和平路", "西湖路", "幸福路")
    contracts = [
        [f"DHWQ{20250000 + i}", residents[(i * 3) % len(residents)], f"东海县{g.rng.choice(roads)}{g.rng.randrange(1, 300)}号",
         f"{g.rng.randrange(300_000, 2_000_000)}.00", g.day(date(2024, 1, 1), date(2026, 11, 30)).isoformat()]
        for i in range(n)
    ]
    taken = set()
    for i in g.picks(n, 11, taken):
        contracts[i][4] = g.day(date(2026, 12, 2), date(2027, 6, 30)).isoformat()
    g.plant("future_date", CONTRACT, HOUSING, "spfwq.csv", "qyrq", 11, f"签约日期 after {AS_OF}")
    _csv(src / "zjj" / "spfwq.csv", ["htbh", "msrsfzh", "fwzl", "htje", "qyrq"], contracts)
    rows[CONTRACT] = n
    n = 200
    firms = [[make_uscc(COUNTY, 60_000_000 + i * 53), f"东海县{g.name()}物业管理有限公司", g.mobile(),
              g.rng.choice(("一级", "二级", "三级"))] for i in range(n)]
    _csv(src / "zjj" / "wyqy.csv", ["qydm", "qymc", "lxdh", "zzdj"], firms)
    rows[PROPERTY] = n

    # --- 东海县市场监督管理局: 市场主体 (an undeclared column), 经营异常名录 (empty) ------------------------------
    n = 800
    entities = []
    for i in range(n):
        if i % 40 == 5:  # 20 valid old IDs of 320703, born before 1983
            rep = g.ric("320703", date(1945, 1, 1), date(1982, 12, 31))[0]
        else:
            rep = outsider()
        entities.append([make_uscc(COUNTY, 10_000_000 + i * 101, entity_type=g.rng.choice("12")), f"东海县{g.name()}商贸有限公司",
                         rep, g.rng.randrange(1, 1000) * 10_000, g.day(date(2000, 1, 1), date(2026, 11, 30)).isoformat(),
                         g.rng.choice(("", "个体转企", "迁入"))])
    taken = set(i for i in range(n) if i % 40 == 5)
    for i in g.picks(n, 12, taken):
        entities[i][0] = _wrong_uscc(entities[i][0])
    g.plant("invalid_credit_code", ENTITY, MARKET, "sczt", "tyshxydm", 12, "wrong MOD 31 check character")
    bad_ids = []
    for i in g.picks(n, 8, taken):
        entities[i][2] = _wrong_check(entities[i][2])
        bad_ids.append(i)
    for k, i in enumerate(g.picks(n, 6, taken)):
        born = ("19870230", "19910431", "19790229")[k % 3]
        entities[i][2] = _with_check(f"320706{born}{100 + k:03d}")
    for k, i in enumerate(g.picks(n, 5, taken)):
        entities[i][2] = make_ric(("320799", "329901")[k % 2], date(1980 + k, 5, 1 + k), 200 + k)
    g.plant("invalid_id_number", ENTITY, MARKET, "sczt", "fddbrsfzh", 19,
            "8 wrong check characters, 6 impossible birth dates, 5 unknown divisions; 20 valid 320703 IDs born before 1983 are not defects")
    g.plant("schema_unexpected_column", ENTITY, MARKET, "sczt", "bz", rule_id="patrol.schema.unexpected_column", origin="patrol")
    _table(src / "scjg.db", "sczt", ["tyshxydm text", "ztmc text", "fddbrsfzh text", "zczb integer", "clrq date", "bz text"],
           [tuple(e) for e in entities])
    rows[ENTITY] = n
    _table(src / "scjg.db", "jyyc", ["tyshxydm text", "lryy text", "lrrq date"], [])
    g.plant("empty_resource", ABNORMAL, MARKET, "jyyc", rule_id="patrol.volume.empty", origin="patrol")
    rows[ABNORMAL] = 0

    # --- 东海县交通运输局: 车辆 (bad plates), 驾驶员 (a declared column missing), an uncatalogued table ----------
    n = 600
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    vehicles = []
    for i in range(n):
        plate = "苏G" + "".join(g.rng.choice(letters) for _ in range(4)) + str(g.rng.randrange(10))
        vehicles.append([f"DHYS{300000 + i}", plate, residents[(i * 7 + 1) % len(residents)],
                         g.rng.choice(("客车", "货车", "货车", "出租车")), g.day(date(2015, 1, 1), date(2026, 11, 30)).isoformat()])
    taken = set()
    bad_plates = ["苏G1234", "苏I12345", "ABC12345", "苏G12345678", "江G12345", "苏GABCDEF", "苏12345"]
    for k, i in enumerate(g.picks(n, 7, taken)):
        vehicles[i][1] = bad_plates[k]
    g.plant("invalid_plate", VEHICLE, TRANSPORT, "dlysc", "cphm", 7, "short, I, no province, too long, unknown province, no digit, no letter")
    _table(src / "jtj.db", "dlysc", ["clbh text", "cphm text", "jsysfzh text", "cllx text", "djrq date"], [tuple(v) for v in vehicles])
    rows[VEHICLE] = n
    n = 400
    drivers = [[residents[(i * 11 + 5) % len(residents)], g.name(), f"3207{22000000 + i * 13:08d}"] for i in range(n)]
    drivers = [d for d in {d[0]: d for d in drivers}.values()]
    _table(src / "jtj.db", "dlysjsy", ["sfzh text", "xm text", "cyzgzh text"], [tuple(d) for d in drivers])
    g.plant("schema_missing_column", DRIVER, TRANSPORT, "dlysjsy", "zjcx", rule_id="patrol.schema.missing_column", origin="patrol")
    rows[DRIVER] = len(drivers)
    _table(src / "jtj.db", "clbgjl", ["bgbh text", "clbh text", "bgrq date"],
           [(f"BG{i:05d}", vehicles[i][0], "2026-10-01") for i in range(30)])
    g.plant("uncatalogued_resource", None, TRANSPORT, "clbgjl", rule_id="census.uncatalogued", origin="census")

    connections = {
        "dh_gaj": {"conn_type": "sqlite", "host": str(src / "gaj.db"), "extra": {"citygov_department": POLICE}},
        "dh_wjw": {"conn_type": "sqlite", "host": str(src / "wjw.db"), "extra": {"citygov_department": HEALTH}},
        "dh_zjj": {"conn_type": "fs", "extra": {"path": str(src / "zjj"), "citygov_department": HOUSING}},
        "dh_scjg": {"conn_type": "sqlite", "host": str(src / "scjg.db"), "extra": {"citygov_department": MARKET}},
        "dh_jtj": {"conn_type": "sqlite", "host": str(src / "jtj.db"), "extra": {"citygov_department": TRANSPORT}},
    }
    conn_file = root / "connections.json"
    conn_file.write_text(json.dumps(connections, ensure_ascii=False, indent=2), encoding="utf-8")
    city = SecondCity(root, write_catalog(root / "catalog.csv", CATALOG), conn_file, g.defects, rows)
    (root / "defects.json").write_text(json.dumps(city.manifest(), ensure_ascii=False, indent=2), encoding="utf-8")
    return city


def _with_check(first17: str) -> str:
    from citygov.identifiers import ric_check_char

    return first17 + ric_check_char(first17)


def _wrong_uscc(code: str) -> str:
    return code[:-1] + USCC_ALPHABET[(USCC_ALPHABET.index(code[-1]) + 1) % len(USCC_ALPHABET)]


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
