"""Catalog patrol (数据目录巡检): check every published entry against its source, every night.

For each entry: metadata completeness and validity, the source is reachable and the resource exists,
schema drift between the declared 信息项 and the real columns, timeliness against 更新周期, volume
anomalies against the entry's own history, and whether its grade and openness fit what it holds.

Entries are patrolled in batches grouped by source (:func:`plan_batches`) so each source is inspected
once per batch; a source that is down fails only its own entries, as accessibility findings.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from citygov.catalog.policy import MetadataPolicy
from citygov.catalog.queries import load_entries
from citygov.catalog.schema import (
    CatalogEntry,
    ColumnType,
    OpenAttr,
    Sensitivity,
    ShareType,
    UpdateCycle,
)
from citygov.findings import FindingRecord, replace_findings
from citygov.identifiers import detect_kind, mask_value
from citygov.inventory import Inventory, Resource, inspect_source
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo
from citygov.sources.values import is_number, parse_date, parse_datetime
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow, PatrolObservation
from citygov.system_objects import is_system_column

ORIGIN = "patrol"
SAMPLE_ROWS = 200
"""Rows sampled per resource to check column contents (types stored as text, identifiers)."""
VOLUME_DROP_RATIO = 0.5
"""A row count below this share of the previous patrol's is a sudden drop."""

ALLOWANCE_DAYS: dict[UpdateCycle, int | None] = {
    UpdateCycle.REALTIME: 1,
    UpdateCycle.DAILY: 2,
    UpdateCycle.WEEKLY: 8,
    UpdateCycle.MONTHLY: 32,
    UpdateCycle.QUARTERLY: 93,
    UpdateCycle.HALF_YEARLY: 184,
    UpdateCycle.YEARLY: 366,
    UpdateCycle.IRREGULAR: None,
}
"""Days an entry may go without an update before it is stale: the cycle plus one day of slack for a
nightly load that lands after midnight. 不定时 entries are never stale."""

PERSONAL_KINDS = {"ric": "居民身份证号码", "mobile": "手机号码"}

ConnectionResolver = Callable[[str], ConnectionInfo | None]
"""Looks a connection id up (in Airflow, a file, a test dict); None when it is not defined."""


@dataclass
class PatrolReport:
    """What one patrol batch found."""

    logical_date: date
    entries: list[str] = field(default_factory=list)
    findings: list[FindingRecord] = field(default_factory=list)
    unreachable_sources: list[str] = field(default_factory=list)
    recommended_gaps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per entry code, the recommended catalog fields it leaves empty: shown, not findings (see
    :mod:`citygov.catalog.policy`)."""

    def summary(self) -> dict[str, Any]:
        by_rule: dict[str, int] = defaultdict(int)
        for f in self.findings:
            by_rule[f.rule_id] += 1
        by_field: dict[str, int] = defaultdict(int)
        for labels in self.recommended_gaps.values():
            for label in labels:
                by_field[label] += 1
        return {
            "logical_date": self.logical_date.isoformat(),
            "entries": len(self.entries),
            "findings": len(self.findings),
            "by_rule": dict(sorted(by_rule.items())),
            "unreachable_sources": self.unreachable_sources,
            "recommended_fields_empty": dict(sorted(by_field.items())),
        }


def plan_batches(engine: Engine, batch_size: int = 200) -> list[list[str]]:
    """Split the published catalog into batches of entry codes, keeping each source's entries together
    where the batch size allows, so a batch inspects few sources."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for entry in load_entries(engine):
        by_source[entry.conn_id].append(entry.code)
    batches: list[list[str]] = []
    current: list[str] = []
    for conn_id in sorted(by_source):
        for code in by_source[conn_id]:
            current.append(code)
            if len(current) >= batch_size:
                batches.append(current)
                current = []
    if current:
        batches.append(current)
    return batches


