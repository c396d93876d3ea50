"""A profile of a dataset: the facts ``draft_suite`` suggests expectations from (the way Deequ does).

Whole-table counts (rows, NULL/blank counts, distinct counts, text lengths) come from one aggregate
query in the database, or one pass over a file; value samples for recognising identifiers and for
testing candidate rules are the first :data:`SAMPLE_ROWS` rows. Sample values are raw data: they live
in memory only and are never stored or printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.identifiers import detect_kind
from citygov.quality import rules, sqlcond
from citygov.quality.files import as_frames, iter_chunks
from citygov.sources import Source
from citygov.sources.database import ident, type_letter
from citygov.sources.values import infer_letter

SAMPLE_ROWS = 1000
"""Rows sampled for identifier detection and for testing candidate rules."""
MAX_ENUM = 50
"""A column with at most this many distinct values has them listed with their row counts: the
candidates of a value set (``DraftPolicy.value_set_max_distinct`` of them at most)."""


@dataclass
class ColumnProfile:
    """What a profile knows about one column."""

    name: str
    letter: str
    """Catalog type letter observed (C, N, D, T)."""
    nulls: int = 0
    """NULL (or, in files, empty) values."""
    blanks: int = 0
    """Values that are empty or only spaces (NULLs not included)."""
    distinct: int = 0
    """Distinct non-NULL values."""
    min_length: int | None = None
    max_length: int | None = None
    kind: str | None = None
    """Detected identifier kind: ric, uscc, mobile, name, or None."""
    numeric: bool = False
    """Every sampled non-empty value is a number."""
    min_number: float | None = None
    enum_values: list[str] | None = None
    """The distinct values when there are at most :data:`MAX_ENUM` of them."""
    enum_counts: dict[str, int] = field(default_factory=dict)
    """Rows holding each of ``enum_values`` (whole table): a value few rows hold is likely a defect."""
    sample: list[Any] = field(default_factory=list, repr=False)
    """Raw sampled values (in row order, NULLs kept): memory only."""


@dataclass
class DatasetProfile:
    """A dataset's profile."""

    rows: int
    columns: dict[str, ColumnProfile]
    sampled_rows: int


def _finish(profile: ColumnProfile) -> None:
    present = [v for v in profile.sample if v is not None and rules.text(v) != ""]
    profile.kind = detect_kind(present[:200]) if present else None
    if present:
        profile.letter = profile.letter or infer_letter([str(v) for v in present[:200]]).value
        numbers = []
        for v in present:
            try:
                numbers.append(float(v))
            except (TypeError, ValueError):
                break
        profile.numeric = len(numbers) == len(present) and profile.kind is None
        if profile.numeric:
            profile.min_number = min(numbers)


def profile_table(source: Engine, table: str, *, sample_rows: int = SAMPLE_ROWS) -> DatasetProfile:
    """Profile a database table: one aggregate query for the counts, one read of the first rows."""
    reflected = sa.inspect(source).get_columns(table)
    target = sa.table(ident(table), *[sa.column(ident(c["name"])) for c in reflected])
    dialect = source.dialect.name
    exprs: list[Any] = [sa.func.count()]
    for c in reflected:
        col = target.c[c["name"]]
        typed = sa.column(ident(c["name"]), c["type"])  # the reflected type says what is text (sqlcond.exact)
        text = sa.func.trim(sa.cast(col, sa.String))
        exprs += [
            sa.func.count() - sa.func.count(col),
            sa.func.coalesce(sa.func.sum(sa.case((sa.and_(col.is_not(None), text == ""), 1), else_=0)), 0),
            sa.func.count(sa.distinct(sqlcond.exact(typed, dialect) if dialect in sqlcond.MYSQL_DIALECTS else col)),
            sa.func.min(sqlcond.char_length(typed)),
            sa.func.max(sqlcond.char_length(typed)),
        ]
    with source.connect() as conn:
        row = conn.execute(sa.select(*exprs).select_from(target)).one()
        sample = conn.execute(sa.select(*target.c).limit(sample_rows)).all()
    columns: dict[str, ColumnProfile] = {}
    for i, c in enumerate(reflected):
        base = 1 + 5 * i
        profile = ColumnProfile(
            name=c["name"],
            letter=type_letter(c["type"]).value,
            nulls=int(row[base]),
            blanks=int(row[base + 1]),
            distinct=int(row[base + 2]),
            min_length=row[base + 3],
            max_length=row[base + 4],
            sample=[r[i] for r in sample],
        )
        columns[c["name"]] = profile
    _enums_sql(source, target, columns, {c["name"]: c["type"] for c in reflected})
    for profile in columns.values():
        _finish(profile)
    return DatasetProfile(rows=int(row[0]), columns=columns, sampled_rows=len(sample))


