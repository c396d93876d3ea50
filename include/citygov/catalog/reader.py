"""Read a catalog export (CSV or XLSX) into raw rows with the line each came from.

Government offices export catalogs from Excel or from their catalog system, in UTF-8, UTF-8 with a
BOM, GBK or GB18030, rarely saying which; the encoding is detected from the bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import charset_normalizer

XLSX_SUFFIXES = {".xlsx", ".xlsm"}


class CatalogFileError(Exception):
    """The file as a whole cannot be read as a catalog; nothing from it was imported."""


@dataclass(frozen=True)
class RawRow:
    """One data row of the file, cells keyed by the header as written in the file."""

    line: int
    """1-based line (CSV) or row (XLSX) number where the row starts; the header is line 1."""
    cells: dict[str, str]
    width: int
    """How many non-empty-trailing cells the row has; more than the header is an error."""


@dataclass(frozen=True)
class RawTable:
    """A catalog file read into text cells."""

    path: Path
    encoding: str
    """The detected text encoding (``xlsx`` for workbooks)."""
    headers: list[str]
    rows: list[RawRow]


def detect_encoding(data: bytes, *, partial: bool = False) -> str:
    """Detect a catalog file's text encoding.

    Tries the encodings catalog exports actually use, strictest first (a UTF-8 BOM, UTF-8, GBK, then
    its superset GB18030), and only then asks charset-normalizer, so short Chinese files are not
    mistaken for some other legacy code page. ``partial``: ``data`` is the head of a longer file, which
    may end inside a character (a cut there is not a decoding error).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(data, final=not partial)
        except UnicodeDecodeError:
            continue
        return encoding
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise CatalogFileError("cannot tell the text encoding; save the file as UTF-8 or GBK")
    return best.encoding


def read_catalog_file(path: Path) -> RawTable:
    """Read a CSV or XLSX catalog file into text cells, keeping line numbers.

    Raises :class:`CatalogFileError` when the file is missing, empty, not a catalog table, or has a
    repeated header.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogFileError(f"{path}: no such file")
    if path.suffix.lower() in XLSX_SUFFIXES:
        encoding = "xlsx"
        lines = _xlsx_rows(path)
    else:
        data = path.read_bytes()
        try:
            encoding = detect_encoding(data)
            text = data.decode(encoding)
        except (CatalogFileError, UnicodeDecodeError) as exc:
            raise CatalogFileError(f"{path}: {exc}") from exc
        lines = _csv_rows(path, text)
    header_line = next(lines, None)
    if header_line is None:
        raise CatalogFileError(f"{path}: the file is empty")
    _, raw_headers = header_line
    headers = [_clean_header(h) for h in raw_headers]
    while headers and not headers[-1]:
        headers.pop()
    seen: set[str] = set()
    for position, header in enumerate(headers, start=1):
        if header and header in seen:
            raise CatalogFileError(f"{path}:1: header {header!r} appears twice (column {position})")
        seen.add(header)
    rows: list[RawRow] = []
    for line, values in lines:
        if not any(v.strip() for v in values):
            continue
        cells = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(headers) if h}
        width = len(values)
        while width and not values[width - 1].strip():
            width -= 1
        rows.append(RawRow(line=line, cells=cells, width=width))
    return RawTable(path=path, encoding=encoding, headers=[h for h in headers if h], rows=rows)


def _clean_header(value: str) -> str:
    # Exports mark required columns with * and pad with full-width spaces.
    return value.replace("\ufeff", "").strip().strip("*＊").strip().replace("\u3000", "")


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    # 信息项 values contain ';', so only the header line decides: tab-separated or comma-separated.
    header = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in header and "," not in header else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CatalogFileError(f"{path}:{reader.line_num}: {exc}") from exc


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise CatalogFileError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in row]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
