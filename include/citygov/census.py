"""Public data census (公共数据普查): find every resource in every source, reconcile with the catalog.

The census lists every table, view and file of every registered department source (and of every
source the catalog names), stores the snapshot for the logical date, and reconciles it:

- 应编未编: resources found that no catalog entry covers (``census.uncatalogued``); the pipeline's own
  tables (:mod:`citygov.system_objects`, e.g. the backflow store's ``backflow_loads``) are not resources
  and are left out of the snapshot, the findings and the coverage;
- 有目无数: catalog entries whose resource was not found (``census.resource_missing``);
- catalog coverage (目录覆盖率) = found resources that are catalogued / all found, per department and city.

For each uncatalogued resource it drafts a catalog row (inferred 信息项, suggested grade from the
identifiers it holds) for a steward to complete and import.

It is taken in three steps, which the DAG runs as separate tasks and ``govern census run``
(:func:`run_census`) in one process: :func:`plan_census` names the sources, :func:`inventory_source`
inventories one source and stores its inventory (:mod:`citygov.census_inventory`, one per source and
date), and :func:`reconcile_census` reads the date's inventories back and does the reconciliation.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select

from citygov.catalog.queries import load_entries
from citygov.catalog.schema import CATALOG_HEADERS, CatalogEntry, ColumnType, DeclaredColumn, format_columns
from citygov.census_inventory import (
    InventoriedResource,
    SourceInventory,
    clear_inventories,
    load_inventories,
    save_inventory,
)
from citygov.findings import FindingRecord, replace_findings
from citygov.identifiers import mask_text
from citygov.inventory import Inventory, inspect_source
from citygov.patrol import ConnectionResolver
from citygov.sources.base import describe_error
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow, CensusResource, CensusSnapshot, DepartmentSource
from citygov.system_objects import is_system_column, is_system_table

ORIGIN = "census"
log = logging.getLogger(__name__)
SAMPLE_ROWS = 200
UPDATE_COLUMN_RE = re.compile(r"^(gxsj|update_?time|updated_?at|last_?modified|modify_?time|sjc)$", re.IGNORECASE)


@dataclass(frozen=True)
class Coverage:
    """目录覆盖率 of one department (or the city)."""

    found: int
    catalogued: int

    @property
    def ratio(self) -> float | None:
        return round(self.catalogued / self.found, 4) if self.found else None

    def to_dict(self) -> dict[str, Any]:
        return {"found": self.found, "catalogued": self.catalogued, "coverage": self.ratio}


@dataclass
class CensusReport:
    """What one census found."""

    logical_date: date
    sources: list[str] = field(default_factory=list)
    resources: list[tuple[SourceInventory, InventoriedResource]] = field(default_factory=list)
    uncatalogued: list[InventoriedResource] = field(default_factory=list)
    missing: list[CatalogEntry] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Sources whose inventory raised (not counted this run), with what it raised."""
    coverage: dict[str, Coverage] = field(default_factory=dict)
    city: Coverage = Coverage(0, 0)
    findings: list[FindingRecord] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "logical_date": self.logical_date.isoformat(),
            "sources": len(self.sources),
            "resources_found": len(self.resources),
            "uncatalogued": [f"{r.conn_id}/{r.location}" for r in self.uncatalogued],
            "missing": [e.code for e in self.missing],
            "unreachable": self.unreachable,
            "failed": self.failed,
            "coverage": {"city": self.city.to_dict(), **{d: c.to_dict() for d, c in sorted(self.coverage.items())}},
            "findings": len(self.findings),
        }


def register_sources(engine: Engine, sources: Iterable[tuple[str, str, str]]) -> int:
    """Register (conn_id, department, kind) department sources; existing ones are updated."""
    now = datetime.now(UTC)
    count = 0
    with session_scope(engine) as session:
        for conn_id, department, kind in sources:
            row = session.get(DepartmentSource, conn_id)
            if row is None:
                session.add(DepartmentSource(conn_id=conn_id, department=department, kind=kind, registered_at=now))
            else:
                row.department, row.kind = department, kind
            count += 1
    return count


def census_sources(engine: Engine) -> dict[str, str | None]:
    """Every source the census visits: registered department sources and every source the catalog
    names, with the department when known."""
    return _with_departments(_registered(engine), load_entries(engine, published_only=False))


def _registered(engine: Engine, conn_id: str | None = None) -> dict[str, str | None]:
    """Registered department sources (only ``conn_id`` when given) and their departments."""
    query = select(DepartmentSource)
    if conn_id is not None:
        query = query.where(DepartmentSource.conn_id == conn_id)
    with session_scope(engine) as session:
        return {s.conn_id: s.department for s in session.scalars(query)}