def patrol_batch(
    engine: Engine,
    codes: Iterable[str],
    resolve: ConnectionResolver,
    logical_date: date,
    policy: MetadataPolicy | None = None,
) -> PatrolReport:
    """Patrol the catalog entries ``codes`` as of ``logical_date`` and store the results.

    Findings replace this date's patrol findings for these entries; observations (row count, last
    update, content signature) are stored per entry and date as the history later patrols compare to.
    ``policy`` (default: this deployment's, :meth:`MetadataPolicy.from_env`) says which empty catalog
    fields are findings and which are only reported (``recommended_gaps``).
    """
    policy = policy or MetadataPolicy.from_env()
    codes = list(codes)
    entries = load_entries(engine, codes=codes)
    with session_scope(engine) as session:
        all_codes = set(session.scalars(select(CatalogEntryRow.code).where(CatalogEntryRow.withdrawn_at.is_(None))))
    previous = _previous_observations(engine, [e.code for e in entries], logical_date)
    report = PatrolReport(logical_date=logical_date, entries=[e.code for e in entries])
    observations: list[PatrolObservation] = []
    by_conn: dict[str, list[CatalogEntry]] = defaultdict(list)
    for entry in entries:
        report.findings.extend(check_metadata(entry, all_codes, logical_date, policy))
        recommended = policy.gaps(entry).recommended
        if recommended:
            report.recommended_gaps[entry.code] = recommended
        by_conn[entry.conn_id].append(entry)
    for conn_id, group in sorted(by_conn.items()):
        conn = resolve(conn_id)
        if conn is None:
            inventory = Inventory(conn_id, None, "unknown", error=f"connection {conn_id!r} is not defined")
        else:
            inventory = inspect_source(
                conn,
                locations=[e.location for e in group],
                update_columns={e.location: e.update_time_column for e in group if e.update_time_column},
                sample=SAMPLE_ROWS,
            )
        if inventory.error:
            report.unreachable_sources.append(conn_id)
        for entry in group:
            findings, observation = check_entry(entry, inventory, previous.get(entry.code), logical_date)
            report.findings.extend(findings)
            observations.append(observation)
    replace_findings(engine, ORIGIN, logical_date, report.findings, entry_codes=codes)
    _store_observations(engine, observations, logical_date)
    return report


def _finding(entry: CatalogEntry, rule_id: str, message: str, logical_date: date, **kw: Any) -> FindingRecord:
    return FindingRecord.for_entry(ORIGIN, entry, rule_id, message, logical_date, **kw)


def check_metadata(
    entry: CatalogEntry, known_codes: set[str], logical_date: date, policy: MetadataPolicy | None = None
) -> list[FindingRecord]:
    """Metadata completeness (the required fields of ``policy``, default this deployment's) and
    validity; needs no source. Empty recommended fields are no finding."""
    out: list[FindingRecord] = []
    missing = list((policy or MetadataPolicy.from_env()).gaps(entry).required)
    if missing:
        out.append(
            _finding(
                entry,
                "patrol.metadata.incomplete",
                f"published entry lacks the required {', '.join(missing)}; fill them in the catalog",
                logical_date,
                evidence={"missing": missing},
            )
        )
    problems: list[str] = []
    unknown = [c for c in entry.related_codes if c not in known_codes]
    if unknown:
        problems.append(f"关联资源代码 {', '.join(unknown)} not in the catalog")
    if entry.share_type is ShareType.NOT_SHARED and entry.open_attr is not OpenAttr.NOT_OPEN:
        problems.append(f"不予共享 but {entry.open_attr.value}: data that is not shared cannot be opened")
    if entry.publish_date and entry.publish_date > logical_date:
        problems.append(f"发布日期 {entry.publish_date.isoformat()} is in the future")
    if problems:
        out.append(
            _finding(entry, "patrol.metadata.invalid", "; ".join(problems), logical_date, evidence={"problems": problems})
        )
    if entry.sensitivity in (Sensitivity.L3, Sensitivity.L4) and (
        entry.open_attr is OpenAttr.UNCONDITIONAL or entry.share_type is ShareType.UNCONDITIONAL
    ):
        out.append(
            _finding(
                entry,
                "patrol.grading.inconsistent",
                f"graded {entry.sensitivity.value} but catalogued as "
                f"{entry.share_type.value}/{entry.open_attr.value}; L3/L4 data needs conditions",
                logical_date,
                evidence={"sensitivity": entry.sensitivity.value, "open_attr": entry.open_attr.value,
                          "share_type": entry.share_type.value},
            )
        )
    return out


