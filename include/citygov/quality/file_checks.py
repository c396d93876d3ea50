"""Validating a resource that has no SQL (a CSV/XLSX file, any source kind without an engine): the suite's
checks by the streaming engine (:mod:`citygov.quality.stream`) over the blocks the source reads, with
GX's results.

Files go through the same compiled forms as database tables (a CSV's bytes split by a compiled kernel,
each rule's fast accept, the rule itself for what it leaves), uniqueness by hashing, references by
counting the distinct values and looking them up in the base table. Types no rule compiles are reported
as not evaluated (an error in their result) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from citygov.quality.checks import (
    BaseLookup,
    ValidationError,
    compile_check,
    native_types,
    present_keys,
    substitute,
)
from citygov.quality.results import build_result, suite_result
from citygov.quality.stream import ReadBlocks, stream_checks
from citygov.sources.base import BLOCK_ROWS, Source, describe_error
from citygov.sources.connection import ConnectionInfo
from citygov.sources.folder import FolderSource


def validate_file(
    path: Path,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    chunk_rows: int = BLOCK_ROWS,
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate a CSV/XLSX file with ``suite``, read in blocks of ``chunk_rows`` rows; returns (result, rows).

    Memory is bounded by the blocks plus, for uniqueness checks, 8 bytes a row up to a budget (then
    spilled to disk) and, for referential checks, the distinct values of their column. ``key_columns``
    as in :func:`citygov.quality.tables.validate_table`.
    """
    path = Path(path)
    folder = FolderSource(ConnectionInfo(conn_id=path.name, conn_type="fs", extra={"path": str(path.parent)}))
    return validate_resource(folder, path.name, suite, parameters=parameters, base_lookup=base_lookup, meta=meta,
                             key_columns=key_columns, block_rows=chunk_rows)


def validate_resource(
    source: Source,
    location: str,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
    block_rows: int = BLOCK_ROWS,
) -> tuple[Any, int]:
    """Validate a resource of a source without SQL (a folder's file, any other kind) through
    :meth:`Source.read_blocks`. Raises :class:`ValidationError` when it cannot be read."""
    where = f"file {location}" if source.kind == "folder" else f"{source.kind} resource {location}"
    try:
        header, rows = source.read(location, chunk_rows=1)  # the header; no row is read
        getattr(rows, "close", lambda: None)()
    except Exception as exc:
        raise ValidationError(f"{where} cannot be read: {describe_error(exc)}") from exc
    return validate_blocks(
        header, lambda names: source.read_blocks(location, columns=names, block_rows=block_rows)[1], suite,
        where=where, parameters=parameters, base_lookup=base_lookup, key_columns=key_columns,
        info={"engine": "stream", "location": location, "block_rows": block_rows, **(meta or {})},
    )


def validate_blocks(
    header: Sequence[str],
    read: ReadBlocks,
    suite: Any,
    *,
    where: str,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    key_columns: Sequence[str] = (),
    info: dict[str, Any] | None = None,
) -> tuple[Any, int]:
    """The suite's checks over the blocks ``read`` gives of a resource with columns ``header``."""
    parameters = dict(parameters or {})
    checks = [compile_check(substitute(e, parameters)) for e in suite.expectations]
    for check in checks:
        missing = [c for c in check.columns if c and c not in header]
        if missing:
            check.error = f"column {', '.join(missing)} is not in {where}"
        elif check.kind == "gx":
            check.error = f"{check.type} is not supported on files (supported: {', '.join(native_types())})"
    live = [c for c in checks if c.error is None]
    keys = present_keys(key_columns, header)
    try:
        row_count = stream_checks(live, read, keys, base_lookup=base_lookup)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(f"{where} cannot be read: {describe_error(exc)}") from exc
    results = [build_result(c, row_count, keys) for c in checks]
    return suite_result(suite, results, dict(info or {}), parameters), row_count

