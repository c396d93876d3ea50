"""A city of the size of a province-level one for the nightly-chain benchmark: ``entries`` catalog entries
over ``departments`` departments, dealt round-robin onto SQLite, PostgreSQL and MariaDB.

The demo city (:mod:`citygov.demo`) has seven departments; this generator keeps its vocabulary (the
:class:`~citygov.demo.builder.CityBuilder`, its population, the templated datasets of
:mod:`citygov.demo.departments.templates`, the catalog writer and :class:`~citygov.demo.servers.DemoServer`)
and only adds departments and planted defects at a fixed rhythm, so the chain does real work:

- quality: every ``QUALITY_EVERY``-th entry has 2 bad rows (an invalid mobile, a negative indicator or a
  blank permit holder, by template);
- patrol: every ``SCHEMA_EVERY``-th entry declares a column its table lacks; every ``MISSING_EVERY``-th
  entry has no table;
- census: every ``UNCATALOGUED_EVERY``-th table has no catalog row (and the census, reconciling, also finds
  the entries without a table).

Suites are written from the three templates' reviewed suites in ``expectations/`` (the demo's
``320700-GAJ-0006``, ``-SCJGJ-0006`` and ``-RSJ-0005``), adjusted to each table, so no drafting pass is
needed. Tables are small (``rows`` rows each). Server databases are named ``<prefix>_<key>``
(``b_nightly_d01``) and dropped and created again on every generation.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from citygov.demo import DEFAULT_AS_OF, DEFAULT_SEED
from citygov.demo.builder import CityBuilder
from citygov.demo.city import _write_catalog
from citygov.demo.departments.templates import case_files, permits, statistics
from citygov.demo.model import Dataset, Department, col_c
from citygov.demo.servers import (
    SQLITE,
    DemoServer,
    check_prefix,
    database_name,
    parse_engines,
    place_departments,
)
from citygov.identifiers import make_uscc
from citygov.sources import SOURCE_EXTRA_KEY, ConnectionInfo

QUALITY_EVERY = 50
SCHEMA_EVERY = 200
MISSING_EVERY = 250
UNCATALOGUED_EVERY = 300
TEMPLATE_SUITES = {"case": "320700-GAJ-0006", "stat": "320700-SCJGJ-0006", "permit": "320700-RSJ-0005"}
"""The demo's reviewed suites of the three templates, adjusted per bench table."""

_BUREAUS = (
    ("发展和改革委员会", "FGW", "项目审批业务"), ("教育局", "JYJ", "学籍管理业务"), ("科学技术局", "KJJ", "科技项目业务"),
    ("工业和信息化局", "GXJ", "企业技改业务"), ("公安局", "GAJ", "户政业务"), ("民政局", "MZJ", "社会救助业务"),
    ("司法局", "SFJ", "法律援助业务"), ("财政局", "CZJ", "财政票据业务"), ("人力资源和社会保障局", "RSJ", "社保经办业务"),
    ("自然资源和规划局", "ZRZYJ", "规划许可业务"), ("生态环境局", "STHJJ", "排污许可业务"),
    ("住房和城乡建设局", "ZJJ", "施工许可业务"), ("交通运输局", "JTJ", "道路运输业务"), ("水利局", "SLJ", "取水许可业务"),
    ("农业农村局", "NYJ", "农机补贴业务"), ("商务局", "SWJ", "外贸备案业务"), ("文化广电和旅游局", "WGLJ", "演出审批业务"),
    ("卫生健康委员会", "WJW", "卫生监督业务"), ("应急管理局", "YJJ", "安全生产业务"), ("市场监督管理局", "SCJGJ", "登记注册业务"),
)
_LEVELS = (("连云港市", "", "320700"), ("连云港市海州区", "HZ", "320706"), ("连云港市赣榆区", "GY", "320707"))


@dataclass
class BenchCity:
    """What :func:`create_bench_city` wrote."""

    root: Path
    catalog_path: Path
    connections_path: Path
    suites_dir: Path
    entries: int
    """Catalog rows the import accepts."""
    departments: int
    tables: int
    rows: int
    placement: dict[str, str] = field(default_factory=dict)
    """Department key → engine."""
    expected: dict[str, int] = field(default_factory=dict)
    """Planted defects by the stage that should find them (census, patrol, quality)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Generation time by step."""


