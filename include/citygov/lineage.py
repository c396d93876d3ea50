"""OpenLineage datasets and facets of the pipeline's tasks, built from the store (Airflow-free).

Each task of the pipeline says what it read and wrote as a :class:`TaskLineage`: input and output datasets
named by their **real namespace** in the OpenLineage naming convention (a department database
``postgres://host:5432`` + ``db.schema.table``, ``mysql://host:3306`` + ``db.table``, a SQLite file
``sqlite://<path>`` + table; a folder's file ``file`` + its absolute path; the provincial API by its base URL
+ ``batches/<id>``; the governance store by its own URL + table), with the facets OpenLineage defines, as
plain dicts here (``citygov_airflow.lineage`` turns them into the client's classes for Airflow's OpenLineage
provider):

- ``schema``: the catalog entry's 信息项 (name, type from the type letter);
- ``outputStatistics`` (output facet): rows written;
- ``dataQualityAssertions`` (input facet): each expectation of the day's validation, its column and whether it
  passed, with the failing count; names and numbers only, never a value of the data (masked again with
  :func:`citygov.identifiers.scrub` to be sure);
- ``citygov_backflowBatch``: the backflow batch ids (and their reconciliation) a target table was fed by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from citygov.catalog.queries import load_entries
from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.identifiers import scrub
from citygov.sources import ConnectionInfo
from citygov.store import session_scope
from citygov.store.models import CheckResult, QualityRun

Resolver = Callable[[str], ConnectionInfo | None]

TYPE_NAMES = {ColumnType.STRING: "STRING", ColumnType.NUMBER: "DECIMAL", ColumnType.DATE: "DATE",
              ColumnType.DATETIME: "TIMESTAMP", ColumnType.BINARY: "BINARY"}
"""OpenLineage schema field type of each 信息项 type letter."""
BATCH_FACET = "citygov_backflowBatch"
"""The custom dataset facet carrying the backflow batches a table was fed by."""


@dataclass
class LineageDataset:
    """One OpenLineage dataset with its facets (plain dicts, keys as the OpenLineage spec names them)."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    input_facets: dict[str, Any] = field(default_factory=dict)
    output_facets: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


@dataclass
class TaskLineage:
    """What one task run read and wrote."""

    inputs: list[LineageDataset] = field(default_factory=list)
    outputs: list[LineageDataset] = field(default_factory=list)
    run_facets: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


# --- naming -----------------------------------------------------------------------------------------------


def url_namespace(url: Any) -> tuple[str, str]:
    """``(namespace, name prefix)`` of a database URL: ``postgres://host:port`` and ``db.schema.``,
    ``mysql://host:port`` and ``db.``, ``sqlite://<absolute path>`` and ``""``."""
    url = make_url(str(url)) if not hasattr(url, "get_backend_name") else url
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ":memory:"
        return f"sqlite://{Path(path).resolve() if path != ':memory:' else path}", ""
    if backend in ("mysql", "mariadb"):
        return f"mysql://{url.host or 'localhost'}:{url.port or 3306}", f"{url.database}."
    scheme = "postgres" if backend == "postgresql" else backend
    return f"{scheme}://{url.host or 'localhost'}:{url.port or 5432}", f"{url.database}."


def source_dataset(conn: ConnectionInfo | None, location: str, *, conn_id: str) -> LineageDataset:
    """The dataset of a resource at ``location`` in the source ``conn`` (``citygov://<conn_id>`` when the
    connection is not known: the name still says which)."""
    if conn is None:
        return LineageDataset(f"citygov://{conn_id}", location)
    if conn.is_folder:
        try:
            return LineageDataset("file", str(conn.file(location)))
        except ValueError:
            return LineageDataset("file", f"{conn.folder()}/{location}")
    namespace, prefix = url_namespace(conn.sqlalchemy_url())
    # PostgreSQL names are database.schema.table: a bare table name is in the search path's public.
    schema = "public." if namespace.startswith("postgres") and "." not in location else ""
    return LineageDataset(namespace, f"{prefix}{schema}{location}")


def store_dataset(store: Engine, table: str) -> LineageDataset:
    """A table of the governance store."""
    namespace, prefix = url_namespace(store.url)
    return LineageDataset(namespace, f"{prefix}{'public.' if namespace.startswith('postgres') else ''}{table}")


