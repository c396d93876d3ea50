"""
### catalog_patrol — nightly catalog patrol inspection (数据目录巡检)

Every night at 01:00 (Asia/Shanghai) every published catalog entry is checked against its source:

| rule | GB/T 36344 | what it looks for |
|---|---|---|
| `patrol.metadata.incomplete` / `.invalid` | 完整性 / 规范性 | the required catalog fields are filled (policy: `citygov.catalog.policy`, empty recommended ones are only counted in the summary); related codes resolve; 不予共享 is not opened |
| `patrol.source.unreachable`, `patrol.resource.missing`, `.unreadable` | 可访问性 | the source answers and the table or file exists |
| `patrol.schema.missing_column`, `.unexpected_column`, `.type_changed` | 规范性 | declared 信息项 vs the real columns |
| `patrol.timeliness.stale` | 时效性 | updated within 更新周期 (update-time column, else content change between patrols) |
| `patrol.volume.empty`, `.drop` | 完整性 | an empty table, or rows fell below half of the last patrol's |
| `patrol.grading.inconsistent` | 规范性 | ID or mobile numbers in an L1 or 无条件开放 entry; L3/L4 catalogued without conditions |

- **Fan-out**: entries are split into batches grouped by source (param `batch_size`; left empty, each
  shard's entries in about 8 batches of 200 to 2,000) and patrolled by one mapped task each: thousands of
  entries, tens of tasks. A source that is down turns into
  `patrol.source.unreachable` findings for its own entries only.
- **Isolation**: sources are dealt into shards (`sources_0` … `sources_3`), each a mapped task in its own
  pool (`citygov_sources_<n>`), so a source that does not answer holds only its shard's slot. It is given
  up on after `CITYGOV_SOURCE_TIMEOUT_S` (its entries are unreachable for the run, retried by the next);
  `execution_timeout` (`CITYGOV_SOURCE_TASK_TIMEOUT_S`) is the backstop. See `citygov_airflow.pools`.
- **Backfill-safe**: findings are keyed on (entry, rule, logical date); rerunning a date replaces that
  date's findings. Evidence is masked.
- **Outlet**: `citygov://patrol` when the run is done, for the quality inspection to follow.
- **See the results**: `govern patrol findings --date YYYY-MM-DD`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, TaskGroup, dag, task

from citygov_airflow import DEFAULT_ARGS, PATROL, TIMEZONE
from citygov_airflow.pools import (
    BATCHES_PER_SHARD,
    SOURCE_POOL_COUNT,
    BatchSizes,
    source_pool,
    source_task_timeout,
)

PATROL_BATCHES = BatchSizes(smallest=200, largest=2000)
"""A patrol batch reads metadata and counts: larger batches than the quality inspection's."""


@dag(
    dag_id="catalog_patrol",
    schedule="0 1 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # Each night inspects the sources as they are now; missed nights cannot be re-observed, so no catchup.
    # A backfill still reruns chosen dates (their findings are replaced, not duplicated).
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "patrol", "catalog"],
    doc_md=__doc__,
    params={
        "batch_size": Param(None, type=["null", "integer"], minimum=1,
                            description=f"catalog entries per mapped task (empty: about {BATCHES_PER_SHARD} tasks per shard, {PATROL_BATCHES.smallest}–{PATROL_BATCHES.largest} entries each)")
    },
)
def catalog_patrol():
    @task
    def plan_batches(shard: int, params=None) -> list[list[str]]:
        """The shard's batches of entry codes, grouped by source."""
        from citygov import patrol
        from citygov_airflow import governance_engine
        from citygov_airflow.pools import plan_shard

        with governance_engine() as engine:
            return plan_shard(engine, patrol.plan_batches, params["batch_size"], shard, PATROL_BATCHES)

    @task(
        map_index_template="{{ task.op_kwargs['codes'][0] }} +{{ task.op_kwargs['codes'] | length - 1 }}",
        execution_timeout=source_task_timeout(),
    )
    def patrol_batch(codes: list[str], logical_date=None) -> dict:
        """Patrol one batch of entries and store its findings for the run's logical date."""
        from citygov import patrol
        from citygov.lineage import entries_lineage
        from citygov_airflow import city_date, governance_engine, source_resolver
        from citygov_airflow.lineage import emit

        with governance_engine() as engine:
            summary = patrol.patrol_batch(engine, codes, source_resolver(), city_date(logical_date)).summary()
            emit(lambda: entries_lineage(engine, source_resolver(), codes, "patrol_observations"))
            return summary

    # A shard without entries skips its mapped task; the totals are still added up.
    @task(outlets=[PATROL], trigger_rule="none_failed")
    def summarize(summaries: list[dict], logical_date=None, outlet_events=None) -> dict:
        """Add the batches up; the asset event carries the totals; the log and the run's note say what failed."""
        from citygov.findings import load_findings
        from citygov_airflow import city_date, governance_engine, merge_summaries
        from citygov_airflow.run_report import report_failures

        total = merge_summaries(summaries)
        outlet_events[PATROL].extra = total
        day = city_date(logical_date)
        with governance_engine() as engine:
            found = load_findings(engine, origin="patrol", logical_date=day)
            report_failures(engine, f"patrol {day}", found, note_counts={"findings": len(found)})
        return total

    shards = []
    for shard in range(SOURCE_POOL_COUNT):
        with TaskGroup(f"sources_{shard}", tooltip=f"sources of shard {shard}, pool {source_pool(shard)}"):
            batches = plan_batches(shard)
            shards.append(patrol_batch.override(pool=source_pool(shard)).expand(codes=batches))
    summarize(shards[0].concat(*shards[1:]))


catalog_patrol()
