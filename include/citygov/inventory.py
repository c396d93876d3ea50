"""What a department source actually holds: tables, views and files, with columns and counts.

The census and the patrol both look at sources through :func:`inspect_source`. Names that come from a
source or the catalog are always quoted as identifiers (``quoted_name(..., quote=True)``), never pasted
into SQL. A source that cannot be reached yields an inventory with ``error`` set, not an exception.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, inspect, select, types
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import quoted_name
from sqlalchemy.sql import table as sql_table

from citygov.catalog.reader import CatalogFileError, detect_encoding
from citygov.catalog.schema import ColumnType
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo

FILE_SUFFIXES = {".csv", ".xlsx", ".xlsm", ".txt", ".tsv"}
SAMPLE_ROWS = 200
"""Values per column read to infer file column types and identifier kinds."""


@dataclass(frozen=True)
class ObservedColumn:
    """A column as the source has it."""

    name: str
    native_type: str
    """The type the source declares (``VARCHAR(18)``, ``INTEGER``), or ``inferred`` for files."""
    letter: ColumnType
    """The catalog type letter the native type corresponds to."""


@dataclass
class Resource:
    """A table, view or file found in a source."""

    conn_id: str
    location: str
    """Table or view name, or file path relative to the source folder."""
    kind: str
    """``table``, ``view`` or ``file``."""
    columns: list[ObservedColumn] = field(default_factory=list)
    row_count: int | None = None
    last_updated: datetime | None = None
    error: str | None = None
    """Set when the resource was listed but could not be read (e.g. dropped mid-run)."""
    samples: dict[str, list[str]] = field(default_factory=dict)
    """The first rows' non-empty values per column, as text (only when sampling was asked for)."""

    def column(self, name: str) -> ObservedColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Inventory:
    """Everything one source holds, or why it could not be read."""

    conn_id: str
    department: str | None
    kind: str
    """``database`` or ``folder``."""
    resources: list[Resource] = field(default_factory=list)
    error: str | None = None
    """Set when the source itself is unreachable; ``resources`` is then empty."""

    def find(self, location: str) -> Resource | None:
        return next((r for r in self.resources if r.location == location), None)


def type_letter(sql_type: Any) -> ColumnType:
    """Map a reflected SQLAlchemy type onto a catalog type letter."""
    if isinstance(sql_type, types.DateTime):
        return ColumnType.DATETIME
    if isinstance(sql_type, types.Date):
        return ColumnType.DATE
    if isinstance(sql_type, (types.Integer, types.Numeric, types.Float)):
        return ColumnType.NUMBER
    if isinstance(sql_type, (types.LargeBinary, types._Binary)):
        return ColumnType.BINARY
    return ColumnType.STRING


def ident(name: str) -> quoted_name:
    """A name from a catalog or a source, always quoted as an identifier."""
    return quoted_name(name, quote=True)


def source_engine(conn: ConnectionInfo) -> Engine:
    """An engine for a database source; SQLite files are opened read-only and never created."""
    url = conn.sqlalchemy_url()
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path and path != ":memory:" and not Path(path).is_file():
            raise FileNotFoundError(f"database file {path} does not exist")
        return create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": 10}
        )
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def inspect_source(
    conn: ConnectionInfo,
    *,
    locations: Iterable[str] | None = None,
    update_columns: dict[str, str] | None = None,
    count_rows: bool = True,
    sample: int = 0,
) -> Inventory:
    """List a source's resources with columns, row counts and last update time.

    ``locations`` limits the work to those resources (the patrol passes its batch's tables); the
    census passes None to list everything. ``update_columns`` maps a location to its update-time
    column, whose maximum is the resource's last update. ``sample`` > 0 reads that many first rows'
    values into ``Resource.samples`` (raw values: mask them before showing them to anyone).
    """
    kind = "folder" if conn.is_folder else "database"
    inventory = Inventory(conn_id=conn.conn_id, department=conn.department, kind=kind)
    try:
        if conn.is_folder:
            _inspect_folder(conn, inventory, locations, update_columns or {}, count_rows, sample)
        else:
            _inspect_database(conn, inventory, locations, update_columns or {}, count_rows, sample)
    except Exception as exc:  # any failure to reach the source is a finding, not a crash
        inventory.resources = []
        inventory.error = _describe(exc)
    return inventory


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _inspect_database(
    conn: ConnectionInfo,
    inventory: Inventory,
    locations: Iterable[str] | None,
    update_columns: dict[str, str],
    count_rows: bool,
    sample: int,
) -> None:
    engine = source_engine(conn)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            found = [(name, "table") for name in inspector.get_table_names()]
            found += [(name, "view") for name in inspector.get_view_names()]
            wanted = set(locations) if locations is not None else None
            for name, kind in sorted(found):
                if wanted is not None and name not in wanted:
                    continue
                resource = Resource(conn_id=conn.conn_id, location=name, kind=kind)
                inventory.resources.append(resource)
                try:
                    resource.columns = [
                        ObservedColumn(c["name"], str(c["type"]), type_letter(c["type"]))
                        for c in inspector.get_columns(name)
                    ]
                    target = sql_table(ident(name), *[sql_column(ident(c.name)) for c in resource.columns])
                    # Row count and latest update time in one scan.
                    update_col = update_columns.get(name)
                    aggregates = [func.count()] if count_rows else []
                    if update_col and resource.column(update_col):
                        aggregates.append(func.max(target.c[update_col]))
                    if aggregates:
                        values = connection.execute(select(*aggregates).select_from(target)).one()
                        if count_rows:
                            resource.row_count = values[0]
                        if len(values) > int(count_rows):
                            resource.last_updated = _as_datetime(values[-1])
                    if sample and resource.columns:
                        result = connection.execute(select(*target.c).limit(sample))
                        names = [c.name for c in resource.columns]
                        resource.samples = {n: [] for n in names}
                        for values in result:
                            for n, v in zip(names, values, strict=True):
                                if v is not None and str(v).strip():
                                    resource.samples[n].append(str(v))
                except Exception as exc:  # e.g. the table was dropped between listing and reading
                    connection.rollback()
                    resource.error = _describe(exc)
    finally:
        engine.dispose()


