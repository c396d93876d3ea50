"""
### quality_inspection — nightly data quality inspection (数据质量检查)

Runs when the catalog patrol has finished (asset `citygov://patrol`), for the patrol's logical date, and
validates every published dataset with its Great Expectations suite (`expectations/<code>.json`):

- **Domain expectations** (GB 11643 ID numbers, GB 32100 credit codes, GB/T 2260 division codes, mobile
  numbers, dates not in the future, ID ↔ birth date / gender, referential integrity to 基础库) and GX's
  built-in ones, each with its GB/T 36344 dimension.
- **Engines** (param `engine`, default `auto`): `stream` reads only the checked columns (PostgreSQL binary
  COPY, a CSV's bytes) and checks them in the worker with compiled rules, so a department's database only
  reads; `fused` compiles the suite into one aggregate SQL scan; `gx` is GX's own SQL engine. `auto` picks
  per source kind what `make bench` measured faster there (stream, on every kind measured so far). Files
  always stream, in blocks of bounded size.
- **Masked**: every failing sample (ID 320706********1234, mobile 138****8000, name 张*, credit code
  913207********123X) is masked before it is stored or rendered.
- **Findings**: each failed expectation is a `quality` finding (rule id = expectation type) for the
  dataset's provider, with the failing-row count, for the dispute queue; a missing suite is
  `quality.suite.missing`. A dataset that cannot be read is recorded, not a task failure.
- **Scores**: six GB/T 36344 ratios (时效性/可访问性 from the patrol), weighted to 0–100 and a grade
  (优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, 不合格), per dataset, department and city, kept as history.
- **Data Docs**: built from the stored, masked results into `data/data_docs/<date>/` (param `docs_dir`):
  each batch writes its datasets' pages as soon as their results are stored (so the pages of a night are
  rendered in parallel), `build_data_docs` writes the date's index (and any page a batch left unwritten),
  the list of dates and `latest`; nothing with an unmasked identifier is published (that task fails).

Fan-out: one mapped task per batch of entries grouped by source (param `batch_size`; left empty, each shard's
entries in about 8 batches of 50 to 500, so 10,000 entries make ~32 tasks, not 200), in the pool of the
sources' shard (`sources_<n>` in pool `citygov_sources_<n>`, see `citygov_airflow.pools`): a source that
does not answer within `CITYGOV_SOURCE_TIMEOUT_S` is asked once per batch, its entries are recorded
unreachable (not scored) and the batch goes on; `execution_timeout` (`CITYGOV_SOURCE_TASK_TIMEOUT_S`) is the
backstop. Each batch's log ends with a table of what failed (dataset, rule, failing rows, a link to its
scorecard) and the run's note sums the night up (`citygov_airflow.run_report`).
Rerunning a date replaces that date's runs, findings and scores. Param `date` overrides the date (a backfill by hand).
See the results with `govern quality results`, `govern scores`, and open `data/data_docs/index.html`.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import Param, TaskGroup, dag, task

from citygov_airflow import DEFAULT_ARGS, PATROL, QUALITY, TIMEZONE
from citygov_airflow.pools import (
    BATCHES_PER_SHARD,
    SOURCE_POOL_COUNT,
    BatchSizes,
    source_pool,
    source_task_timeout,
)

log = logging.getLogger(__name__)
QUALITY_BATCHES = BatchSizes(smallest=50, largest=500)
"""A quality batch reads every row of its datasets: smaller batches than the patrol's."""


