"""The ``Source`` protocol: what census, patrol, quality, drafting and the record locator ask of a source.

Each kind of source (a database, a folder of files, …) is one module implementing :class:`Source`;
:func:`citygov.sources.open_source` picks the kind from the connection's type. Callers never ask which
kind they hold: they ask for what they need (the resources, a resource's description, its rows in
bounded chunks) and, where pushing work down to SQL pays, whether there is an SQL engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from sqlalchemy import Engine

from citygov.catalog.schema import ColumnType
from citygov.sources.blocks import TextBlock
from citygov.sources.connection import ConnectionInfo

BLOCK_ROWS = 65_536
"""Rows per block of :meth:`Source.read_blocks` (a few MB of text: bounded memory, few Python calls)."""

CHUNK_ROWS = 50_000
"""Rows per chunk read from a source: bounded memory whatever the resource's size."""

Rows = list[list[Any]]
"""A chunk of rows, each a list of values in the order of the header it was read with."""


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


class UnknownSourceKind(ValueError):
    """A connection whose type no source kind reads."""


class MissingColumns(ValueError):
    """Columns asked of a resource that it does not have."""


@runtime_checkable
class Source(Protocol):
    """One department source, open for reading. Use as a context manager: what the source holds open
    (an engine, a connection) is released on exit.

    Names of resources and columns come from the source or the catalog: a kind always quotes them as
    identifiers or resolves them inside its own root, never pastes them into a query or a path.
    """

    kind: ClassVar[str]
    """The kind's name as the census registers it: ``database``, ``folder``."""
    conn_types: ClassVar[frozenset[str]]
    """The Airflow connection types this kind reads."""
    numbered_rows: ClassVar[bool]
    """Whether a row's position (1 = the first data row) is something a person can look up in the
    source (a file's lines: yes; a table's rows have no order)."""
    conn: ConnectionInfo

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None:
        """Release what the source holds open."""

    def unreachable(self) -> str | None:
        """Why the source cannot be reached (a database that does not answer, a folder that is not
        there), or None when it can."""

    def resources(self, locations: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """``(location, kind)`` of every resource (``table``/``view``/``file``), sorted, limited to
        ``locations`` when given. Raises when the source itself cannot be reached."""

    def describe(
        self, location: str, kind: str, *, update_column: str | None = None, count_rows: bool = True, sample: int = 0
    ) -> Resource:
        """A resource's columns, row count (when ``count_rows``), last update (the maximum of
        ``update_column`` when it has one, else what the source knows) and, when ``sample`` > 0, that many
        first rows' non-empty values as text (raw data: mask before showing). A resource that cannot be
        read comes back with ``error`` set rather than raising."""

    def read(
        self, location: str, *, columns: list[str] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> tuple[list[str], Iterator[Rows]]:
        """The header (``columns``, or all of the resource's) and its rows in chunks of at most
        ``chunk_rows``, streamed. Values are as the source holds them: a database's typed values (None for
        NULL), a file's text (``""`` for an empty cell). A column the resource lacks raises
        :class:`MissingColumns` where the kind knows it up front (files), else the driver's error while
        reading (databases)."""

    def read_blocks(
        self, location: str, *, columns: list[str], block_rows: int = BLOCK_ROWS
    ) -> tuple[list[str], Iterator[TextBlock]]:
        """``columns`` of a resource as blocks of at most ``block_rows`` rows of text
        (:class:`citygov.sources.blocks.TextBlock`), streamed with the fastest reader the kind has, for
        the streaming quality engine. Same rows, in the same order, as :meth:`read`; a file's empty cell
        is NULL. A column the resource lacks raises :class:`MissingColumns` (or the driver's error)."""

    def sql_engine(self) -> Engine | None:
        """An SQLAlchemy engine on the source when it speaks SQL (checks and profiles are then pushed down
        to it), None otherwise. Owned by the source: do not dispose it."""

    def local_file(self, location: str) -> Path | None:
        """The resource as a file on this machine when it is one (refused with ValueError when
        ``location`` leads outside the source), None when the source holds no files."""


def describe_error(exc: BaseException) -> str:
    """An exception as one line for a report: its type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
