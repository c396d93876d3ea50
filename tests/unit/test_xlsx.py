"""The one-sheet XLSX writer (citygov.xlsx): what a spreadsheet reads back is what was written, texts stay
texts (never formulas, numbers or links), widths and the frozen heading row are kept, and characters XML
cannot carry do not break the file."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook

from citygov.xlsx import xlsx_bytes

ROWS: list[list[Any]] = [
    ["编号 ID", "标题 Title", "数字 Number", "空 Empty", "尾 Last"],
    [1, "=HYPERLINK(\"http://x\")", 2.5, None, "a & b <c> \"d\" 'e'"],
    [2, "0012", -3, "", "  spaced  "],
    [3, "http://example.org", True, None, "bad\x00\x07\x1bchars\ud800"],
]


@pytest.mark.parametrize("read_only", [True, False])
def test_what_is_written_is_read_back(read_only: bool) -> None:
    body = xlsx_bytes(ROWS, sheet="异议队列 Disputes", widths=[10, 40.5], frozen_rows=1)
    book = load_workbook(io.BytesIO(body), read_only=read_only)
    assert book.sheetnames == ["异议队列 Disputes"]
    sheet = book.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ROWS[0]
    assert rows[1] == [1, "=HYPERLINK(\"http://x\")", 2.5, None, "a & b <c> \"d\" 'e'"]
    assert rows[2] == [2, "0012", -3, None, "  spaced  "]  # a text of digits stays a text, spaces kept
    assert rows[3] == [3, "http://example.org", 1, None, "bad\ufffd\ufffd\ufffdchars\ufffd"]
    if not read_only:
        assert sheet.freeze_panes == "A2"
        assert sheet.column_dimensions["A"].width == 10 and sheet.column_dimensions["B"].width == 40.5
        assert sheet["B2"].data_type == "s"  # a text, not a formula


def test_no_formula_and_a_declared_size() -> None:
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROWS, sheet="s"))) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml"} <= set(z.namelist())
    assert "<f>" not in xml and '<dimension ref="A1:E4"/>' in xml and "pane" not in xml


def test_an_empty_sheet_and_a_bad_sheet_name() -> None:
    assert list(load_workbook(io.BytesIO(xlsx_bytes([], sheet="empty"))).active.iter_rows(values_only=True)) == []
    with pytest.raises(ValueError, match="sheet name"):
        xlsx_bytes(ROWS, sheet="a/b")
    with pytest.raises(ValueError, match="sheet name"):
        xlsx_bytes(ROWS, sheet="x" * 32)
