"""Validating a resource that has no SQL (a CSV/XLSX file, any source kind without an engine): the suite's
checks by the streaming engine (:mod:`citygov.quality.stream`) over the blocks the source reads, with
GX's results.

Files go through the same compiled forms as database tables (a CSV's bytes split by a compiled kernel,
each rule's fast accept, the rule itself for what it leaves), uniqueness by hashing, references by
counting the distinct values and looking them up in the base table. Types no rule compiles are reported
as not evaluated (an error in their result) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from citygov.sources.base import BLOCK_ROWS, MissingColumns, Source, describe_error
from citygov.sources.blocks import TextBlock, pack_rows
from citygov.sources.folder import read_file_chunks, read_table_file


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
    where = f"file {path.name}"
    try:
        header = file_header(path)
    except Exception as exc:
        raise ValidationError(f"{where} cannot be read: {describe_error(exc)}") from exc
    return validate_blocks(
        header, lambda names: file_blocks(path, names, chunk_rows), suite, where=where, parameters=parameters,
        base_lookup=base_lookup, key_columns=key_columns,
        info={"engine": "stream", "file": path.name, "block_rows": chunk_rows, **(meta or {})},
    )


def validate_resource(
    source: Source,
    location: str,
    header: Sequence[str],
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate a resource of any source kind through :meth:`Source.read_blocks` (``header``: its
    columns, as the source describes them)."""
    return validate_blocks(
        header, lambda names: source.read_blocks(location, columns=names)[1], suite,
        where=f"{source.kind} resource {location}", parameters=parameters, base_lookup=base_lookup,
        key_columns=key_columns, info={"engine": "stream", "location": location, **(meta or {})},
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


def file_header(path: Path) -> list[str]:
    header, rows = read_table_file(path)
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    return header


def file_blocks(path: Path, names: list[str], block_rows: int) -> Iterator[TextBlock]:
    header, chunks = read_file_chunks(path, block_rows, empty=None)
    missing = [n for n in names if n not in header]
    if missing:
        raise MissingColumns(f"column {', '.join(missing)} is not in file {path.name}")
    at = [header.index(n) for n in names]
    for chunk in chunks:
        yield pack_rows(names, [[row[j] for j in at] for row in chunk], empty_is_null=True)
