"""Provincial backflow ingestion (数据回流): verify landed batches, load them exactly once, reconcile.

``scan_landing`` finds the batches of a landing folder, ``verify`` decides whether one may be loaded,
``ingest_batch`` loads it (or records its rejection) and ``ingest_landing`` does all of a folder. The
DAG, the command line (``govern backflow``) and tests all call these functions.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from citygov.backflow.batches import Batch, Manifest, Problem, scan_landing, verify
from citygov.backflow.findings import refresh_findings
from citygov.backflow.loader import ReconciliationError, ingest_batch
from citygov.backflow.records import BatchResult, list_batches, record_refused_delivery
from citygov.backflow.target import target_table_name
from citygov.catalog.queries import load_entries


def ingest_landing(
    store_engine: Engine,
    target_engine: Engine,
    folder: Path,
    *,
    logical_date: date | None = None,
    chunk_size: int = 5000,
) -> list[BatchResult]:
    """Ingest every batch in ``folder`` (only those of ``logical_date`` when given), oldest first.

    A batch that crashes is reported ``failed`` (its target rolled back, retried next run) and the others
    still run. Batches without a usable manifest are dated ``logical_date`` when given.
    """
    batches = scan_landing(folder)
    if logical_date is not None:
        batches = [b for b in batches if b.logical_date in (logical_date, None)]
    codes = sorted({b.resource_code for b in batches if b.resource_code})
    entries = {e.code: e for e in load_entries(store_engine, codes=codes)} if codes else {}
    batches.sort(key=lambda b: (b.logical_date or date.min, b.batch_id))
    results = []
    for batch in batches:
        entry = entries.get(batch.resource_code or "")
        try:
            results.append(
                ingest_batch(store_engine, target_engine, batch, entry, run_date=logical_date, chunk_size=chunk_size)
            )
        except Exception as exc:  # one broken batch must not stop the others
            results.append(
                BatchResult(
                    batch_id=batch.batch_id,
                    resource_code=batch.resource_code,
                    logical_date=batch.logical_date or logical_date or date.min,
                    status="failed",
                    mode=batch.manifest.mode if batch.manifest else None,
                    declared_rows=batch.manifest.declared_rows if batch.manifest else None,
                    reason=f"interrupted, target rolled back; will be retried: {type(exc).__name__}: {exc}",
                )
            )
    return results


__all__ = [
    "Batch",
    "BatchResult",
    "Manifest",
    "Problem",
    "ReconciliationError",
    "ingest_batch",
    "ingest_landing",
    "list_batches",
    "record_refused_delivery",
    "refresh_findings",
    "scan_landing",
    "target_table_name",
    "verify",
]
