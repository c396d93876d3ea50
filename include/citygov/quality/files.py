"""Department files (CSV, XLSX) read for validation and profiling: a header and bounded chunks of text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from citygov.inventory import read_table_file

CHUNK_ROWS = 50_000
"""Rows per chunk: bounded memory whatever the file's size."""


def iter_chunks(path: Path, chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """A CSV or XLSX file as its header and DataFrames of at most ``chunk_rows`` rows of text; empty
    cells are NULL (a file has no other way to say it)."""
    header, rows = read_table_file(path)
    width = len(header)

    def chunks() -> Iterator[pd.DataFrame]:
        buffer: list[list[Any]] = []
        for values in rows:
            values = (list(values) + [""] * width)[:width]
            buffer.append([v if (v is not None and str(v) != "") else None for v in values])
            if len(buffer) >= chunk_rows:
                yield pd.DataFrame(buffer, columns=header, dtype=object)
                buffer = []
        if buffer:
            yield pd.DataFrame(buffer, columns=header, dtype=object)

    return header, chunks()
