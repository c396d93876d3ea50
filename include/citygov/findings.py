"""Findings: the typed record every check produces, the rule book, and how findings are stored.

A finding belongs to a logical date. Storing the findings of a run *replaces* what the same origin
stored for the same date and scope, so rerunning or backfilling a date never duplicates results.
Every stored finding carries a fingerprint (origin, rule, entry or resource, column, record key) that
the dispute queue uses to recognise a recurring problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, select

from citygov.store import session_scope
from citygov.store.models import Finding

if TYPE_CHECKING:
    from citygov.catalog.schema import CatalogEntry


class Dimension(StrEnum):
    """GB/T 36344-2018 data quality dimensions."""

    CONFORMITY = "规范性"
    COMPLETENESS = "完整性"
    ACCURACY = "准确性"
    CONSISTENCY = "一致性"
    TIMELINESS = "时效性"
    ACCESSIBILITY = "可访问性"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Rule:
    """A check's identity: what it looks for and how it is classified."""

    rule_id: str
    dimension: Dimension
    severity: Severity
    title: str
    """Short Chinese title with English, shown to people."""


RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in (
        Rule("census.uncatalogued", Dimension.COMPLETENESS, Severity.HIGH, "应编未编 resource not in the catalog"),
        Rule("census.resource_missing", Dimension.ACCESSIBILITY, Severity.HIGH, "有目无数 catalogued resource not found"),
        Rule("census.source_unreachable", Dimension.ACCESSIBILITY, Severity.HIGH, "数据源不可达 source unreachable"),
        Rule("census.resource_unreadable", Dimension.ACCESSIBILITY, Severity.MEDIUM, "资源不可读 resource unreadable"),
        Rule("patrol.metadata.incomplete", Dimension.COMPLETENESS, Severity.LOW, "元数据不完整 metadata incomplete"),
        Rule("patrol.metadata.invalid", Dimension.CONFORMITY, Severity.MEDIUM, "元数据不规范 metadata invalid"),
        Rule("patrol.source.unreachable", Dimension.ACCESSIBILITY, Severity.HIGH, "数据源不可达 source unreachable"),
        Rule("patrol.resource.missing", Dimension.ACCESSIBILITY, Severity.HIGH, "资源不存在 resource missing"),
        Rule("patrol.resource.unreadable", Dimension.ACCESSIBILITY, Severity.HIGH, "资源不可读 resource unreadable"),
        Rule("patrol.schema.missing_column", Dimension.CONFORMITY, Severity.HIGH, "信息项缺失 declared column missing"),
        Rule("patrol.schema.unexpected_column", Dimension.CONFORMITY, Severity.LOW, "未编目字段 undeclared column"),
        Rule("patrol.schema.type_changed", Dimension.CONFORMITY, Severity.MEDIUM, "类型不符 column type differs"),
        Rule("patrol.timeliness.stale", Dimension.TIMELINESS, Severity.MEDIUM, "更新不及时 not updated within cycle"),
        Rule("patrol.volume.empty", Dimension.COMPLETENESS, Severity.HIGH, "空表 resource is empty"),
        Rule("patrol.volume.drop", Dimension.COMPLETENESS, Severity.MEDIUM, "数据量骤降 sudden drop in rows"),
        Rule("patrol.grading.inconsistent", Dimension.CONFORMITY, Severity.HIGH, "分级开放不符 grade or openness unfit for content"),
    )
}