def check_entry(
    entry: CatalogEntry,
    inventory: Inventory,
    previous: PatrolObservation | None,
    logical_date: date,
) -> tuple[list[FindingRecord], PatrolObservation]:
    """Source-side checks of one entry: existence, schema, volume, timeliness, grading."""
    now = datetime.now(UTC)
    observation = PatrolObservation(
        entry_code=entry.code, logical_date=logical_date, reachable=False, observed_at=now
    )
    if inventory.error:
        return [
            _finding(
                entry,
                "patrol.source.unreachable",
                f"source {entry.conn_id} cannot be reached ({inventory.error}); check the connection",
                logical_date,
                evidence={"error": inventory.error},
            )
        ], observation
    resource = inventory.find(entry.location)
    if resource is None:
        return [
            _finding(
                entry,
                "patrol.resource.missing",
                f"{entry.location!r} does not exist in {entry.conn_id}",
                logical_date,
            )
        ], observation
    if resource.error:
        return [
            _finding(
                entry,
                "patrol.resource.unreadable",
                f"{entry.location!r} in {entry.conn_id} cannot be read ({resource.error})",
                logical_date,
                evidence={"error": resource.error},
            )
        ], observation
    observation.reachable = True
    observation.row_count = resource.row_count
    observation.last_updated = resource.last_updated
    observation.content_signature = _signature(resource)
    findings = check_schema(entry, resource, logical_date)
    findings += check_volume(entry, resource, previous, logical_date)
    findings += check_timeliness(entry, resource, previous, observation, logical_date)
    findings += check_grading(entry, resource, logical_date)
    return findings, observation


def check_schema(entry: CatalogEntry, resource: Resource, logical_date: date) -> list[FindingRecord]:
    """Declared 信息项 vs actual columns: missing, unexpected (not the pipeline's own lineage column,
    :mod:`citygov.system_objects`), type changed."""
    out: list[FindingRecord] = []
    declared = {c.name for c in entry.columns}
    for col in entry.columns:
        observed = resource.column(col.name)
        if observed is None:
            out.append(
                _finding(entry, "patrol.schema.missing_column",
                         f"declared 信息项 {col.name!r} ({col.dtype.value}) is not in {entry.location!r}",
                         logical_date, column=col.name)
            )
        elif not type_fits(
            col.dtype, observed.letter, resource.samples.get(col.name, []), inferred=resource.kind == "file"
        ):
            out.append(
                _finding(entry, "patrol.schema.type_changed",
                         f"{col.name!r} is declared {col.dtype.value} but the source has {observed.native_type} "
                         f"({observed.letter.value})",
                         logical_date, column=col.name,
                         evidence={"declared": col.dtype.value, "actual": observed.native_type})
            )
    for observed in resource.columns:
        # The lineage column the backflow loader adds (_batch_id) is the pipeline's, not the department's.
        if observed.name not in declared and not is_system_column(observed.name):
            out.append(
                _finding(entry, "patrol.schema.unexpected_column",
                         f"{entry.location!r} has column {observed.name!r} ({observed.native_type}) that the "
                         "catalog does not declare", logical_date, column=observed.name)
            )
    return out


def type_fits(declared: ColumnType, actual: ColumnType, samples: list[str], *, inferred: bool = False) -> bool:
    """Whether a column's real type holds what the catalog declares.

    Text storage fits any declaration whose sampled values conform (SQLite and spreadsheets keep
    numbers and dates as text); a declared string column that became a number does not fit. In a
    file every column is text and its type only a guess, so a declared string fits anything there.
    """
    if declared == actual or (inferred and declared is ColumnType.STRING):
        return True
    if inferred:
        actual = ColumnType.STRING
    temporal = {ColumnType.DATE, ColumnType.DATETIME}
    if declared in temporal and actual in temporal:
        return True
    if actual is ColumnType.STRING:
        if declared is ColumnType.NUMBER:
            return all(is_number(v) for v in samples)
        if declared in temporal:
            return all(parse_date(v) or parse_datetime(v) for v in samples)
    return False


