"""Which kind of source reads a connection: the registry from connection type to :class:`Source` kind.

Adding a kind (an HTTP API, an object store) is one module implementing :class:`~citygov.sources.base.Source`
plus its line in :data:`KINDS`.
"""

from __future__ import annotations

from citygov.sources.base import Source, UnknownSourceKind
from citygov.sources.connection import ConnectionInfo
from citygov.sources.database import DatabaseSource
from citygov.sources.folder import FolderSource

KINDS: tuple[type[Source], ...] = (DatabaseSource, FolderSource)
"""Every source kind; a connection type belongs to one kind only."""

_BY_TYPE: dict[str, type[Source]] = {t: kind for kind in KINDS for t in kind.conn_types}


def source_class(conn: ConnectionInfo) -> type[Source]:
    """The kind that reads ``conn``; :class:`UnknownSourceKind` (a ValueError) names the types there are."""
    kind = _BY_TYPE.get(conn.conn_type)
    if kind is None:
        known = "; ".join(f"{k.kind}: {', '.join(sorted(k.conn_types))}" for k in KINDS)
        raise UnknownSourceKind(
            f"connection {conn.conn_id!r} has type {conn.conn_type!r}, which no source kind reads ({known}); "
            "set its conn_type to one of these"
        )
    return kind


def source_kind(conn: ConnectionInfo) -> str:
    """The name of the kind that reads ``conn`` (``database``, ``folder``), as the census registers it."""
    return source_class(conn).kind


def open_source(conn: ConnectionInfo) -> Source:
    """``conn`` as a :class:`Source` of its kind (nothing is connected until it is asked for something).
    Use it as a context manager so that engines and connections are released."""
    return source_class(conn)(conn)
