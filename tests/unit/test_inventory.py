"""Source inventory: odd names are quoted, unreachable sources and unreadable files become errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from citygov.catalog.schema import ColumnType
from citygov.inventory import infer_letter, inspect_source
from citygov.sources import ConnectionInfo

ODD_TABLES = ['order', 'my "quoted" table', "人口 信息", "select"]


@pytest.fixture
def odd_db(tmp_path: Path) -> Path:
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as db:
        for name in ODD_TABLES:
            quoted = '"' + name.replace('"', '""') + '"'
            db.execute(f'CREATE TABLE {quoted} ("group" TEXT, "更新 时间" DATETIME, "x""y" INTEGER)')
            db.execute(f"INSERT INTO {quoted} VALUES ('a', '2026-11-27 08:00:00', 1), ('b', '2026-11-20 08:00:00', 2)")
    return path


def test_odd_table_and_column_names_are_quoted(odd_db: Path) -> None:
    conn = ConnectionInfo("odd", "sqlite", host=str(odd_db))
    inventory = inspect_source(conn, update_columns={n: "更新 时间" for n in ODD_TABLES}, sample=10)
    assert inventory.error is None
    assert sorted(r.location for r in inventory.resources) == sorted(ODD_TABLES)
    for resource in inventory.resources:
        assert resource.error is None, resource.error
        assert resource.row_count == 2
        assert [c.name for c in resource.columns] == ["group", "更新 时间", 'x"y']
        assert [c.letter for c in resource.columns] == [ColumnType.STRING, ColumnType.DATETIME, ColumnType.NUMBER]
        assert resource.last_updated is not None and resource.last_updated.day == 27
        assert resource.samples["group"] == ["a", "b"]


def test_locations_limit_the_work(odd_db: Path) -> None:
    inventory = inspect_source(ConnectionInfo("odd", "sqlite", host=str(odd_db)), locations=["order"])
    assert [r.location for r in inventory.resources] == ["order"]


def test_missing_database_file_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    inventory = inspect_source(ConnectionInfo("gone", "sqlite", host=str(path)))
    assert inventory.error == f"FileNotFoundError: database file {path} does not exist"
    assert not path.exists()


def test_unreachable_postgres_is_an_error() -> None:
    conn = ConnectionInfo("down", "postgres", host="127.0.0.1", port=1, login="x", schema="y")
    inventory = inspect_source(conn)
    assert inventory.error is not None and inventory.error.startswith("OperationalError")
    assert inventory.resources == []


def test_table_dropped_mid_run_is_a_resource_error(odd_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import reflection

    real = reflection.Inspector.get_columns

    def drop_then_read(self, table_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if table_name == "select":
            with sqlite3.connect(odd_db) as db:
                db.execute('DROP TABLE "select"')
        return real(self, table_name, *args, **kwargs)

    monkeypatch.setattr(reflection.Inspector, "get_columns", drop_then_read)
    inventory = inspect_source(ConnectionInfo("odd", "sqlite", host=str(odd_db)))
    by_name = {r.location: r for r in inventory.resources}
    assert by_name["select"].error is not None and "select" in by_name["select"].error
    assert all(by_name[n].error is None for n in ODD_TABLES if n != "select")


def test_folder_with_gbk_csv_xlsx_and_a_broken_file(tmp_path: Path) -> None:
    from openpyxl import Workbook

    (tmp_path / "台账.csv").write_bytes("姓名,金额,日期\n张三,12.5,2026-01-02\n李四,3,2026-02-03\n".encode("gbk"))
    workbook = Workbook()
    workbook.active.append(["机构名称", "床位数"])
    workbook.active.append(["海州区养老院", 120])
    workbook.save(tmp_path / "名录.xlsx")
    (tmp_path / "坏文件.xlsx").write_bytes(b"not a zip at all")
    conn = ConnectionInfo("files", "fs", extra={"path": str(tmp_path)})
    inventory = inspect_source(conn, sample=5)
    by_name = {r.location: r for r in inventory.resources}
    assert set(by_name) == {"台账.csv", "名录.xlsx", "坏文件.xlsx"}
    csv_file = by_name["台账.csv"]
    assert csv_file.row_count == 2
    assert [(c.name, c.letter) for c in csv_file.columns] == [
        ("姓名", ColumnType.STRING), ("金额", ColumnType.NUMBER), ("日期", ColumnType.DATE)
    ]
    assert by_name["名录.xlsx"].row_count == 1
    assert by_name["坏文件.xlsx"].error is not None


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    inventory = inspect_source(ConnectionInfo("files", "fs", extra={"path": str(tmp_path / "nope")}))
    assert inventory.error == f"FileNotFoundError: folder {tmp_path / 'nope'} does not exist"


@pytest.mark.parametrize(
    ("values", "letter"),
    [
        (["1", "2.5", ""], ColumnType.NUMBER),
        (["320706199001011234"], ColumnType.STRING),
        (["0518"], ColumnType.STRING),
        (["2026-01-01", "2026/02/03"], ColumnType.DATE),
        (["2026-01-01 08:00:00"], ColumnType.DATETIME),
        (["海州区"], ColumnType.STRING),
        ([], ColumnType.STRING),
    ],
)
def test_infer_letter(values: list[str], letter: ColumnType) -> None:
    assert infer_letter(values) == letter


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_long_chinese_csv_cut_inside_a_character_by_the_encoding_probe_reads(tmp_path: Path, encoding: str) -> None:
    """The encoding is guessed from the first 64 KiB; a cut inside a character there is not an undecodable file."""
    from citygov.inventory import read_table_file

    probe, dong = 1 << 16, "东".encode(encoding)
    head = "bh,mc\n0000,".encode(encoding)
    pad = b"x" * (probe - 1 - len(head) - len(b"\n0001,"))
    body = head + pad + b"\n0001," + "东海县住房和城乡建设局\n".encode(encoding)
    body += "0002,连云港市\n".encode(encoding) * 2000
    assert body[probe - 1 : probe - 1 + len(dong)] == dong and len(dong) > 1  # the probe ends inside 东
    path = tmp_path / "big.csv"
    path.write_bytes(body)
    columns, rows = read_table_file(path)
    read = list(rows)
    assert columns == ["bh", "mc"] and len(read) == 2002
    assert read[1] == ["0001", "东海县住房和城乡建设局"] and read[-1] == ["0002", "连云港市"]  # not some other code page