def _with_departments(registered: dict[str, str | None], entries: list[CatalogEntry]) -> dict[str, str | None]:
    """The registered sources plus those the entries name; a source's department is the one it was
    registered with, else the provider of its first entry (by code)."""
    out = dict(registered)
    for entry in entries:
        out.setdefault(entry.conn_id, entry.provider)
    return dict(sorted(out.items()))


def _source_entries(engine: Engine, conn_id: str) -> list[CatalogEntry]:
    """The current catalog entries (any lifecycle) that name ``conn_id``: one source's task reads its
    own entries, not the whole catalog."""
    with session_scope(engine) as session:
        codes = list(session.scalars(select(CatalogEntryRow.code).where(
            CatalogEntryRow.conn_id == conn_id, CatalogEntryRow.withdrawn_at.is_(None)
        )))
    return load_entries(engine, codes=codes, published_only=False)


def plan_census(engine: Engine, logical_date: date) -> list[str]:
    """Start the census of ``logical_date``: the connection ids of every source to inventory (those of
    :func:`census_sources`, sorted). The date's stored inventories are dropped, so that a rerun reconciles
    only what it inventories itself, never a source's inventory left from an earlier run of the date."""
    sources = census_sources(engine)
    clear_inventories(engine, logical_date)
    return list(sources)


def inventory_source(engine: Engine, resolve: ConnectionResolver, conn_id: str, logical_date: date) -> SourceInventory:
    """Inventory one source as of ``logical_date`` and store it (replacing that source's for the date).

    Every table, view and file is listed with its columns, row count, last update (from the update-time
    column the catalog names for it) and the identifier kinds its first rows hold. A source that cannot
    be reached (undefined connection, a connection that cannot be read, a database that does not answer,
    a missing folder) is stored as unreachable with the reason instead of raising, so one source that is
    down does not stop the others. Anything else the inventory raises (a driver's or citygov's own error)
    is stored as the source's failed inventory, with what was raised, and raised again: the run shows the
    failure and the reconcile reports the source as failed (``census.inventory_failed``), not as counted.
    A failure of the governance store itself raises.
    """
    own = _source_entries(engine, conn_id)
    department = _with_departments(_registered(engine, conn_id), own).get(conn_id)
    try:
        conn = resolve(conn_id)
    except Exception as exc:  # a connection that cannot be read is as unreachable as a source that is down
        conn, failure = None, f"connection {conn_id!r} cannot be read: {describe_error(exc)}"
    else:
        failure = f"connection {conn_id!r} is not defined"
    if conn is None:
        inventory = Inventory(conn_id, department, "unknown", error=failure)
    else:
        department = department or conn.department
        try:
            inventory = inspect_source(
                conn,
                update_columns={e.location: e.update_time_column for e in own if e.update_time_column},
                sample=SAMPLE_ROWS,
            )
            inventory.department = department
            stored = SourceInventory.from_inventory(inventory, logical_date)
        except Exception as exc:
            # Only the error's type and first line, masked: a driver's message may quote a value of the data.
            save_inventory(engine, SourceInventory(
                logical_date, conn_id, department, "unknown",
                error=f"the inventory raised {mask_text(describe_error(exc))}", failed=True,
            ))
            raise
        save_inventory(engine, stored)
        return stored
    stored = SourceInventory.from_inventory(inventory, logical_date)
    save_inventory(engine, stored)
    return stored


