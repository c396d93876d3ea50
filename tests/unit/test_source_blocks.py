"""FolderSource.read_blocks gives exactly the rows of read_file_chunks(empty=None), each with its file line,
whatever the file: plain or quoted CSV, TSV, a BOM, CRLF, blank, short and long rows, Chinese text, GBK,
XLSX, a header alone; reads cut anywhere (small read sizes) and any block size."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook

from citygov.sources import ConnectionInfo, MissingColumns, csvblocks
from citygov.sources.blocks import PAD, TextBlock
from citygov.sources.folder import FolderSource, read_file_chunks

PLAIN_CELLS = ["", "", " ", "1", "42", "abc", "Ab Cd", "中文", "张三", "\u3000", "\xa0", " x ", "2026-11-01 08:00:00",
               "\u3000中\u3000", "a'b", "é", "𝄞"]
QUOTED_CELLS = [*PLAIN_CELLS, "x,y", 'say "hi"', "two\nlines", "crlf\r\ninside", '"', ",", "\r", 'a""b', "\t"]
GBK_CELLS = ["", " ", "1", "abc", "中文", "张三", "\u3000", "北京市朝阳区"]


def folder(tmp_path: Path) -> FolderSource:
    return FolderSource(ConnectionInfo("files", "fs", extra={"path": str(tmp_path)}))


def block_rows_of(source: FolderSource, location: str, columns: list[str], block_rows: int) -> tuple[
    list[list[str | None]], list[int], list[TextBlock]
]:
    """Every row's asked values and line, read through read_blocks; the blocks' own invariants checked."""
    header, blocks = source.read_blocks(location, columns=columns, block_rows=block_rows)
    assert header == columns
    rows: list[list[str | None]] = []
    lines: list[int] = []
    got = list(blocks)
    for block in got:
        assert block.columns == columns
        assert 0 < block.rows <= block_rows
        assert block.starts.shape == block.lengths.shape == block.null.shape == (block.rows, len(columns))
        assert block.lines is not None and block.lines.shape == (block.rows,)
        assert block.first_line == int(block.lines[0])
        assert list(block.lines) == sorted(set(block.lines)), "lines increase"
        assert (block.starts >= 0).all() and (block.starts + block.lengths + PAD <= len(block.buffer)).all()
        assert (block.null == (block.lengths == 0)).all()
        for i in range(block.rows):
            rows.append([block.text(i, j) for j in range(len(columns))])
        lines.extend(int(v) for v in block.lines)
    return rows, lines, got


def expected_rows(path: Path, columns: list[str]) -> list[list[str | None]]:
    header, chunks = read_file_chunks(path, 3, empty=None)
    positions = [header.index(c) for c in columns]
    return [[row[p] for p in positions] for chunk in chunks for row in chunk]


def expected_lines(text: str, delimiter: str) -> list[int]:
    """Each kept row's first line (the header is line 1), by one csv reader over the whole text."""
    handle = io.StringIO(text, newline="")
    handle.readline()
    reader = csv.reader(handle, delimiter=delimiter)
    lines = []
    while True:
        before = reader.line_num
        values = next(reader, None)
        if values is None:
            return lines
        if any(v.strip() for v in values):
            lines.append(before + 2)


def random_table(rng: random.Random, cells: list[str], width: int, rows: int) -> list[list[str]]:
    table = []
    for _ in range(rows):
        roll = rng.random()
        if roll < 0.05:
            table.append([])  # a blank line
        elif roll < 0.1:
            table.append([rng.choice(["", " ", "\u3000"]) for _ in range(width)])  # blank cells only
        else:
            n = width if roll < 0.8 else rng.randint(1, width + 3)  # short and long rows
            table.append([rng.choice(cells) for _ in range(n)])
    return table


