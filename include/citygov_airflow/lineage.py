"""OpenLineage for the citygov tasks through Airflow's OpenLineage provider (thin glue over :mod:`citygov.lineage`).

A task says what it read and wrote with ``emit(lambda: <a citygov.lineage builder>)``; the builder runs only
when OpenLineage is enabled (a transport is configured: ``[openlineage] transport`` or
``AIRFLOW__OPENLINEAGE__TRANSPORT``; ``scripts/airflow_env.sh`` sets a file transport by default), and a
failing builder only logs a warning: lineage never fails a task. The provider asks :class:`CitygovExtractor`
(registered with ``[openlineage] extractors``) for the lineage of each TaskFlow task when it completes; the
extractor hands over what the task emitted, as the OpenLineage client's datasets and facets.

Without the provider installed or with OpenLineage disabled, ``emit`` does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from citygov.lineage import BATCH_FACET, LineageDataset, TaskLineage

log = logging.getLogger(__name__)

_EMITTED: dict[tuple[str, str, str, int], TaskLineage] = {}
"""What each task instance running in this process emitted, until the provider's listener collects it."""


def enabled() -> bool:
    """Whether the OpenLineage provider is installed and configured to send events."""
    try:
        from airflow.providers.openlineage.conf import is_disabled
    except ImportError:
        return False
    return not is_disabled()


def _key(ti: Any) -> tuple[str, str, str, int]:
    map_index = getattr(ti, "map_index", -1)
    return str(ti.dag_id), str(ti.task_id), str(ti.run_id), int(map_index if map_index is not None else -1)


def emit(build: Callable[[], TaskLineage]) -> None:
    """Record the running task's lineage (``build()``) for the OpenLineage event of its completion."""
    if not enabled():
        return
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        _EMITTED[_key(ti)] = build()
    except Exception as exc:  # lineage is best effort: never fail the task over it
        log.warning("OpenLineage: could not build this task's lineage: %s", exc)


def collect(ti: Any) -> TaskLineage | None:
    """Take what task instance ``ti`` emitted (None when nothing)."""
    return _EMITTED.pop(_key(ti), None)


# --- the provider's side --------------------------------------------------------------------------------


def _facet(name: str, value: dict[str, Any]) -> Any:
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset,
        documentation_dataset,
        input_statistics_input_dataset,
        output_statistics_output_dataset,
        schema_dataset,
    )

    if name == "schema":
        return schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(**f) for f in value.get("fields", [])])
    if name == "documentation":
        return documentation_dataset.DocumentationDatasetFacet(**value)
    if name == "dataQualityAssertions":
        return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[data_quality_assertions_dataset.Assertion(**a) for a in value.get("assertions", [])])
    if name == "inputStatistics":
        return input_statistics_input_dataset.InputStatisticsInputDatasetFacet(**value)
    if name == "outputStatistics":
        return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(**value)
    if name == BATCH_FACET:
        return _batch_facet_class()(**value)
    raise ValueError(f"unknown OpenLineage facet {name!r}")


def _batch_facet_class() -> type:
    """``citygov_backflowBatch``: a custom dataset facet (the backflow batch ids a dataset holds)."""
    global _BATCH_FACET
    if _BATCH_FACET is None:
        import attr
        from openlineage.client.facet_v2 import DatasetFacet

        @attr.define
        class CitygovBackflowBatchDatasetFacet(DatasetFacet):
            batchId: str | None = attr.field(default=None)  # noqa: N815
            sha256: str | None = attr.field(default=None)
            batches: list[dict[str, Any]] = attr.field(factory=list)

            @staticmethod
            def _get_schema() -> str:
                return "https://github.com/citygov/citygov/blob/main/include/citygov/lineage.py#CitygovBackflowBatchDatasetFacet"

        _BATCH_FACET = CitygovBackflowBatchDatasetFacet
    return _BATCH_FACET


_BATCH_FACET: type | None = None


def to_openlineage(lineage: TaskLineage) -> Any:
    """The provider's ``OperatorLineage`` of a :class:`TaskLineage`."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    def facets(d: dict[str, Any]) -> dict[str, Any]:
        return {k: _facet(k, v) for k, v in d.items()}

    def inputs(ds: LineageDataset) -> Any:
        return InputDataset(namespace=ds.namespace, name=ds.name, facets=facets(ds.facets),
                            inputFacets=facets(ds.input_facets))

    def outputs(ds: LineageDataset) -> Any:
        return OutputDataset(namespace=ds.namespace, name=ds.name, facets=facets(ds.facets),
                             outputFacets=facets(ds.output_facets))

    return OperatorLineage(inputs=[inputs(d) for d in lineage.inputs], outputs=[outputs(d) for d in lineage.outputs])


def _extractor_base() -> type:
    try:
        from airflow.providers.openlineage.extractors.base import BaseExtractor
    except ImportError:  # the provider is not installed: the class below is never asked for
        return object
    return BaseExtractor


class CitygovExtractor(_extractor_base()):  # type: ignore[misc]
    """The provider's extractor for TaskFlow tasks: hands over what the task emitted with :func:`emit`.

    A task that emitted nothing gets an empty lineage, and the provider falls back to its own sources
    (hook lineage, inlets and outlets)."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return ["_PythonDecoratedOperator"]

    def _execute_extraction(self) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        return OperatorLineage()  # at the start nothing is known yet

    def extract_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        lineage = collect(task_instance)
        return to_openlineage(lineage) if lineage is not None else OperatorLineage()
