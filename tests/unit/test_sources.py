"""The Source protocol: both kinds list, describe and read in bounded chunks; folders stay inside the folder;
an unknown connection type is refused with the types there are."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook

from citygov.catalog.schema import ColumnType
from citygov.sources import (
    KINDS,
    ConnectionInfo,
    MissingColumns,
    Source,
    UnknownSourceKind,
    open_source,
    source_kind,
)
from citygov.sources.database import DatabaseSource
from citygov.sources.folder import FolderSource

ROWS = [(f"32070619900101{i:04d}", f"name{i}", i, f"2026-11-{1 + i % 28:02d} 08:00:00") for i in range(25)]
HEADER = ["sfzhm", "xm", "n", "gxsj"]


@pytest.fixture
def database(tmp_path: Path) -> ConnectionInfo:
    path = tmp_path / "src.db"
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE "people" (sfzhm TEXT, xm TEXT, n INTEGER, gxsj DATETIME)')
        db.executemany('INSERT INTO "people" VALUES (?, ?, ?, ?)', ROWS)
        db.execute('CREATE VIEW "first ten" AS SELECT * FROM people WHERE n < 10')
    return ConnectionInfo("db", "sqlite", host=str(path))


@pytest.fixture
def folder(tmp_path: Path) -> ConnectionInfo:
    root = tmp_path / "files"
    (root / "sub").mkdir(parents=True)
    lines = [",".join(HEADER)] + [",".join(str(v) for v in row) for row in ROWS]
    (root / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    workbook = Workbook()
    workbook.active.append(["jgmc", "cws"])
    workbook.active.append(["海州区养老院", 120])
    workbook.active.append(["", 30])
    workbook.save(root / "sub" / "名录.xlsx")
    (root / "notes.md").write_text("not a table", encoding="utf-8")
    (tmp_path / "outside.csv").write_text("a\n1\n", encoding="utf-8")
    return ConnectionInfo("files", "fs", extra={"path": str(root)})


def test_each_connection_type_has_one_kind() -> None:
    types = [t for kind in KINDS for t in kind.conn_types]
    assert len(types) == len(set(types))
    assert source_kind(ConnectionInfo("a", "postgres")) == "database"
    assert source_kind(ConnectionInfo("a", "sqlite")) == "database"
    assert source_kind(ConnectionInfo("a", "fs")) == "folder"
    assert isinstance(open_source(ConnectionInfo("a", "fs")), FolderSource)
    assert isinstance(open_source(ConnectionInfo("a", "postgresql")), DatabaseSource)
    assert all(isinstance(open_source(ConnectionInfo("a", next(iter(k.conn_types)))), Source) for k in KINDS)


def test_an_unknown_type_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownSourceKind) as caught:
        open_source(ConnectionInfo("dept_api", "http"))
    message = str(caught.value)
    assert "'dept_api'" in message and "'http'" in message
    assert "database: " in message and "postgres" in message and "folder: " in message and "fs" in message


def test_a_database_lists_and_describes_tables_and_views(database: ConnectionInfo) -> None:
    with open_source(database) as source:
        assert source.kind == "database" and not source.numbered_rows
        assert source.unreachable() is None
        assert source.resources() == [("first ten", "view"), ("people", "table")]
        assert source.resources(["people", "absent"]) == [("people", "table")]
        people = source.describe("people", "table", update_column="gxsj", sample=3)
        assert people.error is None and people.row_count == 25
        assert [(c.name, c.letter) for c in people.columns] == [
            ("sfzhm", ColumnType.STRING), ("xm", ColumnType.STRING), ("n", ColumnType.NUMBER),
            ("gxsj", ColumnType.DATETIME),
        ]
        assert people.last_updated is not None and people.last_updated.day == 25
        assert people.samples["xm"] == ["name0", "name1", "name2"]
        assert source.describe("first ten", "view").row_count == 10
        gone = source.describe("no such table", "table")
        assert gone.error is not None and gone.columns == []
        assert source.sql_engine() is not None and source.local_file("people") is None


def test_a_folder_lists_and_describes_its_table_files(folder: ConnectionInfo) -> None:
    with open_source(folder) as source:
        assert source.kind == "folder" and source.numbered_rows
        assert source.unreachable() is None
        assert source.resources() == [("people.csv", "file"), ("sub/名录.xlsx", "file")]
        people = source.describe("people.csv", "file", update_column="gxsj", sample=2)
        assert people.error is None and people.row_count == 25
        assert [(c.name, c.letter) for c in people.columns] == [
            ("sfzhm", ColumnType.STRING), ("xm", ColumnType.STRING), ("n", ColumnType.NUMBER),
            ("gxsj", ColumnType.DATETIME),
        ]
        assert people.last_updated is not None and people.last_updated.day == 25
        assert people.samples["n"] == ["0", "1"]
        assert source.describe("sub/名录.xlsx", "file").row_count == 2
        assert source.sql_engine() is None
        assert source.local_file("people.csv") == Path(folder.extra["path"]).resolve() / "people.csv"


def _all(chunks: Iterator[list[list[object]]], bound: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for chunk in chunks:
        assert 0 < len(chunk) <= bound
        rows.extend(chunk)
    return rows


@pytest.mark.parametrize("kind", ["database", "folder"])
def test_rows_are_read_in_bounded_chunks(kind: str, request: pytest.FixtureRequest) -> None:
    conn: ConnectionInfo = request.getfixturevalue(kind)
    location = "people" if kind == "database" else "people.csv"
    with open_source(conn) as source:
        header, chunks = source.read(location, chunk_rows=10)
        sizes: list[int] = []
        rows: list[list[object]] = []
        for chunk in chunks:
            sizes.append(len(chunk))
            rows.extend(chunk)
        assert header == HEADER and sizes == [10, 10, 5]
        assert [str(r[0]) for r in rows] == [r[0] for r in ROWS]
        header, chunks = source.read(location, columns=["n", "sfzhm"], chunk_rows=7)
        assert header == ["n", "sfzhm"]
        picked = _all(chunks, 7)
        assert [[str(v) for v in row] for row in picked] == [[str(r[2]), r[0]] for r in ROWS]


def test_a_file_row_is_as_wide_as_its_header_and_empty_cells_are_empty_text(folder: ConnectionInfo) -> None:
    with open_source(folder) as source:
        header, chunks = source.read("sub/名录.xlsx")
        assert header == ["jgmc", "cws"] and _all(chunks, 50_000) == [["海州区养老院", "120"], ["", "30"]]


def test_a_folder_missing_column_is_named(folder: ConnectionInfo) -> None:
    with open_source(folder) as source, pytest.raises(MissingColumns, match=r"people\.csv has no column zjhm"):
        source.read("people.csv", columns=["zjhm"])


@pytest.mark.parametrize("location", ["../outside.csv", "sub/../../outside.csv", "/etc/passwd", ".", "sub/.."])
def test_a_location_outside_the_folder_is_refused(folder: ConnectionInfo, location: str) -> None:
    with open_source(folder) as source:
        with pytest.raises(ValueError, match="not a file inside the folder"):
            source.read(location)
        with pytest.raises(ValueError, match="not a file inside the folder"):
            source.local_file(location)
        assert "not a file inside the folder" in (source.describe(location).error or "")


def test_a_link_out_of_the_folder_is_refused(folder: ConnectionInfo, tmp_path: Path) -> None:
    (Path(folder.extra["path"]) / "link.csv").symlink_to(tmp_path / "outside.csv")
    with open_source(folder) as source, pytest.raises(ValueError, match="not a file inside the folder"):
        source.read("link.csv")


def test_unreachable_sources_say_why(tmp_path: Path) -> None:
    with open_source(ConnectionInfo("files", "fs", extra={"path": str(tmp_path / "nope")})) as source:
        assert source.unreachable() == f"folder {tmp_path / 'nope'} does not exist"
        with pytest.raises(FileNotFoundError):
            source.resources()
    with open_source(ConnectionInfo("gone", "sqlite", host=str(tmp_path / "gone.db"))) as source:
        assert source.unreachable() == f"cannot connect: database file {tmp_path / 'gone.db'} does not exist"
    assert not (tmp_path / "gone.db").exists()