@dag(
    dag_id="quality_inspection",
    schedule=[PATROL],
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # Asset-triggered: each patrol run triggers one inspection of the same date; nothing to catch up.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "quality", "great_expectations"],
    doc_md=__doc__,
    params={
        "batch_size": Param(None, type=["null", "integer"], minimum=1,
                            description=f"catalog entries per mapped task (empty: about {BATCHES_PER_SHARD} tasks per shard, {QUALITY_BATCHES.smallest}–{QUALITY_BATCHES.largest} entries each)"),
        "date": Param(None, type=["null", "string"], description="logical date YYYY-MM-DD (default: the patrol's)"),
        "engine": Param("auto", enum=["auto", "stream", "fused", "gx"],
                        description="auto (per source kind), stream (read, check in the worker), fused (one SQL scan), gx (GX's SQL engine)"),
        "docs_dir": Param(None, type=["null", "string"], description="Data Docs folder (default data/data_docs)"),
    },
)
def quality_inspection():
    @task
    def inspection_date(params=None, triggering_asset_events=None, logical_date=None) -> str:
        """The date to inspect: the param, else the triggering patrol's logical date, else the run's."""
        from citygov_airflow import city_date

        if params.get("date"):
            return pendulum.parse(params["date"]).date().isoformat()
        events = list(triggering_asset_events.get(PATROL, [])) if triggering_asset_events else []
        for event in sorted(events, key=lambda e: e.timestamp, reverse=True):  # the latest patrol wins
            day = (event.extra or {}).get("logical_date")
            if isinstance(day, str):
                return day
        return city_date(logical_date).isoformat()

    @task
    def plan_batches(shard: int, params=None) -> list[list[str]]:
        """The shard's batches of entry codes, grouped by source."""
        from citygov.quality.runner import plan_batches
        from citygov_airflow import governance_engine
        from citygov_airflow.pools import plan_shard

        with governance_engine() as engine:
            return plan_shard(engine, plan_batches, params["batch_size"], shard, QUALITY_BATCHES)

    @task(
        map_index_template="{{ task.op_kwargs['codes'][0] }} +{{ task.op_kwargs['codes'] | length - 1 }}",
        execution_timeout=source_task_timeout(),
    )
    def inspect_batch(codes: list[str], day: str, params=None) -> dict:
        """Validate one batch; store masked results, findings and scores for the date."""
        from datetime import date

        from citygov.lineage import inspection_lineage
        from citygov.quality.docs import UnmaskedDataError, build_pages
        from citygov.quality.runner import inspect_batch
        from citygov_airflow import governance_engine, source_resolver
        from citygov_airflow.lineage import emit
        from citygov_airflow.run_report import report_failures

        with governance_engine() as engine:
            report = inspect_batch(engine, codes, source_resolver(), date.fromisoformat(day), engine=params["engine"])
            try:  # the batch's Data Docs pages, now, beside the other batches
                build_pages(engine, params.get("docs_dir"), logical_date=date.fromisoformat(day), codes=codes)
            except UnmaskedDataError as error:  # nothing published; build_data_docs tries again and fails
                log.error("%s", error)
            emit(lambda: inspection_lineage(engine, source_resolver(), codes, date.fromisoformat(day)))
            report_failures(engine, f"quality {day}", [f.to_dict() for f in report.findings])
            return {k: v for k, v in report.summary().items() if k != "datasets"}

    # A shard without entries skips its mapped task; the docs and totals are still built.
    @task(outlets=[QUALITY], trigger_rule="none_failed")
    def build_data_docs(summaries: list[dict], day: str, params=None, outlet_events=None) -> dict:
        """Index the date's Data Docs (the batches wrote the pages); the asset event carries the totals."""
        from datetime import date

        from citygov.findings import load_findings
        from citygov.quality.docs import build_data_docs
        from citygov_airflow import governance_engine, merge_summaries
        from citygov_airflow.run_report import report_failures

        total = merge_summaries(summaries)
        with governance_engine() as engine:
            docs = build_data_docs(engine, params.get("docs_dir"), logical_date=date.fromisoformat(day), pages=False)
            counts = {"datasets": total.get("entries", 0), **total.get("status", {}), "findings": total.get("findings", 0)}
            found = load_findings(engine, origin="quality", logical_date=date.fromisoformat(day))
            report_failures(engine, f"quality {day}", found, note_counts=counts)
        total["data_docs"] = docs.to_dict()
        outlet_events[QUALITY].extra = {"logical_date": day, "findings": total.get("findings", 0)}
        return total

    day = inspection_date()
    shards = []
    for shard in range(SOURCE_POOL_COUNT):
        with TaskGroup(f"sources_{shard}", tooltip=f"sources of shard {shard}, pool {source_pool(shard)}"):
            batches = plan_batches(shard)
            shards.append(inspect_batch.override(pool=source_pool(shard)).partial(day=day).expand(codes=batches))
    build_data_docs(shards[0].concat(*shards[1:]), day)


quality_inspection()
