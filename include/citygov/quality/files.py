"""Department files (CSV, XLSX) read for validation and profiling: a header and bounded chunks of text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from citygov.sources.base import CHUNK_ROWS, Rows
from citygov.sources.folder import read_file_chunks

__all__ = ["CHUNK_ROWS", "as_frames", "iter_chunks"]


def iter_chunks(path: Path, chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """A CSV or XLSX file as its header and DataFrames of at most ``chunk_rows`` rows of text; empty
    cells are NULL (a file has no other way to say it)."""
    header, chunks = read_file_chunks(path, chunk_rows, empty=None)
    return header, (pd.DataFrame(chunk, columns=header, dtype=object) for chunk in chunks)


def as_frames(header: list[str], chunks: Iterator[Rows]) -> Iterator[pd.DataFrame]:
    """A source's row chunks (:meth:`citygov.sources.Source.read`) as DataFrames of objects, empty text
    as NULL."""
    for chunk in chunks:
        rows: list[list[Any]] = [[v if (v is not None and str(v) != "") else None for v in row] for row in chunk]
        yield pd.DataFrame(rows, columns=header, dtype=object)
