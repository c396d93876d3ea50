"""The backflow findings: a rejected batch or delivery, and quarantined rows, addressed to the sender.

Rebuilt per logical date from what the governance store and the target record (:func:`refresh_findings`),
with masked evidence only.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, select

from citygov.backflow.target import quarantine_table
from citygov.findings import Dimension, FindingRecord, Severity, replace_findings
from citygov.identifiers import detect_kind, mask_value, scrub
from citygov.store import session_scope
from citygov.store.models import BackflowBatch
from citygov.system_objects import BACKFLOW_QUARANTINE as QUARANTINE_TABLE

ORIGIN = "backflow"
LANDING_CONN_ID = "backflow_landing"
RULE_REJECTED = "backflow.batch.rejected"
RULE_QUARANTINED = "backflow.rows.quarantined"


def _masked(record: Any, masks: dict[str, str]) -> Any:
    """Evidence for people: by the suite's column masks where it has them, by detected identifier kind
    otherwise, then :func:`~citygov.quality.masking.scrub` over whatever is left."""
    if isinstance(record, dict):
        masked: Any = {
            k: mask_value(v, masks.get(k) or _kind(v)) if isinstance(v, str) else v for k, v in record.items()
        }
    elif isinstance(record, list):
        masked = [mask_value(v, _kind(v)) if isinstance(v, str) else v for v in record]
    else:
        masked = record
    return scrub(masked)


def _kind(value: str) -> str | None:
    kind = detect_kind([value])
    return kind if kind in {"ric", "mobile", "uscc"} else None


def refresh_findings(store: Engine, target: Engine, logical_date: date, *, sample: int = 20) -> int:
    """Rebuild the backflow findings of ``logical_date`` from what is recorded: one per rejected batch and
    per delivery of a loaded batch id with other content (``backflow.batch.rejected``), and one per
    loaded batch, reason and column with quarantined rows (``backflow.rows.quarantined``), addressed to the
    sender, with masked evidence. Idempotent."""
    findings: list[FindingRecord] = []
    with session_scope(store) as session:
        batches = session.scalars(
            select(BackflowBatch).where(BackflowBatch.logical_date == logical_date).order_by(BackflowBatch.batch_id)
        ).all()
        rows = [(b.batch_id, b.resource_code, b.sender, b.status, b.reason, b.sha256, b.declared_rows) for b in batches]
        duplicates = [
            (b.batch_id, b.resource_code, b.sender, "rejected", d.reason, d.sha256, None)
            for b in batches
            for d in b.deliveries
            if d.status == "duplicate-different-content"
        ]
    loaded_ids = [r[0] for r in rows if r[3] == "loaded"]
    rejected = [(r, r[0]) for r in rows if r[3] == "rejected"]
    rejected += [(d, f"{d[0]}#{str(d[5])[:12]}") for d in duplicates]  # one finding per refused delivery
    for (batch_id, code, sender, _status, reason, sha, declared), key in rejected:
        findings.append(
            FindingRecord(
                origin=ORIGIN,
                rule_id=RULE_REJECTED,
                message=f"回流批次被拒收 batch {batch_id} rejected: {reason}",
                logical_date=logical_date,
                entry_code=code if code != "unknown" else None,
                department=sender,
                conn_id=LANDING_CONN_ID,
                location=batch_id,
                record_key=key,
                evidence={"batch_id": batch_id, "sha256": sha, "declared_rows": declared, "reason": reason},
                dimension=Dimension.COMPLETENESS,
                severity=Severity.HIGH,
            )
        )
    senders = {r[0]: r[2] for r in rows}
    groups: dict[tuple[str, str, str | None], list[Any]] = {}
    with target.connect() as conn:
        if loaded_ids and sa.inspect(conn).has_table(QUARANTINE_TABLE):
            q = quarantine_table.c
            for part in range(0, len(loaded_ids), 500):
                result = conn.execute(
                    select(q.batch_id, q.resource_code, q.line, q.reason_code, q.column_name, q.reason, q.record)
                    .where(q.batch_id.in_(loaded_ids[part : part + 500]))
                    .order_by(q.batch_id, q.line)
                )
                for row in result:
                    groups.setdefault((row.batch_id, row.reason_code, row.column_name), []).append(row)
    masks: dict[str, dict[str, str]] = {}
    for (batch_id, reason_code, column), items in groups.items():
        first = items[0]
        if first.resource_code not in masks:
            masks[first.resource_code] = _suite_masks(first.resource_code)
        findings.append(
            FindingRecord(
                origin=ORIGIN,
                rule_id=RULE_QUARANTINED,
                message=(
                    f"回流数据行被隔离 {len(items)} row(s) of batch {batch_id} quarantined ({reason_code}); "
                    f"first: {first.reason}. Correct them and resend under a new batch id."
                ),
                logical_date=logical_date,
                entry_code=first.resource_code,
                department=senders.get(batch_id),
                conn_id=LANDING_CONN_ID,
                location=batch_id,
                column=column,
                record_key=f"{batch_id}:{reason_code}",
                evidence={
                    "batch_id": batch_id,
                    "reason_code": reason_code,
                    "rows": len(items),
                    "lines": [i.line for i in items[:sample]],
                    "samples": [_masked(json.loads(i.record), masks[first.resource_code]) for i in items[:3]],
                },
                dimension=Dimension.CONFORMITY,
                severity=Severity.MEDIUM,
            )
        )
    return replace_findings(store, ORIGIN, logical_date, findings)


def _suite_masks(code: str) -> dict[str, str]:
    from citygov.quality.suites import SuiteFileError, column_masks, load_suite

    try:
        suite = load_suite(code)
    except SuiteFileError:
        return {}
    return column_masks(suite) if suite is not None else {}
