"""Department sources as the core sees them: connection records, and the :class:`Source` protocol through
which census, patrol, quality, drafting and the record locator read them.

- :mod:`citygov.sources.connection`: :class:`ConnectionInfo`, the parts of an Airflow connection, and
  reading connections files and ``AIRFLOW_CONN_*`` variables.
- :mod:`citygov.sources.base`: the :class:`Source` protocol and what it answers (:class:`Resource`,
  :class:`ObservedColumn`).
- one module per kind: :mod:`~citygov.sources.database` (SQLAlchemy), :mod:`~citygov.sources.folder`
  (CSV/XLSX files); :mod:`citygov.sources.registry` maps a connection type to its kind
  (:func:`open_source`).
"""

from citygov.sources.base import (
    CHUNK_ROWS,
    MissingColumns,
    ObservedColumn,
    Resource,
    Source,
    UnknownSourceKind,
)
from citygov.sources.connection import (
    SOURCE_EXTRA_KEY,
    ConnectionInfo,
    connection_from_airflow,
    connection_from_env,
    connections_from_data,
    connections_from_file,
)
from citygov.sources.registry import KINDS, open_source, source_class, source_kind

__all__ = [
    "CHUNK_ROWS",
    "KINDS",
    "SOURCE_EXTRA_KEY",
    "ConnectionInfo",
    "MissingColumns",
    "ObservedColumn",
    "Resource",
    "Source",
    "UnknownSourceKind",
    "connection_from_airflow",
    "connection_from_env",
    "connections_from_data",
    "connections_from_file",
    "open_source",
    "source_class",
    "source_kind",
]
