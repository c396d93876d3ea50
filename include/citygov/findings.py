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
    """A check's identity and its words: what it looks for, how it is classified, how to fix it.

    Every rule id the pipeline stores (patrol, census, quality, backflow, catalog import, consumers'
    claims, expectation types) is defined once as a ``Rule``; pages, queue titles, exports, Data Docs and
    scoring read it through :func:`citygov.rulebook.describe`."""

    rule_id: str
    dimension: Dimension
    """The GB/T 36344 dimension the rule's failures count against."""
    severity: Severity | None
    """None when a finding's severity depends on its extent (quality: the share of failing rows)."""
    title_zh: str
    title_en: str
    fix: str = ""
    """One line for the responsible department: what to do about it (Chinese, then English)."""

    @property
    def title(self) -> str:
        """Both titles, as shown to people: ``应编未编 resource not in the catalog``."""
        return f"{self.title_zh} {self.title_en}"


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.rule_id: r for r in rules}


_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW
_C, _P, _A, _S = Dimension.CONFORMITY, Dimension.COMPLETENESS, Dimension.ACCURACY, Dimension.CONSISTENCY
_T, _X = Dimension.TIMELINESS, Dimension.ACCESSIBILITY

RULES: dict[str, Rule] = _rules(
    # census (公共数据普查)
    Rule("census.uncatalogued", _P, _H, "应编未编", "resource not in the catalog",
         "在目录中编目该资源，或说明其不属于公共数据 catalogue the resource, or state why it is not public data"),
    Rule("census.resource_missing", _X, _H, "有目无数", "catalogued resource not found",
         "恢复资源或更正目录中的资源位置 restore the resource or correct its 资源位置 in the catalog"),
    Rule("census.source_unreachable", _X, _H, "数据源不可达", "source unreachable",
         "恢复数据源的连接（地址、账号、网络） restore the source's connection (address, account, network)"),
    Rule("census.resource_unreadable", _X, _M, "资源不可读", "resource unreadable",
         "检查资源的权限、格式与编码 check the resource's permissions, format and encoding"),
    Rule("census.inventory_failed", _X, _H, "普查未完成", "census inventory of the source failed",
         "查看该数据源普查任务的日志，排除原因后重新普查 see the source's inventory task log, fix the cause, rerun the census"),
    # catalog patrol (目录巡检)
    Rule("patrol.metadata.incomplete", _P, _L, "元数据不完整", "metadata incomplete",
         "在目录中补全缺少的必填字段 fill in the catalog entry's missing required fields"),
    Rule("patrol.metadata.invalid", _C, _M, "元数据不规范", "metadata invalid",
         "按目录规范更正字段取值 correct the field's value to the catalog standard"),
    Rule("patrol.source.unreachable", _X, _H, "数据源不可达", "source unreachable",
         "恢复数据源的连接（地址、账号、网络） restore the source's connection (address, account, network)"),
    Rule("patrol.resource.missing", _X, _H, "资源不存在", "resource missing",
         "恢复资源或更正目录中的资源位置 restore the resource or correct its 资源位置 in the catalog"),
    Rule("patrol.resource.unreadable", _X, _H, "资源不可读", "resource unreadable",
         "检查资源的权限、格式与编码 check the resource's permissions, format and encoding"),
    Rule("patrol.schema.missing_column", _C, _H, "信息项缺失", "declared column missing",
         "在资源中恢复该字段，或更正目录的信息项 restore the column, or correct the entry's 信息项"),
    Rule("patrol.schema.unexpected_column", _C, _L, "未编目字段", "undeclared column",
         "把该字段登记为信息项，或从资源中移除 declare the column as an 信息项, or remove it"),
    Rule("patrol.schema.type_changed", _C, _M, "类型不符", "column type differs",
         "使字段类型与信息项声明一致 make the column's type match its declared 信息项 type"),
    Rule("patrol.timeliness.stale", _T, _M, "更新不及时", "not updated within cycle",
         "按目录的更新周期更新数据，或更正更新周期 update the data per its 更新周期, or correct the cycle"),
    Rule("patrol.volume.empty", _P, _H, "空表", "resource is empty",
         "恢复资源中的数据，或说明其为空的原因 restore the data, or explain why the resource is empty"),
    Rule("patrol.volume.drop", _P, _M, "数据量骤降", "sudden drop in rows",
         "核实数据是否丢失并补齐 check whether records were lost and restore them"),
    Rule("patrol.grading.inconsistent", _S, _H, "分级开放不符", "grade or openness unfit for content",
         "提高数据分级或调整开放属性，或脱敏后再开放 raise the grade or change the openness, or mask the data"),
    # the quality inspection itself (its failed expectations use their expectation type as rule id:
    # citygov.expectation_rules)
    Rule("quality.suite.missing", _C, _M, "缺少质量规则", "no expectation suite",
         "为该数据集编写或接受草拟的质量规则 write a suite, or accept the drafted one (govern suites accept)"),
    Rule("quality.suite.invalid", _C, _H, "质量规则无效", "expectation suite is invalid",
         "按错误提示修正质量规则文件 correct the suite file as the error says"),
    Rule("quality.validation.not_run", _X, _H, "未能校验", "validation did not run",
         "恢复数据源的可读性，使校验能够运行 make the source readable so that validation can run"),
    # provincial/national backflow (数据回流)
    Rule("backflow.batch.rejected", _C, _H, "回流批次被拒", "backflow batch rejected",
         "请上级平台按原因重新下发该批次 ask the sending platform to resend the batch, per the reason"),
    Rule("backflow.rows.quarantined", _A, _M, "回流记录被隔离", "backflow rows quarantined",
         "核对被隔离的记录并请上级平台更正 check the quarantined rows and ask the sender to correct them"),
    # the catalog import and people
    Rule("catalog.row_rejected", _C, _M, "目录行被拒", "catalog row rejected",
         "按错误提示更正目录文件中的该行 correct the catalog file's row as the error says"),
    Rule("consumer.claim", _A, _M, "使用方异议", "consumer's dispute",
         "核实使用方指出的数据并答复 check the data the consumer points at and answer"),
    # one problem reported by more than one origin (the dispute queue's rule id for them)
    Rule("resource.missing", _X, _H, "有目无数", "catalogued resource not found",
         "恢复资源或更正目录中的资源位置 restore the resource or correct its 资源位置 in the catalog"),
    Rule("resource.unreadable", _X, _H, "资源不可读", "resource unreadable",
         "检查资源的权限、格式与编码 check the resource's permissions, format and encoding"),
)
"""The pipeline's own rules. Quality expectation types are in :mod:`citygov.expectation_rules`."""


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
            "severity": (self.severity or (rule.severity if rule else None) or Severity.MEDIUM).value,
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