def _inspect_folder(
    conn: ConnectionInfo,
    inventory: Inventory,
    locations: Iterable[str] | None,
    update_columns: dict[str, str],
    count_rows: bool,
    sample: int,
) -> None:
    folder = conn.folder()
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    wanted = set(locations) if locations is not None else None
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FILE_SUFFIXES):
        location = path.relative_to(folder).as_posix()
        if wanted is not None and location not in wanted:
            continue
        resource = Resource(conn_id=conn.conn_id, location=location, kind="file")
        inventory.resources.append(resource)
        try:
            header, rows = read_table_file(path)
            samples: list[list[str]] = [[] for _ in header]
            count = 0
            update_col = update_columns.get(location)
            update_index = header.index(update_col) if update_col in header else None
            latest: datetime | None = None
            for values in rows:
                count += 1
                if count <= SAMPLE_ROWS:
                    for i in range(len(header)):
                        samples[i].append(values[i] if i < len(values) else "")
                if update_index is not None and update_index < len(values):
                    stamp = _parse_datetime(values[update_index])
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
            resource.last_updated = latest or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except Exception as exc:  # an unreadable spreadsheet is a finding for that file only
            resource.error = _describe(exc)


def read_table_file(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """Open a CSV or XLSX file as a header and an iterator of text rows (streamed, bounded memory)."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _xlsx_table(path)
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        longer = bool(handle.read(1))
    try:
        encoding = detect_encoding(head, partial=longer)  # the head may end inside a character
    except CatalogFileError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    if encoding in {"gbk"}:
        encoding = "gb18030"  # a later chunk may hold a character only GB18030 has
    handle = path.open("r", encoding=encoding, newline="")
    first = handle.readline()
    delimiter = "\t" if "\t" in first and "," not in first else ","
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    if not header:
        handle.close()
        raise ValueError(f"{path.name}: the file is empty")
    header = [h.replace("\ufeff", "").strip() for h in header]

    def rows() -> Iterator[list[str]]:
        with handle:
            for values in csv.reader(handle, delimiter=delimiter):
                if any(v.strip() for v in values):
                    yield values

    return header, rows()


def _xlsx_table(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    from openpyxl import load_workbook

    from citygov.catalog.reader import _cell_text

    workbook = load_workbook(path, read_only=True, data_only=True)
    iterator = workbook.worksheets[0].iter_rows(values_only=True)
    first = next(iterator, None)
    if first is None:
        workbook.close()
        raise ValueError(f"{path.name}: the workbook's first sheet is empty")
    header = [_cell_text(v).strip() for v in first]
    while header and not header[-1]:
        header.pop()

    def rows() -> Iterator[list[str]]:
        try:
            for values in iterator:
                texts = [_cell_text(v) for v in values]
                if any(t.strip() for t in texts):
                    yield texts
        finally:
            workbook.close()

    return header, rows()


def infer_letter(values: list[str]) -> ColumnType:
    """Infer a catalog type letter from sample text values of a file column."""
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        return ColumnType.STRING
    if all(_is_number(v) for v in present):
        # Long digit strings are codes (ID numbers, phone numbers), not quantities.
        if any(len(v.lstrip("-").split(".")[0]) >= 11 or (v.startswith("0") and len(v) > 1) for v in present):
            return ColumnType.STRING
        return ColumnType.NUMBER
    if all(_parse_date(v) for v in present):
        return ColumnType.DATE
    if all(_parse_datetime(v) for v in present):
        return ColumnType.DATETIME
    return ColumnType.STRING


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None


def _parse_datetime(value: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CITY_TZ)


def _as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CITY_TZ)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=CITY_TZ)
    return _parse_datetime(str(value))