def bench_departments(count: int) -> list[Department]:
    """``count`` departments (at most 60): the twenty bureaus of the city, then of two districts."""
    if not 1 <= count <= len(_BUREAUS) * len(_LEVELS):
        raise ValueError(f"departments must be 1..{len(_BUREAUS) * len(_LEVELS)}, got {count}")
    out = []
    for i in range(count):
        (name, abbr, business), (level, tag, division) = _BUREAUS[i % len(_BUREAUS)], _LEVELS[i // len(_BUREAUS)]
        out.append(Department(f"d{i + 1:02d}", f"{level}{name}", f"{tag}{abbr}", make_uscc(division, 1402_0000 + i, "1"),
                              business))
    return out


def _spoil(kind: str):  # type: ignore[no-untyped-def]
    """Two bad rows (never the freshest, the last) of a templated table."""

    def spoil(city: CityBuilder, rows: list[dict[str, object]]) -> None:
        for i in (0, len(rows) // 2):
            if kind == "case":
                rows[i]["lxdh"] = "1380000"
            elif kind == "stat":
                rows[i]["zbz"] = -1.0
            else:
                rows[i]["xkdx"] = ""

    return spoil


def build_bench_city(entries: int, departments: int, rows: int, seed: int = DEFAULT_SEED) -> tuple[CityBuilder, list[Department], dict[str, int], dict[str, str]]:
    """Every dataset in memory: (builder, departments, expected findings by stage, kind by location key)."""
    city = CityBuilder(seed=seed, scale=1, as_of=DEFAULT_AS_OF)
    city.template_rows = rows
    depts = bench_departments(departments)
    adults = city.adults(19)
    expected: Counter[str] = Counter()
    kinds: dict[str, str] = {}
    for i in range(entries):
        dept = depts[i % len(depts)]
        kind = ("case", "stat", "permit")[(i + i // len(depts)) % 3]
        number = f"{i + 1:05d}"
        if kind == "case":
            spec = case_files(dept, number, adults)
        elif kind == "stat":
            spec = statistics(dept, number)
        else:
            spec = permits(dept, number)
        changes: dict[str, object] = {"related": ()}
        n = i + 1
        if n % UNCATALOGUED_EVERY == 0:
            changes["catalogued"] = False
            expected["census"] += 1
        elif n % MISSING_EVERY == 0:
            changes["exists"] = False
            expected["patrol"] += 1
            expected["census"] += 1  # the census reconciles the catalog too: an entry without its table
        elif n % SCHEMA_EVERY == 0:
            changes["declared"] = (*spec.columns, col_c("bz", 200))
            expected["patrol"] += 1
        elif n % QUALITY_EVERY == 0:
            changes["spoil"] = _spoil(kind)
            expected["quality"] += 1
        ds = city.make_dataset(dept, dataclasses.replace(spec, **changes))
        kinds[f"{dept.key}.{ds.location}"] = kind
    return city, depts, dict(expected), kinds


def create_bench_city(
    out_dir: Path,
    *,
    entries: int,
    departments: int = 60,
    engines: str | Sequence[str] = "sqlite,postgresql,mysql",
    rows: int = 40,
    prefix: str = "b_nightly",
    seed: int = DEFAULT_SEED,
    template_suites: Path | None = None,
) -> BenchCity:
    """Generate the bench city into ``out_dir`` (replaced): sources, ``catalog.csv``, ``connections.json``
    and ``suites/``; departments dealt round-robin onto ``engines``."""
    import time

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    root = Path(out_dir).resolve()
    if root.exists():
        shutil.rmtree(root)
    (root / "sources").mkdir(parents=True)
    city, depts, expected, kinds = build_bench_city(entries, departments, rows, seed)
    timings["build_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    placement = place_departments(depts, parse_engines(engines))
    servers = {e: DemoServer.of(e) for e in set(placement.values()) if e != SQLITE}
    for engine, server in servers.items():
        if problem := server.problem():
            raise ConnectionError(f"the bench city needs {engine} at {server.describe('')}: {problem}")
        server.drop(server.databases(check_prefix(prefix)))
    by_dept: dict[str, list[Dataset]] = {d.key: [] for d in depts}
    for ds in city.datasets:
        if ds.exists:
            by_dept[ds.dept.key].append(ds)

    def write(dept: Department) -> tuple[int, int]:
        engine = placement[dept.key]
        if engine == SQLITE:
            return _write_sqlite(root / "sources" / f"{dept.key}.db", by_dept[dept.key])
        name = database_name(prefix, dept)
        servers[engine].recreate(name)
        return servers[engine].write(name, by_dept[dept.key])

    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(write, depts))
    timings["sources_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    catalog_path = root / "catalog.csv"
    _write_catalog(catalog_path, city)
    connections = [
        servers[placement[d.key]].connection(d, database_name(prefix, d))
        if placement[d.key] != SQLITE
        else ConnectionInfo(conn_id=d.conn_id, conn_type="sqlite", host=str(root / "sources" / f"{d.key}.db"),
                            extra={SOURCE_EXTRA_KEY: d.name})
        for d in depts
    ]
    connections_path = root / "connections.json"
    connections_path.write_text(
        json.dumps({c.conn_id: c.to_airflow_json() for c in connections}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    suites = root / "suites"
    _write_suites(suites, city.datasets, kinds, template_suites or Path(__file__).resolve().parents[1] / "expectations")
    timings["catalog_suites_s"] = time.perf_counter() - t0
    return BenchCity(
        root=root,
        catalog_path=catalog_path,
        connections_path=connections_path,
        suites_dir=suites,
        entries=sum(1 for ds in city.datasets if ds.imported),
        departments=len(depts),
        tables=sum(w[0] for w in written),
        rows=sum(w[1] for w in written),
        placement=placement,
        expected=expected,
        seconds={k: round(v, 2) for k, v in timings.items()},
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write_sqlite(path: Path, datasets: list[Dataset]) -> tuple[int, int]:
    con = sqlite3.connect(path)
    rows = 0
    try:
        con.execute("PRAGMA journal_mode=MEMORY")
        con.execute("PRAGMA synchronous=OFF")
        with con:
            for ds in datasets:
                con.execute(f"CREATE TABLE {_quote(ds.location)} ({', '.join(f'{_quote(c.name)} {c.sql}' for c in ds.columns)})")
                con.executemany(f"INSERT INTO {_quote(ds.location)} VALUES ({', '.join('?' * len(ds.columns))})", ds.matrix())
                rows += len(ds.rows)
    finally:
        con.close()
    return len(datasets), rows


def _write_suites(folder: Path, datasets: list[Dataset], kinds: dict[str, str], templates: Path) -> int:
    """One suite per imported entry, from its template's reviewed suite: names, provider, location and the
    per-table facts (code lengths, the department's indicator names) replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    loaded = {k: json.loads((templates / f"{code}.json").read_text(encoding="utf-8")) for k, code in TEMPLATE_SUITES.items()}
    written = 0
    for ds in datasets:
        if not ds.imported:
            continue
        kind = kinds[f"{ds.dept.key}.{ds.location}"]
        suite = copy.deepcopy(loaded[kind])
        suite["name"] = ds.code
        meta = suite["meta"]["citygov"]
        meta.update(entry_code=ds.code, entry_name=ds.title, provider=ds.dept.name, location=ds.location,
                    sensitivity=ds.grade.value)
        meta["drafted_from"] = {"rows": len(ds.rows), "sampled_rows": len(ds.rows)}
        kept = []
        for exp in suite["expectations"]:
            kw = exp["kwargs"]
            if exp["type"] == "expect_column_values_to_exist_in_base_table":
                continue  # the bench city has no 基础库
            if exp["type"] == "expect_column_value_lengths_to_be_between" and ds.rows:
                size = len(str(ds.rows[-1][kw["column"]]))
                kw["min_value"] = kw["max_value"] = size
            if exp["type"] == "expect_column_values_to_be_in_set" and kw["column"] == "zbmc":
                kw["value_set"] = sorted({f"{ds.dept.business}{name}" for name in ("办件量", "受理量", "按时办结率", "在册数量")})
            kept.append(exp)
        suite["expectations"] = kept
        (folder / f"{ds.code}.json").write_text(json.dumps(suite, ensure_ascii=False, indent=1), encoding="utf-8")
        written += 1
    return written