def schema_facet(entry: CatalogEntry) -> dict[str, Any]:
    """The ``schema`` facet of a catalog entry: its 信息项 in order."""
    return {"fields": [{"name": c.name, "type": TYPE_NAMES.get(c.dtype, str(c.dtype))} for c in entry.columns]}


def entry_dataset(entry: CatalogEntry, resolve: Resolver) -> LineageDataset:
    """The dataset of a catalog entry's resource, with its schema."""
    ds = source_dataset(resolve(entry.conn_id), entry.location, conn_id=entry.conn_id)
    ds.facets["schema"] = schema_facet(entry)
    ds.facets["documentation"] = {"description": f"{entry.code} {entry.name} ({entry.provider})"}
    return ds


# --- tasks ------------------------------------------------------------------------------------------------


def inspection_lineage(store: Engine, resolve: Resolver, codes: Iterable[str], day: date) -> TaskLineage:
    """A quality inspection of ``codes`` on ``day``: each source table read (schema, and the validation's
    assertions), the store's quality runs and check results written."""
    codes = list(codes)
    entries = {e.code: e for e in load_entries(store, codes=codes)} if codes else {}
    with session_scope(store) as session:
        runs = {r.entry_code: r for r in session.scalars(
            select(QualityRun).where(QualityRun.entry_code.in_(codes), QualityRun.logical_date == day))}
        checks: dict[int, list[CheckResult]] = {}
        for c in session.scalars(select(CheckResult).where(CheckResult.run_id.in_([r.id for r in runs.values()]))
                                 .order_by(CheckResult.run_id, CheckResult.position, CheckResult.id)):
            checks.setdefault(c.run_id, []).append(c)
    lineage = TaskLineage()
    for code in codes:
        entry = entries.get(code)
        if entry is None:
            continue
        ds = entry_dataset(entry, resolve)
        run = runs.get(code)
        if run is not None and checks.get(run.id):
            ds.input_facets["dataQualityAssertions"] = {"assertions": [assertion(c) for c in checks[run.id]]}
        if run is not None and run.rows_evaluated is not None:
            ds.input_facets["inputStatistics"] = {"rowCount": int(run.rows_evaluated)}
        lineage.inputs.append(ds)
    results = store_dataset(store, "quality_runs")
    results.output_facets["outputStatistics"] = {"rowCount": len(runs)}
    lineage.outputs += [results, store_dataset(store, "check_results")]
    return lineage


def assertion(check: CheckResult) -> dict[str, Any]:
    """One stored expectation result as an OpenLineage assertion: names and counts only, masked."""
    out: dict[str, Any] = {"assertion": check.expectation, "success": bool(check.success),
                           "name": f"{check.expectation}{':' + check.column if check.column else ''}",
                           "severity": "warn", "params": {"dimension": check.dimension}}
    if check.column:
        out["column"] = check.column
    if check.unexpected_count is not None:
        out["actual"] = str(check.unexpected_count)
        out["expected"] = "0"
    if check.evaluated_count is not None:
        out["params"]["evaluated"] = int(check.evaluated_count)
    return scrub(out)


def census_lineage(store: Engine, resolve: Resolver, conn_ids: Iterable[str]) -> TaskLineage:
    """A census of ``conn_ids``: each source read as a whole (its namespace), the census tables written."""
    lineage = TaskLineage()
    for conn_id in conn_ids:
        conn = resolve(conn_id)
        if conn is None:
            lineage.inputs.append(LineageDataset(f"citygov://{conn_id}", "*"))
        elif conn.is_folder:
            lineage.inputs.append(LineageDataset("file", str(conn.folder())))
        else:
            namespace, prefix = url_namespace(conn.sqlalchemy_url())
            lineage.inputs.append(LineageDataset(namespace, f"{prefix}*" if prefix else "*"))
    lineage.outputs.append(store_dataset(store, "census_inventories"))
    return lineage


def entries_lineage(store: Engine, resolve: Resolver, codes: Iterable[str], table: str) -> TaskLineage:
    """A check that reads catalog entries' resources (the patrol) and writes ``table`` of the store."""
    codes = list(codes)
    lineage = TaskLineage(inputs=[entry_dataset(e, resolve) for e in load_entries(store, codes=codes)] if codes else [])
    lineage.outputs.append(store_dataset(store, table))
    return lineage


