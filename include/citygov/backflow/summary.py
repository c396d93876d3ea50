"""The backflow batches in figures, for a page and a leader: how many, in which state, and whether the
loaded rows add up (declared = loaded + quarantined) across them."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchTotals:
    """Totals over a list of batches (:func:`citygov.backflow.list_batches` rows)."""

    batches: int
    by_status: dict[str, int] = field(default_factory=dict)
    """Batches per state (``loaded``, ``rejected``, ``failed``, …)."""
    declared: int = 0
    """Rows the loaded batches' manifests declare."""
    loaded: int = 0
    quarantined: int = 0
    unbalanced: int = 0
    """Loaded batches whose declared rows are not loaded + quarantined."""
    refused_declared: int = 0
    """Rows declared by batches not loaded (rejected or failed): nothing of them reached the target."""
    deliveries: int = 0
    """Deliveries recorded (a batch delivered again with other content counts each time)."""
    attempts: int = 0

    @property
    def balanced(self) -> bool:
        return self.unbalanced == 0 and self.declared == self.loaded + self.quarantined

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "balanced": self.balanced}


def batch_totals(batches: list[dict[str, Any]]) -> BatchTotals:
    """Totals over ``batches`` as :func:`~citygov.backflow.list_batches` gives them."""
    loaded = [b for b in batches if b["status"] == "loaded"]
    return BatchTotals(
        batches=len(batches),
        by_status=dict(sorted(Counter(b["status"] for b in batches).items())),
        declared=sum(b["reconciliation"]["declared"] or 0 for b in loaded),
        loaded=sum(b["reconciliation"]["loaded"] or 0 for b in loaded),
        quarantined=sum(b["reconciliation"]["quarantined"] or 0 for b in loaded),
        unbalanced=sum(1 for b in loaded if b["reconciliation"]["balanced"] is False),
        refused_declared=sum(b["reconciliation"]["declared"] or 0 for b in batches if b["status"] != "loaded"),
        deliveries=sum(len(b["deliveries"]) for b in batches),
        attempts=sum(d["attempts"] for b in batches for d in b["deliveries"]),
    )


__all__ = ["BatchTotals", "batch_totals"]
