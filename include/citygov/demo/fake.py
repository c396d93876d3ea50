"""Realistic, reproducible Lianyungang content for the demo city: people, enterprises, addresses.

Everything is drawn from one ``random.Random`` handed in by the caller, so a seed fixes the output.
Identifiers pass their real check characters; division codes come from the shipped GB/T 2260 table.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from citygov.identifiers import COMMON_SURNAMES, make_ric, make_uscc
from citygov.quality.reference import Division, load_divisions

CITY = "320700"
"""连云港市."""

CURRENT_COUNTIES: tuple[str, ...] = ("320703", "320706", "320707", "320722", "320723", "320724")
"""Lianyungang's districts and counties in use today."""

ID_COUNTIES: tuple[str, ...] = CURRENT_COUNTIES + ("320705", "320721")
"""Codes found in residents' ID numbers, including the retired 新浦区 and 赣榆县."""

OTHER_PREFECTURES: tuple[str, ...] = ("320100", "320300", "320500", "320800", "320900", "321300")
"""Other Jiangsu prefectures (migrants' household registration, migration origins)."""

_ROADS: dict[str, tuple[str, ...]] = {
    "320706": (
        "通灌南路",
        "通灌北路",
        "解放中路",
        "解放东路",
        "朝阳中路",
        "海连中路",
        "海连东路",
        "苍梧路",
        "郁州南路",
        "郁州北路",
        "建国路",
        "人民东路",
        "龙河路",
        "凌州东路",
        "幸福南路",
        "花果山大道",
    ),
    "320703": ("中山中路", "中山西路", "海棠北路", "港城大道", "墟沟新街", "桃花涧路", "连云新城大道"),
    "320707": ("青口镇黄海路", "青口镇华中路", "青口镇环城东路", "青口镇沙河路", "海头镇海州湾路"),
    "320722": ("牛山街道和平路", "牛山街道晶都大道", "牛山街道青湖路", "牛山街道西双湖路", "石榴街道安峰路"),
    "320723": ("伊山镇人民路", "伊山镇振兴路", "伊山镇灌云大道", "伊山镇胜利路"),
    "320724": ("新安镇人民路", "新安镇长江路", "新安镇淮河路", "新安镇新港大道"),
}
_ESTATES = (
    "新城花园",
    "苍梧小区",
    "锦绣家园",
    "朝阳新村",
    "凤凰城",
    "万润园",
    "御景湾",
    "海棠苑",
    "龙河小区",
)

_MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林建国志海文东峰成亮洋晨阳博翔睿轩泽毅铭"
_FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英兰玲燕萍红梅琳莉婷雪慧颖倩晶佳欣怡悦雨琪涵萱璐露月彤"
_ETHNIC = ("汉族",) * 46 + ("回族", "满族", "蒙古族", "壮族")
_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
)
_TRADE_CHARS = "华盛恒达瑞丰源润联通宏远凯鑫泰晶海港新东嘉裕隆兴昌和信德安康鼎诚汇博天宇金正中云"
_INDUSTRIES = (
    "物流",
    "医药",
    "科技",
    "建材",
    "化工",
    "食品",
    "农业科技",
    "电子",
    "贸易",
    "机械制造",
    "水产",
    "新材料",
    "建筑工程",
    "装饰工程",
    "餐饮管理",
    "石英制品",
    "港口服务",
    "纺织",
    "光伏",
    "文化传媒",
)
_COMPANY_FORMS = (("有限公司", "有限责任公司"), ("股份有限公司", "股份有限公司"))
_SHOP_KINDS = (
    "水果店",
    "小吃店",
    "五金店",
    "理发店",
    "便利店",
    "服装店",
    "早餐店",
    "烟酒店",
    "维修部",
    "茶叶店",
)


@dataclass(frozen=True)
class Person:
    """A resident of the demo city."""

    name: str
    ric: str
    """18-character resident ID with a correct check character."""
    gender: str
    """GB/T 2261.1 code: 1 男, 2 女 (agrees with the ID's sequence digit)."""
    birth: date
    ethnic: str
    mobile: str
    district: str
    """Division code of the place of residence (a current county)."""
    address: str


@dataclass(frozen=True)
class Enterprise:
    """A registered market entity."""

    code: str
    """Unified social credit code (passes stdnum.cn.uscc)."""
    name: str
    legal_rep: Person
    capital: float
    """Registered capital in 万元."""
    founded: date
    district: str
    kind: str
    address: str


