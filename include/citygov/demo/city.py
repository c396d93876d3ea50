"""Write the demo city to a folder: department sources, the catalog, connections, the exchange log,
the open-data listing, provincial backflow batches and the list of deliberate defects."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from openpyxl import Workbook

from citygov.catalog.schema import (
    CATALOG_HEADERS,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    format_columns,
)
from citygov.demo.builder import CityBuilder
from citygov.demo.departments import build_city
from citygov.demo.model import (
    DEPARTMENTS,
    FILES_DEPARTMENT,
    PROVINCE,
    PROVINCIAL_SENDER,
    Dataset,
    Defect,
    Department,
)
from citygov.demo.servers import (
    DEFAULT_DATABASE_PREFIX,
    SQLITE,
    DemoServer,
    check_prefix,
    database_name,
    parse_engines,
    place_departments,
)
from citygov.sources import SOURCE_EXTRA_KEY, ConnectionInfo

DEFAULT_SEED = 20231026
"""Default seed."""
DEFAULT_AS_OF = date(2026, 11, 28)
"""Default logical "today" of the demo city; every date in it is relative to this."""

EXCHANGE_CONN_ID = "exchange_platform"
PORTAL_CONN_ID = "open_data_portal"
LANDING_CONN_ID = "backflow_landing"
FILES_CONN_ID = f"dept_{FILES_DEPARTMENT}_files"

SHARING_TARGET = 0.97
OPEN_TARGET = 0.92
_CST = timezone(timedelta(hours=8))
_STAGES = ("catalog_import", "census", "patrol", "quality", "backflow")
_DEMO_MARKERS = ("defects.json", "catalog.csv", "connections.json")


@dataclass(frozen=True)
class DemoCity:
    """What :func:`create_demo_city` wrote."""

    root: Path
    as_of: date
    seed: int
    scale: int
    sources_dir: Path
    """``sources/<dept_key>.db``: one SQLite database per department placed on SQLite (plus ``sdsj.db``, the
    backflow staging, unless it is placed on a server)."""
    files_dir: Path
    """``files/<dept_key>/``: the department folder of spreadsheets."""
    catalog_path: Path
    """``catalog.csv``: GBK, headers ``CATALOG_HEADERS``."""
    connections_path: Path
    """``connections.json`` for ``airflow connections import``."""
    defects_path: Path
    """``defects.json``: every deliberate defect and the expected KPIs."""
    exchange_path: Path
    """``exchange.db`` with the ``share_requests`` log."""
    portal_listing_path: Path
    """``portal/open_listing.csv``: the open-data portal's published datasets."""
    landing_dir: Path
    """``landing/<batch_id>/``: provincial backflow batches (``data.csv`` + ``manifest.json``)."""
    departments: dict[str, str] = field(default_factory=dict)
    """Department key → full name, for every source with a ``citygov_department``."""
    conn_ids: tuple[str, ...] = ()
    n_catalog_rows: int = 0
    """Data rows in catalog.csv, including the one the import must reject."""
    n_entries: int = 0
    """Catalog rows the import accepts."""
    n_tables: int = 0
    n_rows: int = 0
    """Rows written to department tables and files."""
    n_batches: int = 0
    n_defects: int = 0
    placement: dict[str, str] = field(default_factory=dict)
    """Department key → the engine its database is on (``sqlite``, ``postgresql`` or ``mysql``)."""
    locations: dict[str, str] = field(default_factory=dict)
    """Department key → where its database is, for a person (a file path or ``postgresql://host:port/db``)."""

    def summary(self) -> str:
        """A few lines for a person: what was generated and where."""
        return "\n".join(
            [
                f"  as of {self.as_of.isoformat()}, seed {self.seed}, scale {self.scale}",
                f"  {len(self.departments)} departments, {self.n_tables} tables/files, {self.n_rows} rows",
                *(
                    [f"  department databases: {', '.join(f'{k} on {v}' for k, v in self.placement.items())}"]
                    if set(self.placement.values()) != {SQLITE}
                    else []
                ),
                f"  catalog: {self.catalog_path} ({self.n_catalog_rows} rows, GBK)",
                f"  connections: {self.connections_path}",
                f"  backflow batches: {self.n_batches} in {self.landing_dir}",
                f"  deliberate defects: {self.n_defects}, listed in {self.defects_path}",
            ]
        )