def reconcile_census(engine: Engine, logical_date: date, conn_ids: Iterable[str] | None = None) -> CensusReport:
    """Reconcile the inventories stored for ``logical_date`` with the catalog; store the snapshot and the
    findings (replacing that date's).

    ``conn_ids`` are the sources the census set out to inventory (:func:`plan_census`); None means every
    source :func:`census_sources` names now. A source with no stored inventory for the date (its
    inventory task failed or was stopped before storing anything) is reported unreachable like a source
    that did not answer, so the census of the other sources is still complete.
    """
    sources = census_sources(engine)
    visited = sorted(sources if conn_ids is None else set(conn_ids))
    inventories = load_inventories(engine, logical_date, visited)
    entries = load_entries(engine, published_only=False)
    by_place = {(e.conn_id, e.location): e for e in entries}
    report = CensusReport(logical_date=logical_date, sources=visited)
    for conn_id in visited:
        department = sources.get(conn_id)
        own = [e for e in entries if e.conn_id == conn_id]
        inventory = inventories.get(conn_id) or SourceInventory(
            logical_date, conn_id, department, "unknown",
            error=f"no inventory was stored for {logical_date.isoformat()}: its inventory task did not finish "
                  "(see that task's log), rerun it",
        )
        if inventory.failed:
            report.failed[conn_id] = inventory.error or "the inventory failed"
            report.findings.append(
                FindingRecord(ORIGIN, "census.inventory_failed",
                              f"source {conn_id} ({department or '?'}) was not counted: {report.failed[conn_id]}",
                              logical_date, department=department, conn_id=conn_id,
                              evidence={"error": report.failed[conn_id]})
            )
            continue
        if inventory.error:
            report.unreachable[conn_id] = inventory.error
            report.findings.append(
                FindingRecord(ORIGIN, "census.source_unreachable",
                              f"source {conn_id} ({department or '?'}) cannot be reached: {inventory.error}",
                              logical_date, department=department, conn_id=conn_id,
                              evidence={"error": inventory.error})
            )
            continue
        found = {r.location for r in inventory.resources}
        for resource in inventory.resources:
            entry = by_place.get((conn_id, resource.location))
            if entry is None and is_system_table(resource.location):
                continue  # the pipeline's own bookkeeping (backflow markers, quarantine): not a resource
            report.resources.append((inventory, resource))
            dept = inventory.department or "未登记部门"
            if resource.error:
                report.findings.append(
                    FindingRecord(ORIGIN, "census.resource_unreadable",
                                  f"{conn_id}/{resource.location} cannot be read: {resource.error}",
                                  logical_date, entry_code=entry.code if entry else None, department=dept,
                                  conn_id=conn_id, location=resource.location, evidence={"error": resource.error})
                )
            if entry is None:
                report.uncatalogued.append(resource)
                report.findings.append(
                    FindingRecord(ORIGIN, "census.uncatalogued",
                                  f"应编未编: {resource.kind} {resource.location!r} in {conn_id} ({dept}) is not in the "
                                  "catalog; complete its draft row (govern census drafts) and import it",
                                  logical_date, department=dept, conn_id=conn_id, location=resource.location,
                                  evidence={"columns": len(resource.columns), "row_count": resource.row_count})
                )
        for entry in own:
            if entry.location not in found:
                report.missing.append(entry)
                report.findings.append(
                    FindingRecord(ORIGIN, "census.resource_missing",
                                  f"有目无数: {entry.code} {entry.name} names {entry.location!r} in {conn_id}, "
                                  "which does not exist", logical_date, entry_code=entry.code,
                                  department=entry.provider, conn_id=conn_id, location=entry.location)
                )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for inventory, resource in report.resources:
        dept = inventory.department or "未登记部门"
        counts[dept][0] += 1
        counts[dept][1] += (inventory.conn_id, resource.location) in by_place
    report.coverage = {d: Coverage(f, c) for d, (f, c) in counts.items()}
    report.city = Coverage(sum(c.found for c in report.coverage.values()),
                           sum(c.catalogued for c in report.coverage.values()))
    _store_snapshot(engine, report, by_place)
    replace_findings(engine, ORIGIN, logical_date, report.findings)
    return report


def run_census(engine: Engine, resolve: ConnectionResolver, logical_date: date) -> CensusReport:
    """Run the whole census as of ``logical_date`` in this process: plan, inventory each source in turn,
    reconcile. The DAG runs the same three steps as separate tasks (one per source for the inventories);
    this is ``govern census run``. A source whose inventory raises is stored as failed (with what it raised,
    :func:`inventory_source`) and the others are still taken; the report's ``failed`` names it."""
    conn_ids = plan_census(engine, logical_date)
    for conn_id in conn_ids:
        try:
            inventory_source(engine, resolve, conn_id, logical_date)
        except Exception:
            if conn_id not in load_inventories(engine, logical_date, [conn_id]):
                raise  # not stored as failed: the governance store itself failed
            log.exception("census %s: the inventory of %s failed", logical_date, conn_id)
    return reconcile_census(engine, logical_date, conn_ids)


def census_outcome(summary: dict[str, Any]) -> str | None:
    """Why a census run did not end cleanly (a source whose inventory failed: not counted), else None.
    A source that did not answer is a finding of the run, not a failure of it."""
    failed = summary.get("failed") or {}
    if not failed:
        return None
    return (f"census {summary['logical_date']}: {len(failed)} source(s) not counted because the inventory failed: "
            + "; ".join(f"{c}: {why}" for c, why in sorted(failed.items()))
            + ". See each source's inventory task log, fix the cause and rerun the census.")