class CityFaker:
    """Makes people, enterprises and addresses of the demo city from one random generator."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.divisions: dict[str, Division] = load_divisions()
        self._rics: set[str] = set()
        self._mobiles: set[str] = set()
        self._names: set[str] = set()
        self._org_seq = 10_000_000 + rng.randrange(1_000_000)

    # --- small draws -----------------------------------------------------------------------------

    def date_between(self, start: date, end: date) -> date:
        """A day in [start, end]."""
        if end < start:
            raise ValueError(f"empty date range {start} .. {end}")
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def stamp_between(self, start: datetime, end: datetime) -> str:
        """A ``YYYY-MM-DD HH:MM:SS`` timestamp in [start, end]."""
        seconds = max(0, int((end - start).total_seconds()))
        return (start + timedelta(seconds=self.rng.randint(0, seconds))).strftime("%Y-%m-%d %H:%M:%S")

    def at(self, day: date, earliest: int = 8, latest: int = 23) -> str:
        """A timestamp on ``day`` between the given hours."""
        start = datetime.combine(day, time(earliest))
        return self.stamp_between(start, start + timedelta(hours=latest - earliest, minutes=59, seconds=59))

    def pick(self, seq: Sequence[str]) -> str:
        return seq[self.rng.randrange(len(seq))]

    def unique(self, make: Callable[[], str], used: set[str]) -> str:
        """``make()`` until it gives a value not in ``used``; numbered after many collisions."""
        for _ in range(40):
            value = make()
            if value not in used:
                used.add(value)
                return value
        base, n = make(), 2
        while f"{base}{n}" in used:
            n += 1
        used.add(f"{base}{n}")
        return f"{base}{n}"

    # --- people ----------------------------------------------------------------------------------

    def surname(self) -> str:
        roll = self.rng.random()
        if roll < 0.02:
            return self.pick([s for s in COMMON_SURNAMES if len(s) == 2])
        if roll < 0.75:
            return self.pick(COMMON_SURNAMES[:20])
        return self.pick([s for s in COMMON_SURNAMES[20:] if len(s) == 1])

    def name(self, gender: str, surname: str | None = None) -> str:
        chars = _MALE_CHARS if gender == "1" else _FEMALE_CHARS
        given = self.pick(chars) + (self.pick(chars) if self.rng.random() < 0.65 else "")
        return (surname or self.surname()) + given

    def address(self, district: str | None = None) -> tuple[str, str]:
        """A division code of a current county and a street address in it."""
        district = district or self.pick(CURRENT_COUNTIES)
        road = self.pick(_ROADS[district])
        text = f"江苏省连云港市{self.divisions[district].name}{road}{self.rng.randint(1, 399)}号"
        if self.rng.random() < 0.7:
            text += (
                f"{self.pick(_ESTATES)}{self.rng.randint(1, 30)}幢"
                f"{self.rng.randint(1, 3)}单元{self.rng.randint(1, 18)}0{self.rng.randint(1, 4)}室"
            )
        return district, text

    def road(self, district: str) -> str:
        """A road name in a county, without its town or sub-district prefix."""
        return self.roads(district, 1)[0]

    def roads(self, district: str, k: int) -> list[str]:
        """``k`` different road names in a county, without town or sub-district prefixes."""
        out = []
        for road in self.rng.sample(_ROADS[district], k):
            for mark in ("街道", "镇"):
                road = road.split(mark, 1)[-1]
            out.append(road)
        return out

    def mobile(self) -> str:
        return self.unique(
            lambda: self.pick(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}", self._mobiles
        )

    def id_division(self, year: int, choices: Sequence[str]) -> str:
        """A division code from ``choices`` that was in use in ``year`` (any current one if none was)."""
        valid = [c for c in choices if self.divisions[c].valid_in(year)]
        if not valid:
            valid = [c for c in choices if self.divisions[c].is_current]
        return self.pick(valid)

    def ric(self, birth: date, gender: str, divisions: Sequence[str] = ID_COUNTIES) -> str:
        division = self.id_division(birth.year, divisions)

        def make() -> str:
            seq = self.rng.randrange(500) * 2 + (1 if gender == "1" else 0)
            return make_ric(division, birth, seq)

        return self.unique(make, self._rics)

    def person(
        self,
        min_age: int = 0,
        max_age: int = 95,
        gender: str | None = None,
        divisions: Sequence[str] = ID_COUNTIES,
        surname: str | None = None,
    ) -> Person:
        """A resident aged ``min_age``..``max_age`` on the as-of date, born at least 30 days before it."""
        gender = gender or self.pick("12")
        latest = min(self.as_of - timedelta(days=30), _years_before(self.as_of, min_age))
        earliest = _years_before(self.as_of, max_age + 1) + timedelta(days=1)
        birth = self.date_between(earliest, latest)
        district, address = self.address()
        return Person(
            name=self.name(gender, surname),
            ric=self.ric(birth, gender, divisions),
            gender=gender,
            birth=birth,
            ethnic=self.pick(_ETHNIC),
            mobile=self.mobile(),
            district=district,
            address=address,
        )

    # --- organisations ---------------------------------------------------------------------------

    def org_code(self, division: str, registering: str = "9", entity_type: str = "1") -> str:
        self._org_seq += self.rng.randint(1, 97)
        return make_uscc(division, self._org_seq, registering, entity_type)

    def enterprise(self, *, founded_after: date | None = None) -> Enterprise:
        district = self.pick(CURRENT_COUNTIES)
        stock = self.rng.random() < 0.12
        suffix, kind = _COMPANY_FORMS[1 if stock else 0]

        def make() -> str:
            trade = self.pick(_TRADE_CHARS) + self.pick(_TRADE_CHARS)
            return f"连云港{trade}{self.pick(_INDUSTRIES)}{suffix}"

        name = self.unique(make, self._names)
        earliest = founded_after or date(self.as_of.year - 31, 1, 1)
        founded = self.date_between(earliest, self.as_of - timedelta(days=60))
        capital = float(self.rng.choice((50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)))
        return Enterprise(
            code=self.org_code(district),
            name=name,
            legal_rep=self.person(28, 70),
            capital=capital,
            founded=founded,
            district=district,
            kind=kind,
            address=self.address(district)[1],
        )

    def shop_name(self, district: str, owner: Person) -> str:
        prefix = self.divisions[district].name
        return self.unique(lambda: f"{prefix}{owner.name[0]}记{self.pick(_SHOP_KINDS)}", self._names)

    def org_name(self, make: Callable[[], str]) -> str:
        """A unique organisation name across the whole city."""
        return self.unique(make, self._names)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