def write_text(path: Path, header: list[str], table: list[list[str]], *, delimiter: str, newline: str,
               quoted: bool, encoding: str = "utf-8", bom: bool = False, last_newline: bool = True) -> str:
    out = io.StringIO()
    if quoted:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(table)
    else:
        out.write(newline.join(delimiter.join(row) for row in [header, *table]) + newline)
    text = out.getvalue()
    if not last_newline:
        text = text.rstrip("\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return text


@pytest.fixture(params=[37, 1000, None], ids=["read37", "read1000", "read4MiB"])
def read_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reads (and quoted windows) cut at every kind of place, not only at 4 MiB."""
    if request.param is not None:
        monkeypatch.setattr(csvblocks, "READ_BYTES", request.param)
        monkeypatch.setattr(csvblocks, "BLOCK_READ_CAP", request.param)
        monkeypatch.setattr(csvblocks, "QUOTED_WINDOW", request.param // 2)
    yield


CASES = {
    "plain_csv": {"delimiter": ",", "newline": "\n", "quoted": False, "cells": PLAIN_CELLS},
    "plain_tsv": {"delimiter": "\t", "newline": "\n", "quoted": False, "cells": PLAIN_CELLS},
    "crlf_csv": {"delimiter": ",", "newline": "\r\n", "quoted": False, "cells": PLAIN_CELLS},
    "bom_csv": {"delimiter": ",", "newline": "\n", "quoted": False, "cells": PLAIN_CELLS, "bom": True},
    "quoted_csv": {"delimiter": ",", "newline": "\n", "quoted": True, "cells": QUOTED_CELLS},
    "quoted_crlf_csv": {"delimiter": ",", "newline": "\r\n", "quoted": True, "cells": QUOTED_CELLS},
    "quoted_tsv": {"delimiter": "\t", "newline": "\r\n", "quoted": True, "cells": QUOTED_CELLS},
    "cr_only_csv": {"delimiter": ",", "newline": "\r", "quoted": False, "cells": PLAIN_CELLS},
    "no_last_newline": {"delimiter": ",", "newline": "\n", "quoted": True, "cells": QUOTED_CELLS,
                        "last_newline": False},
    "utf16_quoted": {"delimiter": ",", "newline": "\r\n", "quoted": True, "cells": QUOTED_CELLS, "encoding": "utf-16"},
    "cr_only_quoted": {"delimiter": ",", "newline": "\r", "quoted": True, "cells": QUOTED_CELLS},
    "gbk_csv": {"delimiter": ",", "newline": "\r\n", "quoted": False, "cells": GBK_CELLS, "encoding": "gbk"},
    "gbk_quoted": {"delimiter": ",", "newline": "\n", "quoted": True, "cells": [*GBK_CELLS, "甲,乙", "引\"号"],
                   "encoding": "gb18030"},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [1, 2])
def test_blocks_equal_read_file_chunks(tmp_path: Path, case: str, seed: int, read_bytes: None) -> None:
    spec = dict(CASES[case])
    rng = random.Random(f"{case}{seed}")
    header = ["id", "名称", "c", "d", "e"]
    table = random_table(rng, spec.pop("cells"), len(header), 300)  # type: ignore[arg-type]
    text = write_text(tmp_path / "t.csv", header, table, **spec)  # type: ignore[arg-type]
    source = folder(tmp_path)
    for columns in (header, ["e", "id", "名称"], ["c", "c"]):
        want = expected_rows(tmp_path / "t.csv", columns)
        assert want, "the generated file has rows"
        for block_rows in (1, 7, 65536):
            rows, lines, _ = block_rows_of(source, "t.csv", columns, block_rows)
            assert rows == want
            assert lines == expected_lines(text, str(spec["delimiter"]))


def test_lines_and_values_of_a_small_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        '\ufeffa,b , c\n1,2,3\n\n , ,\n4,"x,\ny",5\r\n6\n7,8,9,10\n中文,\u3000,\n\u3000,\xa0\n"",""\nlast, ,',
        encoding="utf-8",
    )
    rows, lines, blocks = block_rows_of(folder(tmp_path), "a.csv", ["c", "a", "b"], 2)
    assert rows == [["3", "1", "2"], ["5", "4", "x,\ny"], [None, "6", None], ["9", "7", "8"],
                    [None, "中文", "\u3000"], [None, "last", " "]]
    assert lines == [2, 5, 7, 8, 9, 12]
    assert [b.first_line for b in blocks] == [2, 5, 8, 12]  # the kernel's row alone, then csv's rows


TRICKY = {
    "text after a closing quote": 'a,b\n"ab"cd,x\n"q""",y\n',
    "a quote inside an unquoted field": 'a,b\n5" pipe,x\na"b"c,"d"\n',
    "a quote after a space": 'a,b\n "a,b",c\n',
    "a quote left open at the end": 'a,b\n1,2\n3,"open,\nstill\n',
    "a quoted line break only": 'a,b\n"\n",x\n"\r\n",\n',
    "NUL bytes": "a,b\nx\x00y,\x00\n\x00,\n",
    "a quoted header over two lines": '"a\nb",c\n1,2\n',
    "a repeated header name": "a,a,b\n1,2,3\n",
    "a header alone with CRLF": "a,b\r\n",
    "CR LF split by blank lines": "a,b\r\n\r\n1,2\r\n\r\n\r\n3,4\r\n",
    "mixed line ends": "a,b\n1,2\r3,4\r\n5,6\n",
    "a tab inside a comma file": "a,b\n\t,\t\nx\ty,z\n",
    "spaces in a TSV": "a\tb\n \t \n x\t\n",
}


@pytest.mark.parametrize("text", list(TRICKY.values()), ids=list(TRICKY))
@pytest.mark.parametrize("columns", [None, []])
def test_tricky_files(tmp_path: Path, text: str, columns: list[str] | None) -> None:
    (tmp_path / "t.csv").write_bytes(text.encode("utf-8"))
    header, _ = read_file_chunks(tmp_path / "t.csv")
    asked = header if columns is None else columns
    want = expected_rows(tmp_path / "t.csv", asked)
    for block_rows in (1, 7):
        rows, lines, _ = block_rows_of(folder(tmp_path), "t.csv", asked, block_rows)
        assert rows == want
        first = io.StringIO(text, newline="").readline()
        assert lines == expected_lines(text, "\t" if "\t" in first and "," not in first else ",")


