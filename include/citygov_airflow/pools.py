"""Isolation of department sources (issue 19): the pools the tasks that read sources run in, and how long
such a task may hold its slot.

**Why a fixed set of source pools, not one pool per department.** Airflow gives a pool to a *task*, not
to one instance of a mapped task: ``pool`` is read from ``.partial()`` when the scheduler creates the
mapped instances (``MappedOperator.pool`` is ``partial_kwargs["pool"]``), so a pool passed through
``expand``/``expand_kwargs`` would run under the partial's pool whatever it says (apache/airflow#33657,
"Enable setting pool in the expand method", is open). The batches are planned at run time from the
catalog, which a DAG file must not read while it is parsed, so neither the departments nor their number
are known when tasks are declared. (A ``task_instance_mutation_hook`` cluster policy could set a pool per
mapped instance, but it runs inside the scheduler's transaction, where Airflow forbids opening a session
of its own, e.g. to read the planned batches from XCom.)

So the work is split into :data:`SOURCE_POOL_COUNT` fixed *shards*, each one mapped task in the pool
``citygov_sources_<n>``: the sources of the catalog, sorted by connection id, are dealt to the shards in
turn (:func:`assign_shards`), so every shard gets a source before any gets two (a hash of the id left one
of the four shards empty on the demo city's connections). A source that does not answer fills at most its own
shard's slots, and only for :func:`source_task_timeout` at the very worst (the core gives up on it after
``CITYGOV_SOURCE_TIMEOUT_S``, :mod:`citygov.sources.timeouts`): the other shards' batches keep running.
Sources sharing its shard wait for a slot, but never longer than that. Which shard a source gets may
change when sources are added or removed; nothing is kept per shard, so that is harmless.

The pools are created by ``python -m citygov_deploy.init`` (compose's airflow-init and ``scripts/cluster.py``
alike) from ``citygov_deploy.topology.POOLS``, which lists :data:`SOURCE_POOLS`; a single-host Airflow
gets them from ``python -m citygov_airflow.pools``. Airflow is imported only inside :func:`ensure_pools`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from citygov.settings import whole_number

if TYPE_CHECKING:
    from sqlalchemy import Engine

SOURCE_POOL_COUNT = 4
"""Shards of department sources, each with its own pool. Changing it renames tasks: change it between
runs, then run the init again so the pools exist."""

SOURCE_POOL_SLOTS = 1
"""Slots of each source pool: the shards together run as many source tasks at once as ``default_pool``
(4, sized to ``[core] parallelism``); raise both with the host (``airflow pools set``)."""

PROVINCE_POOL = "citygov_province"
"""The provincial backflow API's pool: pulls never take a department shard's slot."""

BATCHES_PER_SHARD = 8
"""Mapped batches per shard a DAG aims at when its ``batch_size`` is left empty (:class:`BatchSizes`)."""

SOURCE_TASK_TIMEOUT_S = 3600
"""Default ``execution_timeout`` of a task that reads sources, in seconds."""


def source_pool(shard: int) -> str:
    """The pool of shard ``shard``."""
    if not 0 <= shard < SOURCE_POOL_COUNT:
        raise ValueError(f"shard {shard} is not one of 0..{SOURCE_POOL_COUNT - 1}")
    return f"citygov_sources_{shard}"


SOURCE_POOLS: dict[str, tuple[int, str]] = {
    **{
        source_pool(i): (SOURCE_POOL_SLOTS, f"tasks reading the department sources of shard {i} (citygov_airflow.pools)")
        for i in range(SOURCE_POOL_COUNT)
    },
    PROVINCE_POOL: (1, "pulls from the provincial backflow API"),
}
"""Pool name → (slots, description), for the init to create."""


def assign_shards(conn_ids: Iterable[str], shards: int = SOURCE_POOL_COUNT) -> dict[str, int]:
    """Each source's shard: the distinct connection ids, sorted, dealt to the shards in turn (the same
    catalog gives the same assignment in every process and run)."""
    return {conn_id: i % shards for i, conn_id in enumerate(sorted(set(conn_ids)))}


def sources_in_shard(conn_ids: Sequence[str], shard: int, shards: int = SOURCE_POOL_COUNT) -> list[str]:
    """The sources of ``conn_ids`` dealt to ``shard`` (:func:`assign_shards`), in their order: for a DAG
    that maps one task per source (the census) rather than per batch of entries."""
    shard_of = assign_shards(conn_ids, shards)
    return [conn_id for conn_id in conn_ids if shard_of[conn_id] == shard]


def split_by_shard(
    batches: Sequence[Sequence[str]],
    conn_of: Mapping[str, str],
    shard: int,
    batch_size: int | BatchSizes,
    shards: int = SOURCE_POOL_COUNT,
) -> list[list[str]]:
    """The planned ``batches`` cut down to ``shard``'s entries (``conn_of[code]`` is an entry's source,
    dealt by :func:`assign_shards`), cut again into batches of at most ``batch_size`` (a number, or
    :class:`BatchSizes` to size them by how many entries the shard has).

    The planner lists entries grouped by source; keeping its order and cutting the shard's entries anew
    keeps that grouping and makes full batches, where cutting each planned batch by shard would leave up
    to one fragment per shard of every batch.
    """
    shard_of = assign_shards(conn_of.values(), shards)
    # An entry the catalog lost between two reads (a withdrawal) goes to shard 0, where its batch finds it
    # gone; it is never dropped from the plan silently.
    codes = [code for batch in batches for code in batch if shard_of.get(conn_of.get(code, ""), 0) == shard]
    size = batch_size.for_entries(len(codes)) if isinstance(batch_size, BatchSizes) else batch_size
    return [codes[i : i + size] for i in range(0, len(codes), size)]


@dataclass(frozen=True)
class BatchSizes:
    """How a DAG sizes its mapped batches when no ``batch_size`` is given: each shard's entries in about
    ``tasks`` batches, none smaller than ``smallest`` nor larger than ``largest``.

    Every mapped task costs some seconds before it does anything (a worker process, Airflow's API calls,
    imports: ~5 s on the CeleryExecutor measured by ``make bench``), so a fixed small batch makes a large
    catalog mostly overhead (10,000 entries in batches of 50: 200 tasks), and a fixed large one leaves a
    small catalog in one task. ``smallest`` keeps a small city's batches as they were; ``largest`` bounds
    what one retry redoes and how long one batch holds its shard's slot."""

    smallest: int
    largest: int
    tasks: int = BATCHES_PER_SHARD

    def for_entries(self, entries: int) -> int:
        """The batch size for a shard of ``entries`` entries."""
        return max(self.smallest, min(self.largest, -(-entries // max(self.tasks, 1))))


def plan_shard(
    engine: Engine, planner: Callable[[Engine, int], list[list[str]]], batch_size: int | None, shard: int,
    sizes: BatchSizes,
) -> list[list[str]]:
    """The batches of shard ``shard``: ``planner`` (the patrol's or the quality inspection's
    ``plan_batches``) over the published catalog, keeping the entries whose source is in the shard, in
    batches of ``batch_size`` (a DAG's param), else sized by ``sizes`` to the shard's entries."""
    from citygov.catalog.queries import load_entries

    conn_of = {entry.code: entry.conn_id for entry in load_entries(engine)}
    planned = planner(engine, batch_size or sizes.smallest)
    return split_by_shard(planned, conn_of, shard, batch_size or sizes)


def source_task_timeout() -> timedelta:
    """``execution_timeout`` of the tasks that read department sources: ``CITYGOV_SOURCE_TASK_TIMEOUT_S``,
    else :data:`SOURCE_TASK_TIMEOUT_S`.

    The backstop for what the source timeouts cannot stop (a server that stops answering in the middle of a
    read): Airflow fails the task when it is reached, which frees its slot, and retries it. Read when the
    DAG file is parsed, so the dag-processor must have the same environment as the workers (it has:
    ``citygov_deploy.topology.common_env``).
    """
    seconds = whole_number("CITYGOV_SOURCE_TASK_TIMEOUT_S", low=1, unit="seconds",
                           note="execution_timeout of the tasks that read department sources")
    return timedelta(seconds=SOURCE_TASK_TIMEOUT_S if seconds is None else seconds)


def ensure_pools(pools: Mapping[str, tuple[int, str]] = SOURCE_POOLS) -> list[str]:
    """Create the pools (or set their slots and description) in Airflow's metadata database; returns
    their names.

    The scheduler never queues a task whose pool does not exist (the DAG only shows a warning), so the
    pools must be there before the first run. The cluster's init sets them with the rest of the topology
    (``citygov_deploy.init``); a single-host Airflow (``airflow standalone``) gets them with
    ``python -m citygov_airflow.pools``, run with its environment after ``airflow db migrate``.
    """
    from airflow.models.pool import Pool

    for name, (slots, description) in pools.items():
        Pool.create_or_update_pool(name, slots, description, include_deferred=False)
    return list(pools)


if __name__ == "__main__":
    print("pools:", ", ".join(ensure_pools()))
