"""Catalog import against a real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from citygov.catalog import importer
from citygov.catalog.importer import CatalogFileError, import_catalog
from citygov.catalog.queries import import_history, list_entries
from citygov.catalog.schema import CATALOG_HEADERS
from citygov.cli import main as govern
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow, CatalogImport
from tests.catalog_files import GOOD_ROWS, row, write_catalog

NAME_RULE = "a table, file or column name may not hold control characters, '\"', '`' or ';'; rename it at the source"
GOOD_CODES = sorted(r["信息资源代码"] for r in GOOD_ROWS)


def codes(engine: Engine) -> list[str]:
    return [e["code"] for e in list_entries(engine)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_import_detects_encoding(store: Engine, tmp_path: Path, encoding: str) -> None:
    rows = [dict(r) for r in GOOD_ROWS]
    if encoding == "gb18030":
        # 𡋾 exists in GB18030 but not in GBK, so the file cannot be read as GBK.
        rows[0]["信息资源摘要"] = "含生僻字𡋾的户籍人口信息"
    path = write_catalog(tmp_path / "catalog.csv", rows, encoding=encoding)
    report = import_catalog(store, path)
    assert report.ok
    assert report.encoding == encoding
    assert sorted(report.added) == GOOD_CODES
    entries = {e["code"]: e for e in list_entries(store)}
    assert entries["320700-GAJ-0001"]["name"] == "人口基本信息"
    assert entries["320700-GAJ-0001"]["columns"] == "xm:C;sfzhm:C;csrq:D;gxsj:T"
    if encoding == "gb18030":
        assert entries["320700-GAJ-0001"]["summary"] == "含生僻字𡋾的户籍人口信息"


def test_import_xlsx_with_english_headers(store: Engine, tmp_path: Path) -> None:
    from citygov.catalog.schema import CATALOG_FIELDS

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([f.aliases[0] for f in CATALOG_FIELDS])
    for r in GOOD_ROWS:
        sheet.append([r[f.header] or None for f in CATALOG_FIELDS])
    path = tmp_path / "catalog.xlsx"
    workbook.save(path)
    report = import_catalog(store, path)
    assert report.ok, [str(e) for e in report.rejected]
    assert report.encoding == "xlsx"
    assert codes(store) == GOOD_CODES


BAD_ROWS = [
    pytest.param(row(信息资源名称=""), "信息资源名称: required value is empty", id="required-empty"),
    pytest.param(
        row(共享类型="有条件"), "共享类型: '有条件' is not one of 无条件共享, 有条件共享, 不予共享", id="bad-enum"
    ),
    pytest.param(
        row(更新周期="daily"),
        "更新周期: 'daily' is not one of 实时, 每日, 每周, 每月, 每季度, 每半年, 每年, 不定时",
        id="bad-cycle",
    ),
    pytest.param(row(信息项="xm:C;sfzhm;csrq:D"), "信息项: item 2 'sfzhm' is not name:TYPE (e.g. xm:C)", id="columns-syntax"),
    pytest.param(
        row(信息项="xm:C;sfzhm:X"),
        "信息项: item 2 'sfzhm:X' has type X; allowed: C string, N number, D date, T datetime, B binary",
        id="columns-type",
    ),
    pytest.param(row(信息项="xm:C;xm:C", 主键="xm", 更新时间字段=""), "信息项: column 'xm' is declared twice", id="columns-dup"),
    pytest.param(
        row(共享类型="有条件共享", 共享条件=""), "共享条件: 有条件共享 needs a 共享条件 (share condition)", id="conditional-no-condition"
    ),
    pytest.param(
        row(共享类型="不予共享", 不予共享依据=""), "不予共享依据: 不予共享 needs a legal basis (不予共享依据)", id="not-shared-no-basis"
    ),
    pytest.param(row(主键="id"), "主键: 'id' is not a declared 信息项", id="pk-undeclared"),
    pytest.param(row(更新时间字段="xm"), "更新时间字段: 'xm' is declared C; it must be D or T", id="update-col-type"),
    pytest.param(row(发布日期="2023-13-01"), "发布日期: '2023-13-01' is not a date (YYYY-MM-DD)", id="bad-date"),
    pytest.param(row(敏感级别="高"), "敏感级别: '高' is not a grade L1, L2, L3 or L4", id="bad-grade"),
    pytest.param(
        row(信息资源代码="320700 GAJ 9"),
        "信息资源代码: '320700 GAJ 9' is not a resource code (letters, digits, '-', '.', '/' only)",
        id="bad-code",
    ),
    pytest.param(
        row(资源位置='t"; DROP TABLE x; --'),
        f"""资源位置: 't"; DROP TABLE x; --' contains '"': {NAME_RULE}""",
        id="location-quote",
    ),
    pytest.param(row(资源位置="rkjbxx\x00"), f"资源位置: 'rkjbxx\\x00' contains the control or invisible character U+0000: {NAME_RULE}", id="location-nul"),
    pytest.param(row(资源位置="rk\u202ejbxx"), f"资源位置: 'rk\\u202ejbxx' contains the control or invisible character U+202E: {NAME_RULE}", id="location-bidi"),
    pytest.param(
        row(信息项="xm:C;sfz`hm:C;csrq:D;gxsj:T", 主键="xm"),
        f"信息项: column 'sfz`hm' contains '`': {NAME_RULE}",
        id="column-backtick",
    ),
    pytest.param(
        row(信息项="xm:C;sfzhm\x1b:C;csrq:D;gxsj:T", 主键="xm"),
        f"信息项: column 'sfzhm\\x1b' contains the control or invisible character U+001B: {NAME_RULE}",
        id="column-escape",
    ),
]


@pytest.mark.parametrize(("bad", "message"), BAD_ROWS)
def test_bad_row_is_reported_and_good_rows_land(store: Engine, tmp_path: Path, bad: dict, message: str) -> None:
    bad = {**bad, "信息资源代码": bad["信息资源代码"].replace("0001", "0099")}
    path = write_catalog(tmp_path / "catalog.csv", [*GOOD_ROWS[:2], bad, GOOD_ROWS[2]])
    report = import_catalog(store, path)
    assert [str(e) for e in report.rejected] == [f"{path}:4: {message}"]
    assert codes(store) == GOOD_CODES
    history = import_history(store)
    assert history[0]["rejected"] == 1
    assert history[0]["errors"][0]["line"] == 4


def test_duplicate_code_keeps_the_first_row(store: Engine, tmp_path: Path) -> None:
    dup = row(信息资源名称="人口基本信息（重复）")
    path = write_catalog(tmp_path / "catalog.csv", [*GOOD_ROWS, dup])
    report = import_catalog(store, path)
    assert [str(e) for e in report.rejected] == [
        f"{path}:5: 信息资源代码: '320700-GAJ-0001' already appears on line 2; only that row is imported"
    ]
    assert {e["code"]: e["name"] for e in list_entries(store)}["320700-GAJ-0001"] == "人口基本信息"


def test_row_with_too_many_cells(store: Engine, tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "catalog.csv", GOOD_ROWS)
    text = path.read_text("utf-8").rstrip("\r\n") + ",多出来的值\r\n"
    path.write_text(text, "utf-8")
    report = import_catalog(store, path)
    assert [str(e) for e in report.rejected] == [
        f"{path}:4: (row): has {len(CATALOG_HEADERS) + 1} cells but the header has {len(CATALOG_HEADERS)}; "
        "a value probably contains an unquoted comma"
    ]
    assert codes(store) == ["320700-GAJ-0001", "320700-SCJG-0001"]


def test_multiline_cell_reports_the_line_where_the_row_starts(store: Engine, tmp_path: Path) -> None:
    rows = [row(信息资源摘要="第一行\n第二行"), row(信息资源代码="320700-GAJ-0002", 敏感级别="")]
    path = write_catalog(tmp_path / "catalog.csv", rows)
    report = import_catalog(store, path)
    assert [str(e) for e in report.rejected] == [f"{path}:4: 敏感级别: required value is empty"]
    assert list_entries(store)[0]["summary"] == "第一行\n第二行"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "{path}: no such file", id="missing-file"),
        pytest.param(b"", "{path}: the file is empty", id="empty"),
        pytest.param(",".join(CATALOG_HEADERS).encode() + b"\r\n", "{path}: the file has a header but no rows; nothing to import", id="header-only"),
        pytest.param(
            ",".join(h for h in CATALOG_HEADERS if h != "信息项").encode("gbk") + b"\r\n",
            "{path}:1: missing required column(s): 信息项 (columns)",
            id="missing-column",
        ),
        pytest.param(b"\xff\xff\xff\x00\x81", "{path}: cannot tell the text encoding; save the file as UTF-8 or GBK", id="binary"),
    ],
)
def test_unreadable_file_imports_nothing(store: Engine, tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "catalog.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CatalogFileError) as info:
        import_catalog(store, path)
    assert str(info.value) == message.format(path=path)
    with session_scope(store) as session:
        assert session.scalar(select(func.count()).select_from(CatalogImport)) == 0


def test_reimport_records_history(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    first = import_catalog(store, write_catalog(path, GOOD_ROWS))
    assert sorted(first.added) == GOOD_CODES

    again = import_catalog(store, path)
    assert (again.added, again.changed, again.withdrawn, again.unchanged) == ([], [], [], 3)

    changed = [row(信息资源名称="人口基本信息（2024版）", 信息项="xm:C;sfzhm:C;csrq:D;gxsj:T;xb:C"), GOOD_ROWS[1]]
    third = import_catalog(store, write_catalog(path, changed))
    assert third.changed == ["320700-GAJ-0001"]
    assert third.withdrawn == ["320700-MZJ-0001"]
    history = import_history(store)
    diff = history[0]["changes"][0]["diff"]
    assert diff["name"] == ["人口基本信息", "人口基本信息（2024版）"]
    assert diff["columns"] == ["xm:C;sfzhm:C;csrq:D;gxsj:T", "xm:C;sfzhm:C;csrq:D;gxsj:T;xb:C"]
    assert [c["kind"] for c in history[0]["changes"]] == ["changed", "withdrawn"]
    assert codes(store) == ["320700-GAJ-0001", "320700-SCJG-0001"]
    assert len(list_entries(store, include_withdrawn=True)) == 3

    fourth = import_catalog(store, write_catalog(path, GOOD_ROWS))
    assert fourth.restored == ["320700-MZJ-0001"]
    assert fourth.changed == ["320700-GAJ-0001"]
    columns = {e["code"]: e["columns"] for e in list_entries(store)}
    assert columns["320700-GAJ-0001"] == "xm:C;sfzhm:C;csrq:D;gxsj:T"


def test_rejected_row_keeps_last_good_version(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    import_catalog(store, write_catalog(path, GOOD_ROWS))
    broken = [row(共享类型="有条件共享", 共享条件=""), *GOOD_ROWS[1:]]
    report = import_catalog(store, write_catalog(path, broken))
    assert report.withdrawn == [] and len(report.rejected) == 1
    assert codes(store) == GOOD_CODES


def test_crash_mid_import_leaves_store_untouched(store: Engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "catalog.csv"
    import_catalog(store, write_catalog(path, GOOD_ROWS[:1]))
    calls = {"n": 0}
    real_apply = importer._apply

    def failing_apply(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(importer, "_apply", failing_apply)
    with pytest.raises(RuntimeError, match="disk full"):
        import_catalog(store, write_catalog(path, [row(信息资源名称="改名"), *GOOD_ROWS[1:]]))
    assert codes(store) == ["320700-GAJ-0001"]
    assert list_entries(store)[0]["name"] == "人口基本信息"
    assert len(import_history(store)) == 1


def test_import_time_is_recorded(store: Engine, tmp_path: Path) -> None:
    when = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    import_catalog(store, write_catalog(tmp_path / "c.csv", GOOD_ROWS), imported_at=when, source_label="catalog_sync")
    history = import_history(store)
    assert history[0]["source_label"] == "catalog_sync"
    assert datetime.fromisoformat(history[0]["imported_at"]).astimezone(UTC) == when
    with session_scope(store) as session:
        entry = session.get(CatalogEntryRow, "320700-GAJ-0001")
        assert entry is not None and [c.name for c in entry.columns] == ["xm", "sfzhm", "csrq", "gxsj"]


def test_cli_exit_status_and_json(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    good = write_catalog(tmp_path / "good.csv", GOOD_ROWS, encoding="gbk")
    assert govern(["--db", store_url, "catalog", "import", str(good), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["encoding"] == "gbk" and sorted(out["added"]) == GOOD_CODES

    bad = write_catalog(tmp_path / "bad.csv", [*GOOD_ROWS, row(信息资源代码="320700-GAJ-0002", 信息项="")])
    assert govern(["--db", store_url, "catalog", "import", str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:5: 信息项: required value is empty" in captured.err
    assert "3 accepted, 1 problem(s)" in captured.out

    assert govern(["--db", store_url, "catalog", "import", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err

    assert govern(["--db", store_url, "catalog", "list", "--json"]) == 0
    assert [e["code"] for e in json.loads(capsys.readouterr().out)] == GOOD_CODES
    assert govern(["--db", store_url, "catalog", "history", "--json"]) == 0
    assert [h["rejected"] for h in json.loads(capsys.readouterr().out)] == [1, 0]