def create_demo_city(
    out_dir: Path,
    *,
    scale: int = 1,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    engines: str | Sequence[str] = (SQLITE,),
    server_urls: Mapping[str, str] | None = None,
    database_prefix: str = DEFAULT_DATABASE_PREFIX,
) -> DemoCity:
    """Generate a demo Lianyungang public data platform into ``out_dir`` (its contents are replaced).

    ``scale`` grows the city: the catalog has about 30 × scale rows (core datasets topped up with
    templated ones), core tables hold 200 × scale rows (at most 5000), templated tables 200 rows (fewer
    from scale 11, at least 20). The same ``seed``, ``scale`` and ``today`` give byte-identical files;
    ``today`` (default 2026-11-28) is the as-of date every date in the city is relative to. Nothing
    reads the clock.

    Written: ``sources/*.db``, ``files/mzj/``, ``catalog.csv`` (GBK), ``connections.json``,
    ``exchange.db``, ``portal/open_listing.csv``, ``landing/<batch>/``, ``defects.json`` and
    ``README.md``. ``defects.json`` lists every deliberate defect; all other data is clean.

    ``engines`` (default SQLite only) places the database departments: dealt round-robin in department
    order onto the engines given (:mod:`citygov.demo.servers`); a department on ``postgresql`` or ``mysql``
    gets the database ``<database_prefix>_<key>`` on that server (``server_urls`` by engine, default the
    local servers), dropped and created again, and a ``postgres``/``mysql`` connection. The tables, rows,
    catalog and ``defects.json`` are the same whatever the placement.

    Refuses to wipe a non-empty folder that does not look like an earlier demo city, and stops before
    writing anything when a server it needs does not answer.
    """
    as_of = today or DEFAULT_AS_OF
    root = Path(out_dir).resolve()
    departments = (*DEPARTMENTS, PROVINCE)
    placement = place_departments(departments, parse_engines(engines))
    servers = _servers(placement, server_urls, check_prefix(database_prefix))
    _reset(root)
    city = build_city(seed=seed, scale=scale, as_of=as_of)

    sources_dir = root / "sources"
    files_dir = root / "files" / FILES_DEPARTMENT
    n_tables, n_rows = _write_sources(sources_dir, city.datasets, servers, database_prefix)
    n_rows += _write_files(files_dir, city.datasets, as_of)
    catalog_path = root / "catalog.csv"
    catalogued = _write_catalog(catalog_path, city)
    batches = _write_landing(root / "landing", city)
    kpis = {
        "on_demand_sharing_rate": _write_exchange(root / "exchange.db", city),
        "open_rate": _write_portal(root / "portal" / "open_listing.csv", city),
        "catalog_coverage": _coverage(city.datasets),
    }
    connections = _connections(root, servers, database_prefix)
    connections_path = root / "connections.json"
    _write_json(connections_path, {c.conn_id: c.to_airflow_json() for c in connections})
    defects_path = root / "defects.json"
    ordered = sorted(city.defects, key=lambda d: _STAGES.index(d.detected_by))
    _write_json(
        defects_path,
        {
            "as_of": as_of.isoformat(),
            "seed": seed,
            "scale": scale,
            "defects": [d.to_json(f"D{i:02d}") for i, d in enumerate(ordered, start=1)],
            "kpis": kpis,
        },
    )
    locations = {
        d.key: servers[d.key].describe(database_name(database_prefix, d))
        if d.key in servers
        else f"sources/{d.key}.db"
        for d in departments
    }
    _write_readme(root / "README.md", city, ordered, kpis, locations)
    return DemoCity(
        root=root,
        as_of=as_of,
        seed=seed,
        scale=scale,
        sources_dir=sources_dir,
        files_dir=files_dir,
        catalog_path=catalog_path,
        connections_path=connections_path,
        defects_path=defects_path,
        exchange_path=root / "exchange.db",
        portal_listing_path=root / "portal" / "open_listing.csv",
        landing_dir=root / "landing",
        departments={d.key: d.name for d in departments},
        conn_ids=tuple(c.conn_id for c in connections),
        n_catalog_rows=catalogued,
        n_entries=sum(1 for ds in city.datasets if ds.imported),
        n_tables=n_tables,
        n_rows=n_rows,
        n_batches=batches,
        n_defects=len(ordered),
        placement=placement,
        locations=locations,
    )


