"""Folder sources: a department's CSV, TSV and XLSX files in one folder (Airflow ``fs`` connections).

Files are streamed (bounded memory whatever their size); column types are inferred from the first rows.
A location always resolves inside the folder (:meth:`ConnectionInfo.file`): ``../x.csv``, an absolute
path or a link pointing out is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
from sqlalchemy import Engine

from citygov.catalog.reader import CatalogFileError, detect_encoding
from citygov.catalog.reader import _cell_text as cell_text
from citygov.sources.base import (
    BLOCK_ROWS,
    CHUNK_ROWS,
    MissingColumns,
    ObservedColumn,
    Resource,
    Rows,
    describe_error,
)
from citygov.sources.blocks import TextBlock, pack_rows
from citygov.sources.connection import FOLDER_TYPES, ConnectionInfo
from citygov.sources.values import infer_letter, parse_datetime

FILE_SUFFIXES = {".csv", ".xlsx", ".xlsm", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
SAMPLE_ROWS = 200
"""Values per column read to infer file column types and identifier kinds."""
DESCRIBE_CHUNK_ROWS = 5_000
"""Rows held at once while describing a file (counting needs no more)."""


class FolderSource:
    """A folder of files; each file is a resource, named by its path relative to the folder."""

    kind: ClassVar[str] = "folder"
    conn_types: ClassVar[frozenset[str]] = FOLDER_TYPES
    numbered_rows: ClassVar[bool] = True

    def __init__(self, conn: ConnectionInfo) -> None:
        self.conn = conn

    def __enter__(self) -> FolderSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass  # a file is closed once its rows are read

    def unreachable(self) -> str | None:
        folder = self.conn.folder()
        return None if folder.is_dir() else f"folder {folder} does not exist"

    def resources(self, locations: Iterable[str] | None = None) -> list[tuple[str, str]]:
        folder = self.conn.folder()
        if not folder.is_dir():
            raise FileNotFoundError(f"folder {folder} does not exist")
        wanted = set(locations) if locations is not None else None
        found = [
            path.relative_to(folder).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and path.suffix.lower() in FILE_SUFFIXES
        ]
        return [(location, "file") for location in sorted(found) if wanted is None or location in wanted]

    def describe(
        self, location: str, kind: str = "file", *, update_column: str | None = None, count_rows: bool = True,
        sample: int = 0,
    ) -> Resource:
        """One streamed pass through :meth:`read`: row count, the latest ``update_column`` value (else the
        file's modification time) and the first :data:`SAMPLE_ROWS` rows for the column types and samples."""
        resource = Resource(conn_id=self.conn.conn_id, location=location, kind=kind)
        try:
            header, chunks = self.read(location, chunk_rows=SAMPLE_ROWS if not count_rows else DESCRIBE_CHUNK_ROWS)
            samples: list[list[str]] = [[] for _ in header]
            count = 0
            update_index = header.index(update_column) if update_column in header else None
            latest: datetime | None = None
            for rows in chunks:
                for values in rows[: SAMPLE_ROWS - count] if count < SAMPLE_ROWS else ():
                    for i, value in enumerate(values):
                        samples[i].append(value)
                count += len(rows)
                if update_index is not None:
                    for values in rows:
                        stamp = parse_datetime(values[update_index])
                        if stamp and (latest is None or stamp > latest):
                            latest = stamp
                if not count_rows and count >= SAMPLE_ROWS:
                    break
            resource.columns = [
                ObservedColumn(name, "inferred", infer_letter(samples[i])) for i, name in enumerate(header)
            ]
            resource.row_count = count if count_rows else None
            if sample:
                resource.samples = {
                    name: [v for v in samples[i][:sample] if v.strip()] for i, name in enumerate(header)
                }
            resource.last_updated = latest or datetime.fromtimestamp(self.conn.file(location).stat().st_mtime, UTC)
        except Exception as exc:  # an unreadable spreadsheet is a finding for that file only
            resource.error = describe_error(exc)
        return resource

    def read(
        self, location: str, *, columns: list[str] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> tuple[list[str], Iterator[Rows]]:
        header, chunks = read_file_chunks(self.conn.file(location), chunk_rows)
        if columns is None:
            return header, chunks
        missing = [c for c in columns if c not in header]
        if missing:
            raise MissingColumns(f"{location} has no column {', '.join(missing)} (its header: {', '.join(header)})")
        positions = [header.index(c) for c in columns]
        return list(columns), ([[row[i] for i in positions] for row in chunk] for chunk in chunks)

    def read_blocks(
        self, location: str, *, columns: list[str], block_rows: int = BLOCK_ROWS
    ) -> tuple[list[str], Iterator[TextBlock]]:
        """The rows of :meth:`read` (``empty=None``: an empty cell is NULL), each block's and row's file line
        set (``first_line``, ``lines``; a workbook's sheet row). A CSV or TSV file's bytes are split by a
        compiled kernel (:mod:`citygov.sources.csvblocks`; a non-UTF-8 file transcoded as it is read,
        quoted records parsed by :mod:`csv`); a workbook's rows are packed. A column the header lacks
        raises :class:`MissingColumns` before any row is read."""
        path = self.conn.file(location)

        def positions(header: list[str]) -> list[int]:
            missing = [c for c in columns if c not in header]
            if missing:
                raise MissingColumns(
                    f"{location} has no column {', '.join(missing)} (its header: {', '.join(header)})"
                )
            return [header.index(c) for c in columns]

        if path.suffix.lower() in XLSX_SUFFIXES:
            header, numbered = _xlsx_rows(path)
            try:
                where = positions(header)
            except MissingColumns:
                numbered.close()
                raise
            return list(columns), _packed_blocks(list(columns), where, numbered, block_rows)
        from citygov.sources.csvblocks import CsvFile  # numba loads only when a file is read this way

        csv_file = CsvFile.open(path, _file_encoding(path))
        try:
            delimiter, header = _header_of(csv_file.first, path)
            where = positions(header)
        except BaseException:
            csv_file.close()
            raise
        return list(columns), csv_file.blocks(
            list(columns), where, delimiter=delimiter, width=len(header), block_rows=block_rows
        )

    def sql_engine(self) -> Engine | None:
        return None

    def local_file(self, location: str) -> Path | None:
        return self.conn.file(location)


def read_file_chunks(
    path: Path, chunk_rows: int = CHUNK_ROWS, *, empty: str | None = ""
) -> tuple[list[str], Iterator[Rows]]:
    """A CSV or XLSX file as its header and chunks of at most ``chunk_rows`` text rows, each exactly as wide
    as the header (short rows padded, cells beyond the header dropped); an empty cell is ``empty``."""
    header, rows = read_table_file(path)
    width = len(header)

    def chunks() -> Iterator[Rows]:
        buffer: Rows = []
        for values in rows:
            if len(values) != width:
                values = (list(values) + [""] * width)[:width]
            buffer.append([v if v != "" else empty for v in values] if empty != "" else values)
            if len(buffer) >= chunk_rows:
                yield buffer
                buffer = []
        if buffer:
            yield buffer

    return header, chunks()


def read_table_file(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """Open a CSV or XLSX file as a header and an iterator of text rows (streamed, bounded memory)."""
    if path.suffix.lower() in XLSX_SUFFIXES:
        return _xlsx_table(path)
    handle = path.open("r", encoding=_file_encoding(path), newline="")
    try:
        delimiter, header = _header_of(handle.readline(), path)
    except BaseException:
        handle.close()
        raise

    def rows() -> Iterator[list[str]]:
        with handle:
            for values in csv.reader(handle, delimiter=delimiter):
                if any(v.strip() for v in values):
                    yield values

    return header, rows()


def _file_encoding(path: Path) -> str:
    """A text file's encoding, detected from its first 64 KiB (GBK read as its superset GB18030: a later
    part may hold a character only GB18030 has)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        longer = bool(handle.read(1))
    try:
        encoding = detect_encoding(head, partial=longer)  # the head may end inside a character
    except CatalogFileError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    return "gb18030" if encoding == "gbk" else encoding


def _header_of(first: str, path: Path) -> tuple[str, list[str]]:
    """The delimiter (a tab when the first line has one and no comma) and the header of a text file whose
    first line is ``first``: cells stripped, a BOM removed."""
    delimiter = "\t" if "\t" in first and "," not in first else ","
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    if not header:
        raise ValueError(f"{path.name}: the file is empty")
    return delimiter, [h.replace("\ufeff", "").strip() for h in header]


def _xlsx_table(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    header, numbered = _xlsx_rows(path)
    return header, (texts for _, texts in numbered)


def _xlsx_rows(path: Path) -> tuple[list[str], Generator[tuple[int, list[str]]]]:
    """A workbook's first sheet as its header (row 1; empty trailing cells dropped) and its non-blank rows
    as text, each with its sheet row number. The workbook closes when the rows are done or closed."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    iterator = workbook.worksheets[0].iter_rows(values_only=True)  # a row per sheet row, gaps as empty rows
    first = next(iterator, None)
    if first is None:
        workbook.close()
        raise ValueError(f"{path.name}: the workbook's first sheet is empty")
    header = [cell_text(v).strip() for v in first]
    while header and not header[-1]:
        header.pop()

    def rows() -> Generator[tuple[int, list[str]]]:
        try:
            for line, values in enumerate(iterator, start=2):
                texts = [cell_text(v) for v in values]
                if any(t.strip() for t in texts):
                    yield line, texts
        finally:
            workbook.close()

    return header, rows()


def _packed_blocks(
    columns: list[str], positions: list[int], numbered: Iterator[tuple[int, list[str]]], block_rows: int
) -> Iterator[TextBlock]:
    """``columns`` (at header ``positions``) of numbered text rows packed into blocks of ``block_rows``
    (an empty cell, or one the row is too short to have, NULL)."""
    rows: list[list[str | None]] = []
    lines: list[int] = []
    for line, values in numbered:
        rows.append([values[p] if p < len(values) else None for p in positions])
        lines.append(line)
        if len(rows) >= block_rows:
            yield _packed(columns, rows, lines)
            rows, lines = [], []
    if rows:
        yield _packed(columns, rows, lines)


def _packed(columns: list[str], rows: list[list[str | None]], lines: list[int]) -> TextBlock:
    block = pack_rows(columns, rows, empty_is_null=True, first_line=lines[0])
    block.lines = np.asarray(lines, dtype=np.int64)
    return block