def _enums_sql(source: Engine, target: sa.TableClause, columns: dict[str, ColumnProfile], types: dict[str, Any]) -> None:
    """Each value's rows, for the columns of few values; on MySQL grouped by the exact text, as the rules
    compare it (its collations would merge ``'A'``, ``'a'`` and ``'a '`` under whichever came first)."""
    dialect = source.dialect.name
    with source.connect() as conn:
        for name, profile in columns.items():
            if 0 < profile.distinct <= MAX_ENUM:
                col = target.c[name]
                if dialect in sqlcond.MYSQL_DIALECTS:
                    col = sqlcond.exact(sa.column(ident(name), types[name]), dialect)
                counts = conn.execute(
                    sa.select(col, sa.func.count()).select_from(target).where(col.is_not(None)).group_by(col)
                ).all()
                profile.enum_counts = {str(v): int(n) for v, n in counts}
                profile.enum_values = sorted(profile.enum_counts)


def profile_source(source: Source, location: str, *, sample_rows: int = SAMPLE_ROWS) -> DatasetProfile:
    """Profile a resource of any source: in its database when it speaks SQL (:func:`profile_table`), else
    in one streamed pass over its rows in chunks."""
    engine = source.sql_engine()
    if engine is not None:
        return profile_table(engine, location, sample_rows=sample_rows)
    header, chunks = source.read(location)
    return profile_frames(header, as_frames(header, chunks), sample_rows=sample_rows)


def profile_file(path: Path, *, sample_rows: int = SAMPLE_ROWS) -> DatasetProfile:
    """Profile a CSV or XLSX file in one streamed pass (distinct values counted per column)."""
    header, chunks = iter_chunks(Path(path))
    return profile_frames(header, chunks, sample_rows=sample_rows)


def profile_frames(
    header: list[str], chunks: Iterator[pd.DataFrame], *, sample_rows: int = SAMPLE_ROWS
) -> DatasetProfile:
    """Profile rows given as DataFrame chunks (NULL for an empty value), distinct values counted per column."""
    columns = {h: ColumnProfile(name=h, letter="") for h in header}
    distinct: dict[str, Counter[str]] = {h: Counter() for h in header}
    rows = 0
    for frame in chunks:
        for h in header:
            series = frame[h]
            profile = columns[h]
            profile.nulls += int(series.isna().sum())
            present = series.dropna()
            profile.blanks += int((present.map(rules.text) == "").sum())
            lengths = present.map(lambda v: len(str(v)))
            if len(lengths):
                profile.min_length = min(profile.min_length or 10**9, int(lengths.min()))
                profile.max_length = max(profile.max_length or 0, int(lengths.max()))
            distinct[h].update(present.map(str).tolist())
            if len(profile.sample) < sample_rows:
                profile.sample.extend(series.tolist()[: sample_rows - len(profile.sample)])
        rows += len(frame)
    for h, profile in columns.items():
        profile.distinct = len(distinct[h])
        if 0 < profile.distinct <= MAX_ENUM:
            profile.enum_counts = dict(distinct[h])
            profile.enum_values = sorted(distinct[h])
        _finish(profile)
    return DatasetProfile(rows=rows, columns=columns, sampled_rows=min(rows, sample_rows))


def catalog_profile(columns: list[tuple[str, str]]) -> DatasetProfile:
    """An empty profile from declared ``(name, type letter)`` pairs, for a resource that cannot be read
    (``draft_suite`` then suggests from names and types only)."""
    return DatasetProfile(rows=0, columns={n: ColumnProfile(name=n, letter=t) for n, t in columns}, sampled_rows=0)