def test_every_whitespace_character_makes_a_blank_row(tmp_path: Path) -> None:
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in "\n\r"]
    body = "".join(f"{s},{s}{s}\n" for s in spaces) + "".join(f"{s}x,\n" for s in spaces) + "\u200b,\n\ufeff,\n"
    (tmp_path / "s.csv").write_text("a,b\n" + body, encoding="utf-8")
    rows, lines, _ = block_rows_of(folder(tmp_path), "s.csv", ["a", "b"], 1000)
    assert rows == expected_rows(tmp_path / "s.csv", ["a", "b"])
    assert len(rows) == len(spaces) + 2  # only "\u200b" and "\ufeff" of the non-blank ones are no space
    assert lines[0] == 2 + len(spaces)


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / "h2.csv").write_text("a,b", encoding="utf-8")
    (tmp_path / "e.csv").write_bytes(b"")
    source = folder(tmp_path)
    for name in ("h.csv", "h2.csv"):
        header, blocks = source.read_blocks(name, columns=["b"])
        assert header == ["b"] and list(blocks) == []
    with pytest.raises(ValueError, match="empty"):
        source.read_blocks("e.csv", columns=["a"])


def test_a_missing_column_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    book = Workbook()
    book.active.append(["a", "b"])
    book.save(tmp_path / "m.xlsx")
    for name in ("m.csv", "m.xlsx"):
        with pytest.raises(MissingColumns, match="no column zz"):
            folder(tmp_path).read_blocks(name, columns=["a", "zz"])


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xe4\xb8,", b"\xe4\xb8\xad\xe4", b"\xed\xa0\x80", b"\xc0\xaf",
                                 b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\x80"])
def test_bad_utf8_past_the_detected_head_raises_as_the_text_reader_does(tmp_path: Path, bad: bytes) -> None:
    (tmp_path / "bad.csv").write_bytes(b"a,b\n" + "x,中文\n".encode() * 20_000 + bad + b",z\n")
    with pytest.raises(UnicodeDecodeError):
        [row for chunk in read_file_chunks(tmp_path / "bad.csv")[1] for row in chunk]
    with pytest.raises(UnicodeDecodeError, match="line 20002"):
        list(folder(tmp_path).read_blocks("bad.csv", columns=["a"])[1])


@pytest.mark.parametrize("block_rows", [1, 7, 65536])
def test_xlsx_blocks_equal_read_file_chunks(tmp_path: Path, block_rows: int) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["id", "名称", "when", "n", None])
    sheet.append([1, "张三", date(2026, 11, 1), 2.5])
    sheet.append([None, None, None])  # blank: skipped
    sheet.append(["2", "", datetime(2026, 11, 2, 8, 0), None, "beyond"])
    sheet.append(["3"])
    sheet.append([" ", "\u3000"])  # blank
    sheet.append([4, "x,y", None, 0])
    book.save(tmp_path / "w.xlsx")
    columns = ["n", "id", "名称", "when"]
    rows, lines, _ = block_rows_of(folder(tmp_path), "w.xlsx", columns, block_rows)
    assert rows == expected_rows(tmp_path / "w.xlsx", columns)
    assert lines == [2, 4, 5, 7]


def test_a_record_longer_than_a_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvblocks, "READ_BYTES", 64)
    monkeypatch.setattr(csvblocks, "BLOCK_READ_CAP", 64)
    long = "y" * 1000
    (tmp_path / "l.csv").write_text(f'a,b\n1,"{long}\n{long}"\n2,{long}\n3,3\n', encoding="utf-8")
    rows, lines, _ = block_rows_of(folder(tmp_path), "l.csv", ["b", "a"], 2)
    assert rows == [[f"{long}\n{long}", "1"], [long, "2"], ["3", "3"]]
    assert lines == [2, 4, 5]


def test_split_plain_keeps_only_the_asked_columns_in_order() -> None:
    buf = np.frombuffer(b"ab,c,,d\n\n e,f\n" + bytes(PAD), dtype=np.uint8)
    starts, lengths, lines, spans, rows, stop, passed, why = csvblocks.split_plain(
        buf, 0, len(buf) - PAD, csvblocks.byte_classes(","), 4, np.array([3, 0, 2], dtype=np.int64), 8
    )
    assert (rows, stop, passed, why) == (2, len(buf) - PAD, 3, csvblocks._DONE)
    assert [[bytes(buf[s : s + n]).decode() for s, n in zip(starts[i], lengths[i], strict=True)] for i in range(2)] == [
        ["d", "ab", ""], ["", " e", ""]
    ]
    assert list(lines[:2]) == [0, 2]
    assert spans[:2].tolist() == [[0, 7], [9, 13]]
    assert starts[1].tolist() == [13, 9, 13], "a field the row is too short to have starts at its end"