def province_dataset(base_url: str, batch_id: str) -> LineageDataset:
    """A batch as the provincial API serves it."""
    return LineageDataset(base_url.rstrip("/"), f"batches/{batch_id}")


def landing_dataset(folder: Path, batch_id: str) -> LineageDataset:
    """A batch as landed: its folder in the landing zone."""
    return LineageDataset("file", str(Path(folder).resolve() / batch_id))


def pull_lineage(base_url: str, landing: Path, pulled: Iterable[Any]) -> TaskLineage:
    """The pull from the provincial API: each batch offered (``PullResult``s) → its landing folder."""
    lineage = TaskLineage()
    for r in pulled:
        lineage.inputs.append(province_dataset(base_url, r.batch_id))
        if getattr(r, "status", "") in ("pulled", "already_landed"):
            out = landing_dataset(landing, r.batch_id)
            out.output_facets["outputStatistics"] = {"rowCount": r.declared_rows, "size": r.data_bytes or None}
            out.facets[BATCH_FACET] = {"batchId": r.batch_id, "sha256": r.sha256}
            lineage.outputs.append(out)
    return lineage


def ingest_lineage(store: Engine, target: ConnectionInfo | Any, landing: Path, results: Iterable[Any]) -> TaskLineage:
    """The backflow ingestion: each batch's landing folder (``BatchResult``s) → the target tables with the
    rows loaded and the batch ids; the quarantine table with the rows refused."""
    results = list(results)
    codes = sorted({r.resource_code for r in results if r.resource_code})
    entries = {e.code: e for e in load_entries(store, codes=codes)} if codes else {}
    url = target.sqlalchemy_url() if isinstance(target, ConnectionInfo) else target
    namespace, prefix = url_namespace(url)
    schema = "public." if namespace.startswith("postgres") else ""
    lineage = TaskLineage()
    tables: dict[str, LineageDataset] = {}
    quarantined = 0
    for r in results:
        lineage.inputs.append(landing_dataset(landing, r.batch_id))
        if r.status != "loaded" or not r.resource_code or r.resource_code not in entries:
            continue
        from citygov.backflow.target import target_table_name

        entry = entries[r.resource_code]
        table = r.target_table or target_table_name(entry)
        ds = tables.get(table)
        if ds is None:
            ds = tables[table] = LineageDataset(namespace, f"{prefix}{schema}{table}")
            ds.facets["schema"] = schema_facet(entry)
            ds.facets[BATCH_FACET] = {"batches": []}
            ds.output_facets["outputStatistics"] = {"rowCount": 0}
        ds.output_facets["outputStatistics"]["rowCount"] += int(r.loaded_rows)
        ds.facets[BATCH_FACET]["batches"].append({"batchId": r.batch_id, "mode": r.mode, "loadedRows": int(r.loaded_rows),
                                                  "quarantinedRows": int(r.quarantined_rows)})
        quarantined += int(r.quarantined_rows)
    lineage.outputs += list(tables.values())
    if quarantined:
        q = LineageDataset(namespace, f"{prefix}{schema}backflow_quarantine")
        q.output_facets["outputStatistics"] = {"rowCount": quarantined}
        lineage.outputs.append(q)
    lineage.outputs.append(store_dataset(store, "backflow_batches"))
    return lineage


def store_step_lineage(store: Engine, reads: Iterable[str], writes: Iterable[str]) -> TaskLineage:
    """A step within the governance store (routing, scoring, the catalog import's tables)."""
    return TaskLineage(inputs=[store_dataset(store, t) for t in reads], outputs=[store_dataset(store, t) for t in writes])


def share_trace_lineage(store: Engine, log: ConnectionInfo, table: str, imported: int) -> TaskLineage:
    """The share trace import: the exchange platform's log read, ``share_traces`` written."""
    out = store_dataset(store, "share_traces")
    out.output_facets["outputStatistics"] = {"rowCount": imported}
    return TaskLineage(inputs=[source_dataset(log, table, conn_id=log.conn_id)], outputs=[out])


def catalog_lineage(store: Engine, path: Path, accepted: int) -> TaskLineage:
    """The catalog import: the office's export file read, the store's catalog written."""
    out = store_dataset(store, "catalog_entries")
    out.output_facets["outputStatistics"] = {"rowCount": accepted}
    return TaskLineage(inputs=[LineageDataset("file", str(Path(path).resolve()))], outputs=[out])