def _servers(
    placement: Mapping[str, str], urls: Mapping[str, str] | None, prefix: str
) -> dict[str, DemoServer]:
    """Department key → the server its database goes on (SQLite departments have none); every server
    needed must answer, or nothing is written."""
    by_engine = {e: DemoServer.of(e, urls) for e in set(placement.values()) if e != SQLITE}
    for engine, server in sorted(by_engine.items()):
        problem = server.problem()
        if problem:
            raise ConnectionError(
                f"the demo needs the {engine} server at {server.describe('')} for its departments "
                f"({', '.join(k for k, e in placement.items() if e == engine)}) but it does not answer: {problem}; "
                f"start it, pass its URL, or leave {engine} out of the engines"
            )
    return {key: by_engine[engine] for key, engine in placement.items() if engine != SQLITE}


# --- folder ------------------------------------------------------------------------------------------


def _reset(root: Path) -> None:
    if root.exists():
        if not root.is_dir():
            raise ValueError(
                f"{root} exists and is not a folder; choose another output folder for the demo city"
            )
        entries = list(root.iterdir())
        if entries and not any((root / m).exists() for m in _DEMO_MARKERS):
            raise ValueError(
                f"{root} is not empty and does not look like a demo city (no {', '.join(_DEMO_MARKERS)}); "
                "refusing to wipe it, choose an empty or new folder"
            )
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    root.mkdir(parents=True, exist_ok=True)


def _write_json(path: Path, payload: object) -> None:
    path.write_text(
        json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2) + "\n", encoding="utf-8"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stamp(day: date, hour: int) -> float:
    return datetime.combine(day, time(hour), tzinfo=_CST).timestamp()


# --- sources ------------------------------------------------------------------------------------------


def _tables_of(dept: Department, datasets: list[Dataset]) -> list[Dataset]:
    return [
        ds
        for ds in datasets
        if ds.conn_id == dept.conn_id and ds.exists and ds.fmt is ResourceFormat.DATABASE
    ]


