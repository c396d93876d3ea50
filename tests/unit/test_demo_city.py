"""The demo city: reproducible, well-formed, and wrong in exactly the ways defects.json says."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from stdnum.cn import uscc as stdnum_uscc

from citygov.catalog.schema import CATALOG_HEADERS
from citygov.demo import DemoCity, create_demo_city
from citygov.identifiers import (
    MOBILE_RE,
    detect_kind,
    ric_birth_date,
    ric_is_valid,
    uscc_is_valid,
)
from citygov.quality.reference import load_divisions
from citygov.sources import SOURCE_EXTRA_KEY

DIVISION_COLUMNS = {"djjg", "xzqdm", "ssxq", "qcddm", "qrddm", "hjdqdm", "cbdq", "所属区县"}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> DemoCity:
    return create_demo_city(tmp_path_factory.mktemp("demo") / "lyg")


@pytest.fixture(scope="module")
def report(city: DemoCity) -> dict[str, Any]:
    return json.loads(city.defects_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog(city: DemoCity) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(city.catalog_path.read_bytes().decode("gbk"))))


@pytest.fixture(scope="module")
def connections(city: DemoCity) -> dict[str, dict[str, Any]]:
    return json.loads(city.connections_path.read_text(encoding="utf-8"))


def _defects(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in report["defects"] if d["kind"] == kind]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _read_table(db: Path, table: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as con:
        info = con.execute(f"PRAGMA table_info({_q(table)})").fetchall()
        rows = con.execute(f"SELECT * FROM {_q(table)}").fetchall()
    return [i[1] for i in info], [i[2] for i in info], rows


def _read_file(path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    if path.suffix == ".xlsx":
        ws = load_workbook(path, read_only=True).active
        assert ws is not None
        values = [tuple(r) for r in ws.iter_rows(values_only=True)]
    else:
        data = path.read_bytes()
        text = data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("gbk")
        values = [tuple(r) for r in csv.reader(io.StringIO(text))]
    return [str(h) for h in values[0]], values[1:]


def test_generation_is_deterministic(city: DemoCity, tmp_path: Path) -> None:
    again = create_demo_city(tmp_path / "again")
    assert city.catalog_path.read_bytes() == again.catalog_path.read_bytes()
    assert city.defects_path.read_bytes() == again.defects_path.read_bytes()
    ours = sorted(p.relative_to(city.root) for p in city.root.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(again.root) for p in again.root.rglob("*") if p.is_file())
    assert ours == theirs
    for rel in ours:
        if rel.name != "connections.json":  # holds absolute paths
            assert (city.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel


def test_other_seed_or_day_changes_the_city(city: DemoCity, tmp_path: Path) -> None:
    other = create_demo_city(tmp_path / "other", seed=7, today=date(2025, 3, 1))
    assert other.catalog_path.read_bytes() != city.catalog_path.read_bytes()
    assert json.loads(other.defects_path.read_text(encoding="utf-8"))["as_of"] == "2025-03-01"


def test_catalog_is_gbk_with_contract_headers(city: DemoCity, catalog: list[dict[str, str]]) -> None:
    text = city.catalog_path.read_bytes().decode("gbk")
    assert tuple(next(csv.reader(io.StringIO(text)))) == CATALOG_HEADERS
    codes = [row["信息资源代码"] for row in catalog]
    assert len(codes) == len(set(codes)) == city.n_catalog_rows
    assert 28 <= len(catalog) <= 36
    assert {row["数据连接"] for row in catalog} >= {
        "dept_gaj",
        "dept_scjgj",
        "dept_rsj",
        "dept_mzj",
        "dept_wjw",
        "dept_zrzyj",
        "dept_mzj_files",
    }


def test_exactly_one_row_is_meant_to_be_rejected(
    report: dict[str, Any], catalog: list[dict[str, str]]
) -> None:
    (bad,) = _defects(report, "catalog_row_rejected")
    row = catalog[bad["line"] - 2]
    assert row["信息资源代码"] == bad["entry_code"] and row[bad["column"]] == ""
    assert row["共享类型"] == "有条件共享"
    for other in catalog:
        if other is not row:
            assert other["共享类型"] != "有条件共享" or other["共享条件"]
            assert other["共享类型"] != "不予共享" or other["不予共享依据"]


def test_population_ids_are_valid_except_listed(city: DemoCity, report: dict[str, Any]) -> None:
    (listed,) = [d for d in _defects(report, "invalid_id_number") if d["resource"] == "rkjbxx"]
    names, _, rows = _read_table(city.sources_dir / "gaj.db", "rkjbxx")
    ids = [r[names.index("sfzhm")] for r in rows]
    divisions = load_divisions()
    invalid = [i for i in ids if not ric_is_valid(i, as_of=city.as_of)]
    assert len(invalid) == listed["count"] == 3
    for ric in ids:
        assert ric[:6] in divisions
        assert ric_birth_date(ric) is not None and ric_birth_date(ric) < city.as_of


def test_defects_point_at_existing_things(
    city: DemoCity, report: dict[str, Any], connections: dict[str, Any]
) -> None:
    kinds = Counter(d["kind"] for d in report["defects"])
    for kind in (
        "catalog_row_rejected",
        "uncatalogued_resource",
        "catalog_entry_without_resource",
        "schema_missing_column",
        "schema_unexpected_column",
        "schema_type_changed",
        "stale_resource",
        "empty_resource",
        "sensitive_open_unconditional",
        "invalid_id_number",
        "invalid_credit_code",
        "duplicate_key",
        "missing_value",
        "unknown_division_code",
        "id_birthdate_mismatch",
        "future_date",
        "corrupt_batch",
        "row_count_mismatch",
    ):
        assert kinds[kind] >= 1, kind
    assert kinds["uncatalogued_resource"] >= 3
    for d in report["defects"]:
        conn = connections[d["conn_id"]]
        if d["detected_by"] == "backflow":
            assert (Path(conn["extra"]["path"]) / d["resource"] / "manifest.json").exists()
            continue
        if conn["conn_type"] == "fs":
            assert (Path(conn["extra"]["path"]) / d["resource"]).is_file()
            continue
        tables = _tables(Path(conn["host"]))
        if d["kind"] == "catalog_entry_without_resource":
            assert d["resource"] not in tables
            continue
        assert d["resource"] in tables, d
        names, _, _ = _read_table(Path(conn["host"]), d["resource"])
        if d["kind"] == "schema_missing_column":
            assert d["column"] not in names
        elif d["column"] and d["detected_by"] != "catalog_import":
            assert d["column"] in names, d


def test_connections_point_at_files(city: DemoCity, connections: dict[str, Any]) -> None:
    for conn_id, conn in connections.items():
        extra = conn.get("extra", {})
        if conn["conn_type"] == "sqlite":
            assert Path(conn["host"]).is_file() and Path(conn["host"]).is_absolute()
        else:
            assert conn["conn_type"] == "fs" and Path(extra["path"]).is_dir()
        assert (SOURCE_EXTRA_KEY in extra) == conn_id.startswith("dept_")
    assert {"exchange_platform", "open_data_portal", "backflow_landing", "dept_mzj_files"} <= set(connections)
    assert len([c for c in connections if c.startswith("dept_")]) >= 7
    assert set(city.conn_ids) == set(connections)


def test_manifests_match_except_listed(city: DemoCity, report: dict[str, Any]) -> None:
    corrupt = {d["resource"] for d in _defects(report, "corrupt_batch")}
    short = {d["resource"]: d["count"] for d in _defects(report, "row_count_mismatch")}
    batches = sorted(p for p in city.landing_dir.iterdir() if p.is_dir())
    assert len(batches) == city.n_batches >= 6
    encodings = set()
    for batch in batches:
        manifest = json.loads((batch / "manifest.json").read_text(encoding="utf-8"))
        data = (batch / "data.csv").read_bytes()
        assert manifest["batch_id"] == batch.name and manifest["sender"] == "江苏省大数据管理中心"
        assert (hashlib.sha256(data).hexdigest() == manifest["sha256"]) == (batch.name not in corrupt)
        rows = len(data.decode(manifest["encoding"]).splitlines()) - 1
        assert manifest["declared_rows"] - rows == short.get(batch.name, 0)
        encodings.add(manifest["encoding"])
    assert encodings == {"utf-8", "gbk"}


def test_scale_two_makes_more_entries(city: DemoCity, tmp_path: Path) -> None:
    bigger = create_demo_city(tmp_path / "x2", scale=2)
    assert bigger.n_catalog_rows > city.n_catalog_rows
    assert 55 <= bigger.n_catalog_rows <= 66
    assert bigger.n_rows > city.n_rows


def test_kpis_match_the_data(city: DemoCity, report: dict[str, Any], catalog: list[dict[str, str]]) -> None:
    with sqlite3.connect(city.exchange_path) as con:
        requests = con.execute(
            "SELECT status, satisfied_at, deadline, refusal_basis FROM share_requests"
        ).fetchall()
    valid = [r for r in requests if not (r[0] == "已拒绝" and r[3])]
    in_time = [r for r in valid if r[0] == "已满足" and r[1] <= r[2]]
    sharing = report["kpis"]["on_demand_sharing_rate"]
    assert (len(in_time), len(valid)) == (sharing["numerator"], sharing["denominator"])
    assert 0.93 <= sharing["value"] < 0.97

    (bad,) = _defects(report, "catalog_row_rejected")
    open_codes = {r["信息资源代码"] for r in catalog if r["开放属性"] in {"无条件开放", "有条件开放"}} - {
        bad["entry_code"]
    }
    with city.portal_listing_path.open(encoding="utf-8", newline="") as fh:
        listed = {r["resource_code"] for r in csv.DictReader(fh)}
    opened = report["kpis"]["open_rate"]
    assert (len(open_codes & listed), len(open_codes)) == (opened["numerator"], opened["denominator"])
    assert listed <= open_codes and opened["value"] < 0.92


def _scan(
    city: DemoCity, catalog: list[dict[str, str]], connections: dict[str, Any], rejected: str
) -> Counter[tuple[str, str, str | None]]:
    """Every problem the data actually has, found independently of defects.json."""
    found: Counter[tuple[str, str, str | None]] = Counter()
    divisions = load_divisions()
    yesterday = city.as_of - timedelta(days=1)
    covered: set[tuple[str, str]] = set()
    for entry in catalog:
        if entry["信息资源代码"] == rejected:
            continue
        conn = connections[entry["数据连接"]]
        table = entry["资源位置"]
        covered.add((entry["数据连接"], table))
        declared = dict(item.split(":") for item in entry["信息项"].split(";"))
        if conn["conn_type"] == "fs":
            names, rows = _read_file(Path(conn["extra"]["path"]) / table)
            types = [""] * len(names)
        else:
            db = Path(conn["host"])
            if table not in _tables(db):
                found["catalog_entry_without_resource", table, None] += 1
                continue
            names, types, rows = _read_table(db, table)
        for name in set(declared) - set(names):
            found["schema_missing_column", table, name] += 1
        for name in set(names) - set(declared):
            found["schema_unexpected_column", table, name] += 1
        if not rows:
            found["empty_resource", table, None] += 1
            continue
        columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        for name, values in columns.items():
            blanks = sum(1 for v in values if v is None or v == "")
            if blanks:
                found["missing_value", table, name] += blanks
            kind = detect_kind(values)
            if kind == "ric":
                found["invalid_id_number", table, name] += sum(
                    1 for v in values if not ric_is_valid(v, as_of=city.as_of)
                )
                if entry["开放属性"] == "无条件开放" or entry["敏感级别"] == "L1":
                    found["sensitive_open_unconditional", table, name] += 1
            if kind == "uscc" or name in {"tyshxydm", "dwtyshxydm", "srdwdm"}:
                found["invalid_credit_code", table, name] += sum(
                    1 for v in values if not (uscc_is_valid(v) and stdnum_uscc.is_valid(v))
                )
            if kind == "mobile":
                assert all(MOBILE_RE.match(str(v)) for v in values)
            if name in DIVISION_COLUMNS:
                found["unknown_division_code", table, name] += sum(
                    1 for v in values if str(v) not in divisions
                )
            letter = declared.get(name)
            if letter in {"D", "T"}:
                days = [
                    v.date() if isinstance(v, datetime) else date.fromisoformat(str(v)[:10])
                    for v in values
                    if v
                ]
                found["future_date", table, name] += sum(1 for d in days if d > city.as_of)
            if letter == "N" and any(not isinstance(v, int | float) for v in values):
                found["schema_type_changed", table, name] += 1
            if letter == "N" and types[names.index(name)]:
                assert types[names.index(name)].split("(")[0] in {"INTEGER", "DECIMAL"} or name == "cfje"
        pk = [p for p in entry["主键"].split(",") if p]
        keys = Counter(tuple(r[names.index(p)] for p in pk) for r in rows)
        dup = sum(n for k, n in keys.items() if n > 1 and all(x not in (None, "") for x in k))
        if dup:
            found["duplicate_key", table, ",".join(pk)] += dup
        if "sfzhm" in columns and "csrq" in columns:
            found["id_birthdate_mismatch", table, "csrq"] += sum(
                1
                for s, c in zip(columns["sfzhm"], columns["csrq"], strict=True)
                if ric_is_valid(s) and ric_birth_date(s) != date.fromisoformat(c)
            )
        update = entry["更新时间字段"]
        if update:
            latest = max(date.fromisoformat(str(v)[:10]) for v in columns[update])
            if latest != yesterday:
                found["stale_resource", table, update] += 1
    for conn_id, conn in connections.items():
        if SOURCE_EXTRA_KEY not in conn.get("extra", {}):
            continue
        if conn["conn_type"] == "fs":
            resources = {p.name for p in Path(conn["extra"]["path"]).iterdir()}
        else:
            resources = _tables(Path(conn["host"]))
        for name in resources:
            if (conn_id, name) not in covered:
                found["uncatalogued_resource", name, None] += 1
    return +found


def test_only_the_listed_defects_exist(
    city: DemoCity, report: dict[str, Any], catalog: list[dict[str, str]], connections: dict[str, Any]
) -> None:
    (bad,) = _defects(report, "catalog_row_rejected")
    found = _scan(city, catalog, connections, bad["entry_code"])
    expected: Counter[tuple[str, str, str | None]] = Counter()
    for d in report["defects"]:
        if d["detected_by"] in {"census", "patrol", "quality"}:
            count = d["count"] if d["detected_by"] == "quality" else 1
            expected[d["kind"], d["resource"], d["column"]] += count
    assert dict(found) == dict(expected)


def _fingerprint(root: Path) -> str:
    """sha256 over every file of a demo city: each SQLite table's columns and sorted rows, each
    spreadsheet's cell values, every other file's bytes (connections.json with its root path removed)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        digest.update(rel.encode())
        if path.suffix == ".db":
            for table in sorted(_tables(path)):
                names, types, rows = _read_table(path, table)
                digest.update(repr((table, names, types, sorted(rows, key=repr))).encode())
        elif path.suffix == ".xlsx":
            digest.update(repr(_read_file(path)).encode())
        elif path.name == "connections.json":
            digest.update(path.read_bytes().replace(str(root).encode(), b"<root>"))
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()


# Fingerprints of the cities the generator made before it was split into one module per department
# (include/citygov/demo/departments/); any change to a value, a row, a defect or the order of random
# draws changes them. Regenerate only when the city is meant to change, and say so in the commit.
PINNED_CITIES = {
    (1, 20231026, None): "692c8a3cd3c365542b7a9464b68e3c7a07734e24092dae6a6e77881af86e6b95",
    (3, 7, date(2025, 3, 1)): "6c7379fff7fd4c633bcae2dafa13b60bddc9533d704e112134a337a05aa72353",
}


def test_default_city_matches_its_pinned_fingerprint(city: DemoCity) -> None:
    assert _fingerprint(city.root) == PINNED_CITIES[1, 20231026, None]


def test_larger_city_matches_its_pinned_fingerprint(tmp_path: Path) -> None:
    other = create_demo_city(tmp_path / "lyg", scale=3, seed=7, today=date(2025, 3, 1))
    assert _fingerprint(other.root) == PINNED_CITIES[3, 7, date(2025, 3, 1)]