@dataclass(frozen=True)
class FindingRecord:
    """One problem found by a check (census, patrol, quality, backflow)."""

    origin: str
    """Which capability found it: ``census``, ``patrol``, ``quality``, ``backflow``."""
    rule_id: str
    """Key into :data:`RULES` (or a quality expectation id)."""
    message: str
    """What is wrong, where, and what to do, for a person."""
    logical_date: date
    """The logical date of the run the finding belongs to."""
    entry_code: str | None = None
    """The catalog entry concerned, when there is one."""
    department: str | None = None
    """The responsible unit (the entry's provider, or the source's department)."""
    conn_id: str | None = None
    location: str | None = None
    column: str | None = None
    record_key: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    """Masked evidence only: never a raw identifier."""
    dimension: Dimension | None = None
    """Defaults to the rule's dimension."""
    severity: Severity | None = None
    """Defaults to the rule's severity."""

    @classmethod
    def for_entry(
        cls, origin: str, entry: CatalogEntry, rule_id: str, message: str, logical_date: date, **fields: Any
    ) -> FindingRecord:
        """A finding about a catalog entry: message prefixed with its code and name, its provider as the
        responsible department, its source and location filled in."""
        return cls(
            origin=origin,
            rule_id=rule_id,
            message=f"{entry.code} {entry.name}: {message}",
            logical_date=logical_date,
            entry_code=entry.code,
            department=entry.provider,
            conn_id=entry.conn_id,
            location=entry.location,
            **fields,
        )

    @property
    def rule(self) -> Rule | None:
        return RULES.get(self.rule_id)

    @property
    def fingerprint(self) -> str:
        """Stable identity of the problem across runs (not including the date)."""
        subject = self.entry_code or f"{self.conn_id}/{self.location}"
        parts = [self.origin, self.rule_id, subject, self.column or "", self.record_key or ""]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        rule = self.rule
        return {
            "origin": self.origin,
            "rule_id": self.rule_id,
            "dimension": (self.dimension or (rule.dimension if rule else Dimension.CONFORMITY)).value,
            "severity": (self.severity or (rule.severity if rule else Severity.MEDIUM)).value,
            "entry_code": self.entry_code,
            "department": self.department,
            "conn_id": self.conn_id,
            "location": self.location,
            "column": self.column,
            "record_key": self.record_key,
            "message": self.message,
            "evidence": self.evidence,
            "logical_date": self.logical_date.isoformat(),
            "fingerprint": self.fingerprint,
        }


def replace_findings(
    engine: Engine,
    origin: str,
    logical_date: date,
    findings: Iterable[FindingRecord],
    *,
    entry_codes: Iterable[str] | None = None,
) -> int:
    """Store a run's findings, replacing what ``origin`` stored for ``logical_date`` in the same scope.

    ``entry_codes`` narrows the scope to those entries (one patrol batch); None replaces the whole
    date for the origin (the census). Returns how many findings were stored. One transaction.
    """
    findings = list(findings)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        query = delete(Finding).where(Finding.origin == origin, Finding.logical_date == logical_date)
        if entry_codes is not None:
            codes = list(entry_codes)
            for start in range(0, len(codes), 500):
                session.execute(query.where(Finding.entry_code.in_(codes[start : start + 500])))
        else:
            session.execute(query)
        seen: set[str] = set()
        for finding in findings:
            data = finding.to_dict()
            if data["fingerprint"] in seen:
                continue  # the same problem reported twice in one run is one finding
            seen.add(data["fingerprint"])
            session.add(
                Finding(
                    origin=origin,
                    rule_id=finding.rule_id,
                    dimension=data["dimension"],
                    severity=data["severity"],
                    entry_code=finding.entry_code,
                    conn_id=finding.conn_id,
                    location=finding.location,
                    column=finding.column,
                    record_key=finding.record_key,
                    department=finding.department,
                    message=finding.message,
                    evidence=finding.evidence,
                    logical_date=logical_date,
                    fingerprint=data["fingerprint"],
                    created_at=now,
                )
            )
        return len(seen)


def load_findings(
    engine: Engine, *, origin: str | None = None, logical_date: date | None = None
) -> list[dict[str, Any]]:
    """Stored findings as JSON-able dicts, newest date first."""
    with session_scope(engine) as session:
        query = select(Finding).order_by(
            Finding.logical_date.desc(), Finding.entry_code, Finding.rule_id, Finding.column, Finding.id
        )
        if origin:
            query = query.where(Finding.origin == origin)
        if logical_date:
            query = query.where(Finding.logical_date == logical_date)
        return [
            {
                "id": f.id,
                "origin": f.origin,
                "rule_id": f.rule_id,
                "dimension": f.dimension,
                "severity": f.severity,
                "entry_code": f.entry_code,
                "department": f.department,
                "conn_id": f.conn_id,
                "location": f.location,
                "column": f.column,
                "record_key": f.record_key,
                "message": f.message,
                "evidence": f.evidence,
                "logical_date": f.logical_date.isoformat(),
                "fingerprint": f.fingerprint,
            }
            for f in session.scalars(query)
        ]