def _write_sources(
    folder: Path, datasets: list[Dataset], servers: Mapping[str, DemoServer], prefix: str
) -> tuple[int, int]:
    """One database per department: a SQLite file, or a database on its server (``servers``, by
    department key) dropped and created again; one transaction per table. Returns (tables, rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = rows = 0
    for dept in (*DEPARTMENTS, PROVINCE):
        server = servers.get(dept.key)
        if server is not None:
            name = database_name(prefix, dept)
            server.recreate(name)
            written = server.write(name, _tables_of(dept, datasets))
            tables, rows = tables + written[0], rows + written[1]
            continue
        con = sqlite3.connect(folder / f"{dept.key}.db")
        try:
            con.execute("PRAGMA journal_mode=MEMORY")
            con.execute("PRAGMA synchronous=OFF")
            for ds in _tables_of(dept, datasets):
                columns = ", ".join(f"{_quote(c.name)} {c.sql}" for c in ds.columns)
                with con:
                    con.execute(f"CREATE TABLE {_quote(ds.location)} ({columns})")
                    con.executemany(
                        f"INSERT INTO {_quote(ds.location)} VALUES ({', '.join('?' * len(ds.columns))})",
                        ds.matrix(),
                    )
                tables += 1
                rows += len(ds.rows)
        finally:
            con.close()
    return tables, rows


def _write_files(folder: Path, datasets: list[Dataset], as_of: date) -> int:
    """The department folder: an XLSX, a GBK CSV and a UTF-8 (BOM) CSV; modified the day before as-of."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for ds in datasets:
        if ds.conn_id != FILES_CONN_ID:
            continue
        path = folder / ds.location
        header = [c.name for c in ds.columns]
        if path.suffix == ".xlsx":
            path.write_bytes(_xlsx(ds.title, header, ds.matrix(), as_of))
        else:
            encoding = "gbk" if ds.catalogued else "utf-8-sig"
            with path.open("w", encoding=encoding, newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(header)
                writer.writerows(ds.matrix())
        stamp = _stamp(as_of - timedelta(days=1), 18)
        os.utime(path, (stamp, stamp))
        rows += len(ds.rows)
    return rows


def _xlsx(title: str, header: list[str], rows: Iterable[tuple[object, ...]], as_of: date) -> bytes:
    """An XLSX made with openpyxl, with fixed timestamps so the bytes are reproducible."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31]
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    fixed = datetime.combine(as_of - timedelta(days=1), time(10))
    wb.properties.creator = "连云港市民政局"
    wb.properties.created = fixed
    buffer = io.BytesIO()
    wb.save(buffer)
    iso = fixed.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + iso + rb"\g<2>", content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=fixed.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, content)
    return out.getvalue()


# --- catalog ------------------------------------------------------------------------------------------


def _share_method(ds: Dataset) -> str:
    if ds.share_type is ShareType.NOT_SHARED:
        return ""
    if ds.fmt is ResourceFormat.SPREADSHEET:
        return "共享平台方式（文件）"
    return "共享平台方式（接口）" if ds.grade >= Sensitivity.L3 else "共享平台方式（数据库）"


def _catalog_row(ds: Dataset) -> dict[str, str]:
    row = {
        "信息资源代码": ds.code,
        "信息资源名称": ds.title,
        "信息资源提供方": ds.dept.name,
        "提供方代码": ds.dept.provider_code,
        "信息资源分类": ds.layer.value,
        "信息资源摘要": ds.summary,
        "信息资源格式": ds.fmt.value,
        "信息项": format_columns([c.declared() for c in ds.declared_columns()]),
        "共享类型": ds.share_type.value,
        "共享条件": ds.share_condition,
        "不予共享依据": ds.share_basis,
        "共享方式": _share_method(ds),
        "开放属性": ds.open_attr.value,
        "更新周期": ds.cycle.value,
        "发布日期": ds.publish_date.isoformat() if ds.publish_date else "",
        "关联资源代码": ",".join(r.code for r in ds.related if r.code),
        "数据连接": ds.conn_id,
        "资源位置": ds.location,
        "主键": ",".join(ds.primary_key),
        "更新时间字段": ds.update_col or "",
        "敏感级别": ds.grade.value,
        "同步方式": ds.sync_mode.value,
        "状态": "已发布",
    }
    row.update(ds.overrides)
    assert tuple(row) == CATALOG_HEADERS, "catalog row keys drifted from CATALOG_HEADERS"
    return row


def _write_catalog(path: Path, city: CityBuilder) -> int:
    """The catalog as an office exports it: GBK, CRLF, one row per catalogued dataset, sorted by code."""
    entries = sorted((ds for ds in city.datasets if ds.catalogued), key=lambda ds: ds.code)
    with path.open("w", encoding="gbk", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CATALOG_HEADERS)
        for number, ds in enumerate(entries):
            writer.writerow(_catalog_row(ds).values())
            for defect in city.defects:
                if defect.kind == "catalog_row_rejected" and defect.dataset is ds:
                    defect.line = number + 2
    return len(entries)


# --- provincial backflow -------------------------------------------------------------------------------


def _write_landing(folder: Path, city: CityBuilder) -> int:
    """The backflow batches; the corrupt one's data.csv no longer matches its sha256, the short one
    declares 3 rows more than it holds, and the planted invalid rows fail the dataset's suite."""
    folder.mkdir(parents=True, exist_ok=True)
    for batch in city.batches:
        ds, rows, batch_id = batch.dataset, batch.rows, batch.batch_id
        header = [c.name for c in ds.columns]
        data = _csv_bytes(header, rows, batch.encoding)
        sha256 = hashlib.sha256(data).hexdigest()
        declared = len(rows)
        if batch.flaw == "corrupt_batch":
            # The manifest hashes what the province sent; one name changed on the way.
            spoiled = [dict(r) for r in rows]
            spoiled[len(spoiled) // 2]["xm"] = str(spoiled[len(spoiled) // 2]["xm"])[0] + "某某"
            data = _csv_bytes(header, spoiled, batch.encoding)
            detail = f"批次 {batch_id} 的 data.csv 与 manifest.json 声明的 sha256 不一致（传输中被改动）"
            city.defects.append(
                Defect(
                    "corrupt_batch",
                    "backflow",
                    LANDING_CONN_ID,
                    detail,
                    entry_code=ds.code,
                    resource=batch_id,
                )
            )
        elif batch.flaw == "row_count_mismatch":
            declared = len(rows) + 3
            detail = f"批次 {batch_id} 的 manifest.json 声明 {declared} 行，data.csv 实有 {len(rows)} 行（缺 3 行）"
            city.defects.append(
                Defect(
                    "row_count_mismatch",
                    "backflow",
                    LANDING_CONN_ID,
                    detail,
                    entry_code=ds.code,
                    resource=batch_id,
                    count=3,
                )
            )
        for _row, expectation, column in batch.invalid_rows:
            city.defects.append(
                Defect(
                    "backflow_row_invalid",
                    "backflow",
                    LANDING_CONN_ID,
                    f"批次 {batch_id} 中有 1 行的 {column} 不符合质量规则 {expectation}，回流时应被隔离并退回省级",
                    entry_code=ds.code,
                    resource=batch_id,
                    column=column,
                    count=1,
                )
            )
        target = folder / batch_id
        target.mkdir()
        (target / "data.csv").write_bytes(data)
        _write_json(
            target / "manifest.json",
            {
                "batch_id": batch_id,
                "resource_code": ds.code,
                "logical_date": batch.logical_date.isoformat(),
                "mode": batch.mode,
                "declared_rows": declared,
                "sha256": sha256,
                "schema_version": "1.0",
                "sender": PROVINCIAL_SENDER,
                "encoding": batch.encoding,
            },
        )
    return len(city.batches)


def _csv_bytes(header: list[str], rows: list[dict[str, object]], encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[r[h] for h in header] for r in rows])
    return buffer.getvalue().encode(encoding)


# --- exchange platform and open-data portal ---------------------------------------------------------------

_REFUSAL_BASES = (
    "《中华人民共和国个人信息保护法》第十三条：申请用途不属于履行法定职责所必需",
    "《江苏省公共数据管理办法》第二十三条：申请数据超出共享条件约定的使用范围",
    "《中华人民共和国民法典》第一千一百一十条：收养信息依法保密",
)
_COUNTY_OFFICES = (
    "海州区政务服务管理办公室",
    "连云区人民政府办公室",
    "赣榆区数据局",
    "东海县数据局",
    "灌云县人民政府办公室",
    "灌南县政务服务管理办公室",
)


_PURPOSES = (
    "政务服务一网通办事项办理核验",
    "城市运行监测分析",
    "社会救助对象资格比对",
    "行政执法案件线索核查",
    "公共信用信息归集",
)
"""用途 of the demo's share requests (the log's ``purpose`` column, read by the sharing trace)."""


def _recent_shares(city: CityBuilder, shareable: list[Dataset], requesters: list[str], first: int) -> list[tuple[object, ...]]:
    """Requests served on the two days the demo's pipeline runs (yesterday and the as-of day), so the sharing
    trace has shares with the grade of that day: every backflow dataset and the first two department ones."""
    backflow = [ds for ds in shareable if ds.dept.key == "sdsj"]
    others = sorted((ds for ds in shareable if ds.dept.key != "sdsj"), key=lambda ds: ds.code)[:2]
    rows: list[tuple[object, ...]] = []
    for n, (ds, day, hour) in enumerate(
        (ds, day, hour) for ds in sorted(backflow, key=lambda d: d.code) + others
        for day, hour in ((city.yesterday, 10), (city.as_of, 11))
    ):
        i = first + 1 + n
        requester = [r for r in requesters if r != ds.dept.name][n % (len(requesters) - 1)]
        asked = datetime.combine(day, time(hour - 1, 30))
        deadline = datetime.combine(day + timedelta(days=7), time(17, 30))
        served = datetime.combine(day, time(hour, 15))
        rows.append((f"GX{asked:%Y%m%d}{i:05d}", requester, ds.code, asked.strftime("%Y-%m-%d %H:%M:%S"),
                     deadline.strftime("%Y-%m-%d %H:%M:%S"), "已满足", served.strftime("%Y-%m-%d %H:%M:%S"), None))
    return rows


def _write_exchange(path: Path, city: CityBuilder) -> dict[str, object]:
    """The exchange platform's share-request log, crafted for an on-demand sharing rate of ~0.95."""
    rng, fake, s = city.rng, city.fake, city.scale
    entries = [ds for ds in city.datasets if ds.imported and ds.exists]
    shareable = [ds for ds in entries if ds.share_type is not ShareType.NOT_SHARED]
    closed = [ds for ds in entries if ds.share_type is ShareType.NOT_SHARED] or shareable
    requesters = [d.name for d in DEPARTMENTS] + list(_COUNTY_OFFICES)
    plan = ["on_time"] * 90 * s + ["late"] * 2 * s + ["refused_basis"] * 5 * s + ["refused"] * s
    plan += ["pending"] * s + ["timeout"] * s
    rng.shuffle(plan)
    rows = []
    counts: dict[str, int] = {}
    for i, outcome in enumerate(plan, start=1):
        counts[outcome] = counts.get(outcome, 0) + 1
        target = rng.choice(closed if outcome == "refused_basis" else shareable)
        requester = rng.choice([r for r in requesters if r != target.dept.name])
        if outcome == "pending":
            asked = datetime.combine(city.as_of - timedelta(days=2), time(9)) + timedelta(
                minutes=rng.randrange(480)
            )
        else:
            day = fake.date_between(city.as_of - timedelta(days=180), city.as_of - timedelta(days=20))
            asked = datetime.combine(day, time(8, 30)) + timedelta(minutes=rng.randrange(540))
        deadline = datetime.combine(asked.date() + timedelta(days=7), time(17, 30))
        status, satisfied, basis = "处理中", None, None
        if outcome == "on_time":
            status = "已满足"
            satisfied = asked + timedelta(
                minutes=rng.randrange(60, int((deadline - asked).total_seconds() // 60))
            )
        elif outcome == "late":
            status, satisfied = (
                "已满足",
                deadline + timedelta(days=rng.randint(1, 5), minutes=rng.randrange(600)),
            )
        elif outcome == "refused_basis":
            status, basis = "已拒绝", rng.choice(_REFUSAL_BASES)
        elif outcome == "refused":
            status = "已拒绝"
        elif outcome == "timeout":
            status = "超时"
        rows.append(
            (
                f"GX{asked:%Y%m%d}{i:05d}",
                requester,
                target.code,
                asked.strftime("%Y-%m-%d %H:%M:%S"),
                deadline.strftime("%Y-%m-%d %H:%M:%S"),
                status,
                satisfied.strftime("%Y-%m-%d %H:%M:%S") if satisfied else None,
                basis,
            )
        )
    rows += _recent_shares(city, shareable, requesters, len(plan))
    counts["on_time"] = counts.get("on_time", 0) + len(rows) - len(plan)
    # 用途 of each request, drawn without the generator so the rest of the city stays as it was.
    rows = [(*r, _PURPOSES[i % len(_PURPOSES)]) for i, r in enumerate(rows)]
    rows.sort(key=lambda r: (r[3], r[0]))
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(
                "CREATE TABLE share_requests (request_id VARCHAR(30) PRIMARY KEY, requesting_dept VARCHAR(100), "
                "resource_code VARCHAR(30), requested_at DATETIME, deadline DATETIME, status VARCHAR(10), "
                "satisfied_at DATETIME, refusal_basis TEXT, purpose TEXT)"
            )
            con.executemany("INSERT INTO share_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    finally:
        con.close()
    numerator = counts.get("on_time", 0)
    denominator = len(rows) - counts.get("refused_basis", 0)
    return {
        "name": "公共数据按需共享率",
        "numerator": numerator,
        "denominator": denominator,
        "value": round(numerator / denominator, 4),
        "target": SHARING_TARGET,
        "excluded_refusals_with_basis": counts.get("refused_basis", 0),
        "definition": "share_requests 中 status=已满足 且 satisfied_at<=deadline 的申请数 / "
        "全部申请数减去 status=已拒绝 且 refusal_basis 非空的申请数（处理中、超时、无依据拒绝计入分母）",
    }


def _write_portal(path: Path, city: CityBuilder) -> dict[str, object]:
    """The open-data portal listing, missing about 15 % of the open-eligible entries."""
    rng = city.rng
    eligible = sorted(
        (
            ds
            for ds in city.datasets
            if ds.imported and ds.open_attr in (OpenAttr.UNCONDITIONAL, OpenAttr.CONDITIONAL)
        ),
        key=lambda ds: ds.code,
    )
    listed_count = round(0.85 * len(eligible))
    while eligible and listed_count / len(eligible) >= OPEN_TARGET:
        listed_count -= 1
    unlisted = set(rng.sample(range(len(eligible)), len(eligible) - listed_count))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["resource_code", "title", "published_at"])
        for i, ds in enumerate(eligible):
            if i in unlisted:
                continue
            start = ds.publish_date or city.as_of - timedelta(days=365)
            writer.writerow([ds.code, ds.title, city.fake.date_between(start, city.yesterday).isoformat()])
    return {
        "name": "应开放公共数据开放率",
        "numerator": listed_count,
        "denominator": len(eligible),
        "value": round(listed_count / len(eligible), 4) if eligible else None,
        "target": OPEN_TARGET,
        "unlisted_codes": sorted(eligible[i].code for i in unlisted),
        "definition": "开放属性为无条件开放或有条件开放的有效目录条目中，出现在 portal/open_listing.csv 的条目数 / 此类条目总数",
    }


def _coverage(datasets: list[Dataset]) -> dict[str, object]:
    found = [ds for ds in datasets if ds.exists]
    covered = [ds for ds in found if ds.imported]
    return {
        "name": "目录覆盖率",
        "numerator": len(covered),
        "denominator": len(found),
        "value": round(len(covered) / len(found), 4),
        "definition": "普查发现的部门数据资源（各部门数据源中的表和文件）中有有效目录条目的数量 / 发现总数",
    }


# --- connections, README ----------------------------------------------------------------------------------


def _connections(root: Path, servers: Mapping[str, DemoServer], prefix: str) -> list[ConnectionInfo]:
    out = [
        servers[d.key].connection(d, database_name(prefix, d))
        if d.key in servers
        else ConnectionInfo(
            conn_id=d.conn_id,
            conn_type="sqlite",
            host=str(root / "sources" / f"{d.key}.db"),
            extra={SOURCE_EXTRA_KEY: d.name},
        )
        for d in (*DEPARTMENTS, PROVINCE)
    ]
    files_dept = next(d for d in DEPARTMENTS if d.key == FILES_DEPARTMENT)
    out.append(
        ConnectionInfo(
            conn_id=FILES_CONN_ID,
            conn_type="fs",
            extra={"path": str(root / "files" / FILES_DEPARTMENT), SOURCE_EXTRA_KEY: files_dept.name},
        )
    )
    out.append(ConnectionInfo(conn_id=EXCHANGE_CONN_ID, conn_type="sqlite", host=str(root / "exchange.db")))
    out.append(ConnectionInfo(conn_id=PORTAL_CONN_ID, conn_type="fs", extra={"path": str(root / "portal")}))
    out.append(ConnectionInfo(conn_id=LANDING_CONN_ID, conn_type="fs", extra={"path": str(root / "landing")}))
    return out


def _write_readme(
    path: Path,
    city: CityBuilder,
    defects: list[Defect],
    kpis: dict[str, dict[str, object]],
    locations: Mapping[str, str],
) -> None:
    lines = [
        "# 连云港市公共数据平台（演示城市）",
        "",
        f"数据日期（as of）：{city.as_of.isoformat()}；规模 scale={city.scale}。由 `citygov.demo.create_demo_city` 生成，"
        "同一 seed、scale、数据日期生成的文件逐字节相同。",
        "",
        "## 部门数据源",
        "",
        "| 连接 | 部门 | 位置 |",
        "|---|---|---|",
    ]
    for d in (*DEPARTMENTS, PROVINCE):
        lines.append(f"| `{d.conn_id}` | {d.name} | `{locations[d.key]}` |")
    lines += [
        f"| `{FILES_CONN_ID}` | 连云港市民政局 | `files/{FILES_DEPARTMENT}/`（XLSX、GBK CSV、UTF-8 CSV） |",
        "",
        "## 其他文件",
        "",
        "- `catalog.csv`：政务部门导出的资源目录（GBK 编码），其中 1 行故意违反规则，导入时应被拒绝。",
        "- `connections.json`：`airflow connections import connections.json`。",
        f"- `exchange.db`（`{EXCHANGE_CONN_ID}`）：共享交换平台的共享申请记录 `share_requests`。",
        f"- `portal/open_listing.csv`（`{PORTAL_CONN_ID}`）：开放平台已发布的开放数据集。",
        f"- `landing/`（`{LANDING_CONN_ID}`）：{PROVINCIAL_SENDER}回流的批次，每批 `data.csv` + `manifest.json`。",
        "- `defects.json`：全部故意缺陷和预期指标；未列出的数据都是干净的。",
        "",
        "除缺陷外，每个有更新时间字段的数据集最新更新时间都在数据日期前一天。",
        "",
        "## 故意缺陷",
        "",
        "| 编号 | 类型 | 发现环节 | 位置 | 说明 |",
        "|---|---|---|---|---|",
    ]
    for i, d in enumerate(defects, start=1):
        where = " / ".join(x for x in (d.conn_id, d.resource, d.column) if x)
        lines.append(f"| D{i:02d} | {d.kind} | {d.detected_by} | {where} | {d.detail} |")
    lines += ["", "## 预期指标", ""]
    for kpi in kpis.values():
        lines.append(f"- {kpi['name']}：{kpi['numerator']}/{kpi['denominator']} = {kpi['value']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