def check_volume(
    entry: CatalogEntry, resource: Resource, previous: PatrolObservation | None, logical_date: date
) -> list[FindingRecord]:
    """An empty resource, or a sudden drop against the last patrol."""
    if resource.row_count == 0:
        return [_finding(entry, "patrol.volume.empty", f"{entry.location!r} has no rows", logical_date,
                         evidence={"row_count": 0})]
    if (
        previous is not None
        and previous.row_count
        and resource.row_count is not None
        and resource.row_count < previous.row_count * VOLUME_DROP_RATIO
    ):
        return [
            _finding(entry, "patrol.volume.drop",
                     f"rows fell from {previous.row_count} ({previous.logical_date.isoformat()}) to "
                     f"{resource.row_count}", logical_date,
                     evidence={"previous": previous.row_count, "current": resource.row_count,
                               "previous_date": previous.logical_date.isoformat()})
        ]
    return []


def check_timeliness(
    entry: CatalogEntry,
    resource: Resource,
    previous: PatrolObservation | None,
    observation: PatrolObservation,
    logical_date: date,
) -> list[FindingRecord]:
    """Updated within 更新周期: from the update-time column, else from content change between patrols."""
    allowance = ALLOWANCE_DAYS[entry.update_cycle]
    if entry.update_time_column and resource.last_updated is not None:
        last = resource.last_updated.astimezone(CITY_TZ).date()
        observation.changed_since = last
        source = f"latest {entry.update_time_column}"
    else:
        unchanged = previous is not None and previous.content_signature == observation.content_signature
        since = previous.changed_since if unchanged and previous and previous.changed_since else logical_date
        observation.changed_since = since
        last = since
        source = "content unchanged since"
    if allowance is None:
        return []
    age = (logical_date - last).days
    if age <= allowance:
        return []
    return [
        _finding(entry, "patrol.timeliness.stale",
                 f"{source} {last.isoformat()} is {age} days old; 更新周期 {entry.update_cycle.value} allows {allowance}",
                 logical_date, evidence={"last_update": last.isoformat(), "age_days": age, "allowed_days": allowance})
    ]


def check_grading(entry: CatalogEntry, resource: Resource, logical_date: date) -> list[FindingRecord]:
    """Personal identifiers must not sit in an L1 resource nor in one catalogued 无条件开放."""
    out: list[FindingRecord] = []
    for name, values in resource.samples.items():
        observed = resource.column(name)
        if observed is None or observed.letter is not ColumnType.STRING:
            continue  # identifiers are text; numbers and dates cannot hold them
        kind = detect_kind(values)
        if kind not in PERSONAL_KINDS:
            continue
        problems = []
        if entry.sensitivity is Sensitivity.L1:
            problems.append("graded L1 (不敏感)")
        if entry.open_attr is OpenAttr.UNCONDITIONAL:
            problems.append("catalogued 无条件开放")
        if problems:
            out.append(
                _finding(entry, "patrol.grading.inconsistent",
                         f"column {name!r} holds {PERSONAL_KINDS[kind]} but the entry is {' and '.join(problems)}",
                         logical_date, column=name,
                         evidence={"kind": kind, "sample": mask_value(values[0], kind),
                                   "sensitivity": entry.sensitivity.value, "open_attr": entry.open_attr.value})
            )
    return out


def _signature(resource: Resource) -> str:
    text = f"{resource.row_count}|" + ",".join(f"{c.name}:{c.native_type}" for c in resource.columns)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _previous_observations(engine: Engine, codes: list[str], logical_date: date) -> dict[str, PatrolObservation]:
    """Each entry's latest observation before ``logical_date`` (reruns compare to the past, not themselves)."""
    out: dict[str, PatrolObservation] = {}
    with session_scope(engine) as session:
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            query = (
                select(PatrolObservation)
                .where(PatrolObservation.entry_code.in_(chunk), PatrolObservation.logical_date < logical_date,
                       PatrolObservation.reachable.is_(True))
                .order_by(PatrolObservation.entry_code, PatrolObservation.logical_date)
            )
            for obs in session.scalars(query):
                out[obs.entry_code] = obs  # ordered by date: the last one wins
    return out


def _store_observations(engine: Engine, observations: list[PatrolObservation], logical_date: date) -> None:
    codes = [o.entry_code for o in observations]
    with session_scope(engine) as session:
        for start in range(0, len(codes), 500):
            session.execute(
                delete(PatrolObservation).where(
                    PatrolObservation.logical_date == logical_date,
                    PatrolObservation.entry_code.in_(codes[start : start + 500]),
                )
            )
        session.add_all(observations)
