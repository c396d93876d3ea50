"""共享过程可追溯: the sharing trace and the answers over it.

:func:`import_share_log` takes the exchange platform's served share requests into the store once each,
with the dataset's state when served; :func:`dataset_trace`, :func:`batch_trace` and
:func:`receivers_to_notify` (:func:`item_receivers` for a dispute item) answer the steward's questions. The lineage events for OpenLineage are built
in :mod:`citygov.lineage`.
"""

from citygov.trace.answers import (
    BatchTrace,
    DatasetTrace,
    Origin,
    Share,
    batch_trace,
    dataset_trace,
    item_receivers,
    receivers_to_notify,
)
from citygov.trace.shares import (
    DatasetState,
    ImportResult,
    day_end,
    import_configured,
    import_share_log,
    states_for,
)

__all__ = [
    "BatchTrace", "DatasetState", "DatasetTrace", "ImportResult", "Origin", "Share", "batch_trace", "dataset_trace",
    "day_end", "import_configured", "import_share_log", "item_receivers", "receivers_to_notify", "states_for",
]