def _store_snapshot(engine: Engine, report: CensusReport, by_place: dict[tuple[str, str], CatalogEntry]) -> None:
    with session_scope(engine) as session:
        session.execute(delete(CensusResource).where(
            CensusResource.snapshot_id.in_(select(CensusSnapshot.id).where(CensusSnapshot.logical_date == report.logical_date))
        ))
        session.execute(delete(CensusSnapshot).where(CensusSnapshot.logical_date == report.logical_date))
        snapshot = CensusSnapshot(logical_date=report.logical_date, taken_at=datetime.now(UTC), summary=report.summary())
        session.add(snapshot)
        session.flush()
        for inventory, resource in report.resources:
            entry = by_place.get((inventory.conn_id, resource.location))
            session.add(
                CensusResource(
                    snapshot_id=snapshot.id,
                    conn_id=inventory.conn_id,
                    department=inventory.department,
                    location=resource.location,
                    kind=resource.kind,
                    columns=[
                        {"name": c.name, "type": c.native_type, "letter": c.letter, "kind": c.kind}
                        for c in resource.columns
                    ],
                    row_count=resource.row_count,
                    last_updated=resource.last_updated,
                    entry_code=entry.code if entry else None,
                )
            )


def latest_census(engine: Engine, logical_date: date | None = None) -> dict[str, Any] | None:
    """The latest (or the given date's) census snapshot with its resources, as JSON-able data."""
    with session_scope(engine) as session:
        query = select(CensusSnapshot).order_by(CensusSnapshot.logical_date.desc()).limit(1)
        if logical_date:
            query = select(CensusSnapshot).where(CensusSnapshot.logical_date == logical_date)
        snapshot = session.scalars(query).first()
        if snapshot is None:
            return None
        resources = session.scalars(
            select(CensusResource).where(CensusResource.snapshot_id == snapshot.id)
            .order_by(CensusResource.conn_id, CensusResource.location)
        ).all()
        return {
            **snapshot.summary,
            "taken_at": snapshot.taken_at.isoformat(),
            "resources": [
                {"conn_id": r.conn_id, "department": r.department, "location": r.location, "kind": r.kind,
                 "columns": r.columns, "row_count": r.row_count,
                 "last_updated": r.last_updated.isoformat() if r.last_updated else None,
                 "entry_code": r.entry_code}
                for r in resources
            ],
        }


def census_up_to(engine: Engine, day: date) -> date | None:
    """The logical date of the latest census stored on or before ``day`` (the one a page as of ``day``
    shows, as the KPIs do), or None."""
    with session_scope(engine) as session:
        return session.scalar(select(func.max(CensusSnapshot.logical_date)).where(CensusSnapshot.logical_date <= day))


def suggest_grade(kinds: set[str]) -> str:
    """A sensitivity grade suggestion from the identifier kinds a resource holds."""
    if "ric" in kinds:
        return "L4"
    if "mobile" in kinds:
        return "L3"
    if "name" in kinds:
        return "L2"
    return "L1"


def draft_rows(engine: Engine, logical_date: date | None = None) -> list[dict[str, str]]:
    """Draft catalog rows (import format, Chinese headers) for the uncatalogued resources of a census."""
    census = latest_census(engine, logical_date)
    if census is None:
        return []
    rows = []
    for r in census["resources"]:
        if r["entry_code"]:
            continue
        columns = [DeclaredColumn(c["name"], ColumnType(c["letter"])) for c in r["columns"] if not is_system_column(c["name"])]
        kinds = {c["kind"] for c in r["columns"] if c["kind"]}
        update_col = next((c["name"] for c in r["columns"] if UPDATE_COLUMN_RE.match(c["name"])
                           and c["letter"] in ("D", "T")), "")
        grade = suggest_grade(kinds)
        row = dict.fromkeys(CATALOG_HEADERS, "")
        row.update({
            "信息资源名称": Path(r["location"]).stem,
            "信息资源提供方": r["department"] or "",
            "信息资源格式": "电子表格" if r["kind"] == "file" else "数据库",
            "信息项": format_columns(columns),
            "开放属性": "不予开放" if grade in ("L3", "L4") else "",
            "共享类型": "有条件共享" if grade in ("L3", "L4") else "",
            "数据连接": r["conn_id"],
            "资源位置": r["location"],
            "更新时间字段": update_col,
            "敏感级别": grade,
            "状态": "草稿",
            "信息资源摘要": f"普查发现：{r['row_count']} 行；检测到 {', '.join(sorted(kinds)) or '无'} 类标识",
        })
        rows.append(row)
    return rows


def drafts_csv(rows: list[dict[str, str]]) -> bytes:
    """Draft rows as a catalog CSV in UTF-8 with a BOM (opens cleanly in Excel; imports as is)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CATALOG_HEADERS)
    for row in rows:
        writer.writerow([row.get(h, "") for h in CATALOG_HEADERS])
    return buffer.getvalue().encode("utf-8-sig")


def write_drafts(rows: list[dict[str, str]], path: Path) -> None:
    """Write draft rows to ``path`` as :func:`drafts_csv` gives them (``govern census drafts``)."""
    Path(path).write_bytes(drafts_csv(rows))
