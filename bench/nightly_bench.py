"""Nightly-chain benchmark: the whole chain at the size of a province-level city, on the production topology.

Generates a city of ``--entries`` catalog entries (default 10,000) over ``--departments`` departments (60),
dealt round-robin onto SQLite, PostgreSQL (databases ``b_nightly_*``) and MariaDB (``b_nightly_*``)
(``bench/nightly_city.py``), starts the CeleryExecutor topology as processes (``scripts/cluster.py``:
api-server on :8181, scheduler, dag-processor, triggerer, one Celery worker; Redis db 5, metadata database
``b_airflow`` and store ``b_governance`` on the local PostgreSQL, AIRFLOW_HOME under /tmp/b-airflow), runs
the nightly chain as the cluster test does (catalog_sync, then public_data_census and catalog_patrol;
quality_inspection and dispute_routing follow their assets; a cluster policy of the bench's own makes the
three triggered DAGs run on demand only, so that unpausing them does not also start a run for their latest
schedule interval and double the night) and prints:

- wall time per DAG (first start to last end of its runs: dispute_routing runs after every asset, so its
  span is the night's and its runs mostly wait for a slot) and catalog entries per second;
- peak memory of each component: VmHWM of its main process, the largest VmHWM among its children (task
  runners, api workers), and the high-water of the whole tree's RSS, sampled every second;
- the ratio to the cheapest possible pass, measured in this process on the same sources after the chain:
  one metadata query per source (list its tables) plus one fused scan per catalogued table
  (``SELECT COUNT(*), COUNT(c1), … FROM t``);
- DAG parse time (a DagBag of dags/, as the dag-processor builds it) with 50 entries in the store and with
  every entry, to show that no DAG reads the catalog at parse time;
- findings per stage against the planted defects.

Everything it started is stopped and its databases dropped, also on failure or Ctrl-C.

    python bench/nightly_bench.py [--entries 10000] [--departments 60] [--rows 40] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from nightly_city import BenchCity, create_bench_city  # noqa: E402

from scripts import cluster as topology  # noqa: E402

BASE = Path("/tmp/b-airflow")
PREFIX = "b_nightly"
CHAIN = ["catalog_sync", "public_data_census", "catalog_patrol", "quality_inspection", "dispute_routing"]
TERMINAL = {"success", "failed"}
SMALL_CATALOG = 50
RESULT = BASE / "result.json"
"""The figures so far, rewritten after every step (a run stopped half-way still leaves what it measured)."""

ON_DEMAND_POLICY = '''\
ON_DEMAND = {"catalog_sync", "public_data_census", "catalog_patrol"}


def dag_policy(dag):
    """Bench cluster only: the DAGs the bench triggers for the city's night run when triggered, not also
    for the latest interval of their schedule as unpausing would start them (catchup=False)."""
    if dag.dag_id in ON_DEMAND:
        from airflow.sdk.definitions.timetables.simple import NullTimetable

        dag.timetable = NullTimetable()
'''

PARSE_SCRIPT = r"""
import json, os, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter() - t0
passes = []
for _ in range(2):
    t = time.perf_counter()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)
    passes.append({"total_s": time.perf_counter() - t,
                   "files": {os.path.basename(s.file): s.duration.total_seconds() for s in bag.dagbag_stats},
                   "dags": len(bag.dags), "errors": len(bag.import_errors)})
print(json.dumps({"airflow_import_s": imported, "passes": passes}))
"""


# ── the cluster ──────────────────────────────────────────────────────────────────────────────────────


def cluster_config(city: BenchCity, run_dir: Path) -> topology.ClusterConfig:
    return topology.ClusterConfig(
        run_dir=run_dir,
        api_port=8181,
        metadata_db="b_airflow",
        store_db="b_governance",
        redis_url="redis://127.0.0.1:6379/5",
        queue="b_nightly",
        connections_file=str(city.connections_path),
        catalog_file=str(city.catalog_path),
        ports={"scheduler_health": topology.free_port(), "worker_logs": 8893, "trigger_logs": 8894},
        extra_env={"CITYGOV_SUITES_DIR": str(city.suites_dir)},
    )


def stop_previous(run_dir: Path) -> None:
    """A run left behind by a killed bench: stop its processes, drop its databases."""
    if (run_dir / "cluster.json").exists():
        topology.down(topology.ClusterConfig.load(run_dir), drop=True, grace=10)
    shutil.rmtree(run_dir, ignore_errors=True)


class Api:
    """The Airflow REST API as the operator user."""

    def __init__(self, cfg: topology.ClusterConfig) -> None:
        import httpx

        token = httpx.post(f"{cfg.api_url}/auth/token",
                           json={"username": "operator", "password": cfg.passwords["operator"]}, timeout=60)
        token.raise_for_status()
        self.http = httpx.Client(base_url=f"{cfg.api_url}/api/v2", timeout=60,
                                 headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def runs(self) -> list[dict]:
        return self.call("GET", "/dags/~/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out: list[dict] = []
        while page := self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                                params={"limit": 100, "offset": len(out)})["task_instances"]:
            out += page
        return out

    def wait_dags(self, dag_ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            listed = {d["dag_id"] for d in self.call("GET", "/dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= listed:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAGs not parsed after {timeout:.0f} s: {sorted(set(dag_ids) - listed)}")
            time.sleep(2)

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (run := self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))["state"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(2)
        return run

    def wait_settled(self, timeout: float) -> list[dict]:
        """Until no run is queued or running three checks in a row (asset-triggered runs appear a
        scheduler loop after their event)."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 3:
            active = [(r["dag_id"], r["state"]) for r in self.runs() if r["state"] not in TERMINAL]
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still active after {timeout:.0f} s: {active}")
            quiet = 0 if active else quiet + 1
            time.sleep(3)
        return self.runs()


# ── measuring ───────────────────────────────────────────────────────────────────────────────────────


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(threading.Thread):
    """Each component's memory high-water, sampled every second: VmHWM of its main process, the largest
    VmHWM of a child, and the largest RSS of its whole tree."""

    def __init__(self, cfg: topology.ClusterConfig) -> None:
        super().__init__(daemon=True)
        self.cfg, self.stop = cfg, threading.Event()
        self.peaks: dict[str, dict[str, int]] = {}

    def sample(self) -> None:
        for rec in (self.cfg.run_dir / "pids").glob("*.json"):
            pid = topology.service_pid(self.cfg, rec.stem)
            if pid is None:
                continue
            peak = self.peaks.setdefault(rec.stem, {"main_hwm_kib": 0, "child_hwm_kib": 0, "tree_rss_kib": 0})
            tree = topology.process_tree(pid)
            peak["main_hwm_kib"] = max(peak["main_hwm_kib"], _status_kib(pid, "VmHWM"))
            children = [_status_kib(p.pid, "VmHWM") for p in tree if p.pid != pid]
            peak["child_hwm_kib"] = max([peak["child_hwm_kib"], *children])
            peak["tree_rss_kib"] = max(peak["tree_rss_kib"], sum(_status_kib(p.pid, "VmRSS") for p in tree))

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()


def parse_time(cfg: topology.ClusterConfig) -> dict:
    """DagBag of dags/ in a fresh process with the cluster's environment (its store, its catalog)."""
    env = topology._clean_environ() | topology.common_env(cfg)
    done = subprocess.run([sys.executable, "-c", PARSE_SCRIPT], env=env, capture_output=True, text=True,
                          cwd=cfg.run_dir, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"parsing the DAGs failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    warm = out["passes"][-1]
    return {"cold_s": round(out["passes"][0]["total_s"], 3), "warm_s": round(warm["total_s"], 3),
            "airflow_import_s": round(out["airflow_import_s"], 3), "dags": warm["dags"], "errors": warm["errors"],
            "files_warm_s": {k: round(v, 4) for k, v in sorted(warm["files"].items())}}


def small_catalog(city: BenchCity, rows: int) -> Path:
    """The first ``rows`` rows of the catalog, as its own file (GBK, same headers)."""
    path = city.root / f"catalog_{rows}.csv"
    with city.catalog_path.open(encoding="gbk", newline="") as src, path.open("w", encoding="gbk", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return path


def store_entries(cfg: topology.ClusterConfig) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(cfg.store_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM catalog_entries")).scalar() or 0)
    finally:
        engine.dispose()


def cheapest_pass(city: BenchCity, cfg: topology.ClusterConfig) -> dict:
    """One metadata query per source (its tables) plus one fused scan per catalogued table: the least any
    nightly pass over these sources could do. Timed in this process, sequentially."""
    from sqlalchemy import inspect, text

    from citygov.inventory import source_engine
    from citygov.sources import connections_from_file

    catalog: dict[str, set[str]] = {}
    with city.catalog_path.open(encoding="gbk", newline="") as fh:
        for row in csv.DictReader(fh):
            catalog.setdefault(row["数据连接"], set()).add(row["资源位置"])
    conns = connections_from_file(city.connections_path)
    queries = tables = 0
    start = time.perf_counter()
    for conn_id in sorted(catalog):
        engine = source_engine(conns[conn_id])
        try:
            with engine.connect() as c:
                names = set(inspect(c).get_table_names())
                queries += 1
                quote = c.dialect.identifier_preparer.quote
                for table in sorted(catalog[conn_id] & names):
                    cols = _columns(c, table, quote)
                    counts = ", ".join(f"COUNT({quote(col)})" for col in cols)
                    c.execute(text(f"SELECT COUNT(*), {counts} FROM {quote(table)}")).fetchall()
                    tables += 1
        finally:
            engine.dispose()
    return {"seconds": round(time.perf_counter() - start, 3), "sources": queries, "tables": tables}


def _columns(conn: Any, table: str, quote: Any) -> list[str]:
    """The table's columns from the rows it returns (no metadata query of its own)."""
    from sqlalchemy import text

    return list(conn.execute(text(f"SELECT * FROM {quote(table)} WHERE 1 = 0")).keys())


def findings_by_origin(cfg: topology.ClusterConfig, day: Any) -> dict[str, dict[str, int]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(cfg.store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT origin, count(*), count(DISTINCT coalesce(entry_code, location)) FROM findings "
                "WHERE logical_date = :d GROUP BY origin"), {"d": day}).all()
    finally:
        engine.dispose()
    return {origin: {"findings": n, "entries": e} for origin, n, e in rows}


def task_figures(api: Api, runs: list[dict]) -> dict[str, dict]:
    """Per DAG: how many task instances ran, their summed duration, and the slowest task with its seconds."""
    out: dict[str, dict] = {}
    for r in runs:
        tis = [t for t in api.task_instances(r["dag_id"], r["dag_run_id"]) if t.get("duration") is not None]
        d = out.setdefault(r["dag_id"], {"tasks": 0, "task_s": 0.0, "slowest": None, "slowest_s": 0.0})
        d["tasks"] += len(tis)
        d["task_s"] = round(d["task_s"] + sum(t["duration"] for t in tis), 1)
        for t in tis:
            if t["duration"] > d["slowest_s"]:
                d["slowest"], d["slowest_s"] = t["task_id"], round(t["duration"], 1)
    return out


def dag_walls(runs: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in runs:
        if not (r.get("start_date") and r.get("end_date")):
            continue
        start, end = datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"])
        d = out.setdefault(r["dag_id"], {"runs": 0, "states": [], "start": start, "end": end, "busy_s": 0.0})
        d["runs"] += 1
        d["states"].append(r["state"])
        d["start"], d["end"] = min(d["start"], start), max(d["end"], end)
        d["busy_s"] += (end - start).total_seconds()
    return out


# ── the run ─────────────────────────────────────────────────────────────────────────────────────────


def run(args: argparse.Namespace, result: dict[str, Any]) -> dict:
    """Generate, start, run the chain, measure, stop; ``result`` fills as the figures come in."""
    from citygov.demo import DEFAULT_AS_OF
    from citygov.settings import CITY_TZ

    run_dir = BASE / "run"
    stop_previous(run_dir)
    t0 = time.perf_counter()
    city = create_bench_city(BASE / "city", entries=args.entries, departments=args.departments, rows=args.rows,
                             engines=args.engines, prefix=PREFIX)
    generate_s = time.perf_counter() - t0
    print(f"city: {city.entries} entries, {city.departments} departments, {city.tables} tables, {city.rows} rows "
          f"in {generate_s:.1f} s {city.seconds}", flush=True)
    cfg = cluster_config(city, run_dir)
    sampler = MemorySampler(cfg)
    (cfg.airflow_home / "config").mkdir(parents=True, exist_ok=True)
    (cfg.airflow_home / "config" / "airflow_local_settings.py").write_text(ON_DEMAND_POLICY)
    result |= {"entries": city.entries, "departments": city.departments, "tables": city.tables,
               "rows": city.rows, "placement": _count(city.placement.values()),
               "generate_s": round(generate_s, 1)}
    try:
        topology.drop_databases(cfg)
        topology.purge_queue(cfg)
        t0 = time.perf_counter()
        topology.up(cfg, timeout=300)
        result["cluster_up_s"] = round(time.perf_counter() - t0, 1)
        print(f"cluster up in {result['cluster_up_s']} s ({cfg.api_url}, logs in {cfg.run_dir / 'logs'})", flush=True)
        sampler.start()
        api = Api(cfg)
        api.wait_dags(CHAIN, timeout=180)

        # Parse time with a small catalog in the store …
        from citygov.catalog.importer import import_catalog
        from citygov.store import ensure_store

        store = ensure_store(cfg.store_url)
        import_catalog(store, small_catalog(city, SMALL_CATALOG))
        store.dispose()
        parse_small = parse_time(cfg) | {"store_entries": store_entries(cfg)}
        print(f"parse with {parse_small['store_entries']} entries in the store: {parse_small['warm_s']} s", flush=True)
        result["parse"] = {"small": parse_small}
        _save(result)

        night = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=1)
        for dag_id in ("quality_inspection", "dispute_routing", "catalog_sync"):
            api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        chain_start = time.perf_counter()
        sync = api.call("POST", "/dags/catalog_sync/dagRuns", json={"logical_date": night.isoformat(), "conf": {}})
        if api.wait_run("catalog_sync", sync["dag_run_id"], args.timeout)["state"] != "success":
            raise RuntimeError("catalog_sync failed; see the worker's log")
        for dag_id in ("public_data_census", "catalog_patrol"):
            api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
            api.call("POST", f"/dags/{dag_id}/dagRuns",
                     json={"logical_date": (night + timedelta(minutes=30)).isoformat(), "conf": {}})
        runs = api.wait_settled(args.timeout - (time.perf_counter() - chain_start))
        chain_s = time.perf_counter() - chain_start
        sampler.sample()
        walls = dag_walls(runs)
        first = min(w["start"] for w in walls.values())
        last = max(w["end"] for w in walls.values())
        result["chain_s"] = round((last - first).total_seconds(), 1)
        result["chain_wall_observed_s"] = round(chain_s, 1)
        result["dags"] = {
            dag_id: {
                "runs": w["runs"],
                "states": sorted(set(w["states"])),
                "wall_s": round((w["end"] - w["start"]).total_seconds(), 1),
                "busy_s": round(w["busy_s"], 1),
                "entries_per_s": round(city.entries / max((w["end"] - w["start"]).total_seconds(), 1e-9), 1),
            }
            for dag_id, w in sorted(walls.items(), key=lambda kv: kv[1]["start"])
        }
        for dag_id, figures in task_figures(api, [r for r in runs if r["dag_id"] in result["dags"]]).items():
            result["dags"][dag_id] |= figures
        result["entries_per_s"] = round(city.entries / max(result["chain_s"], 1e-9), 1)
        result["failed"] = sorted({r["dag_id"] for r in runs if r["state"] != "success"})
        result["findings"] = findings_by_origin(cfg, DEFAULT_AS_OF)
        result["planted"] = city.expected
        _save(result)
        print(f"chain done in {result['chain_s']} s: {result['dags']}", flush=True)

        result["parse"]["full"] = parse_time(cfg) | {"store_entries": store_entries(cfg)}
        _save(result)
        baseline = cheapest_pass(city, cfg)
        result["cheapest_pass"] = baseline
        result["ratio_to_cheapest"] = round(result["chain_s"] / baseline["seconds"], 1) if baseline["seconds"] else None
        for d in result["dags"].values():
            d["ratio_to_cheapest"] = round(d["wall_s"] / baseline["seconds"], 1) if baseline["seconds"] else None
    finally:
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join(5)
        result["memory_mib"] = {
            name: {k.replace("_kib", ""): round(v / 1024, 1) for k, v in peak.items()}
            for name, peak in sorted(sampler.peaks.items())
        }
        result["bench_process_peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        _save(result)
        if not args.keep:
            strays = topology.down(cfg, drop=True, grace=15)
            result["strays_killed"] = len(strays)
            from citygov.demo.servers import MYSQL, POSTGRESQL, DemoServer, drop_demo_databases

            engines = {e for e in city.placement.values() if e in (POSTGRESQL, MYSQL)}
            drop_demo_databases(PREFIX, [DemoServer.of(e) for e in engines])
            # The city's files and the night's Data Docs (~1 GB at 10,000 entries); the logs stay.
            shutil.rmtree(city.root, ignore_errors=True)
            shutil.rmtree(cfg.run_dir / "data", ignore_errors=True)
    return result


def _save(result: dict) -> None:
    RESULT.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def report(r: dict) -> None:
    print(f"\nnightly chain: {r['entries']} entries, {r['departments']} departments ({r['placement']}), "
          f"{r['tables']} tables, {r['rows']} rows; CeleryExecutor, {os.cpu_count()} cores")
    print(f"{'DAG':<20} {'runs':>4} {'wall s':>8} {'busy s':>8} {'entries/s':>10} {'x cheapest':>10} {'tasks':>6} "
          f"{'task s':>8}  slowest task")
    for dag_id, d in r.get("dags", {}).items():
        print(f"{dag_id:<20} {d['runs']:>4} {d['wall_s']:>8} {d['busy_s']:>8} {d['entries_per_s']:>10} "
              f"{d.get('ratio_to_cheapest')!s:>9}x {d.get('tasks', '-')!s:>6} {d.get('task_s', '-')!s:>8}  "
              f"{d.get('slowest') or '-'} {d.get('slowest_s', '')} s")
    if "chain_s" in r:
        print(f"{'chain':<20} {'':>4} {r['chain_s']:>8} {'':>8} {r['entries_per_s']:>10} {r.get('ratio_to_cheapest')!s:>9}x")
        if c := r.get("cheapest_pass"):
            print(f"cheapest pass: {c['seconds']} s ({c['sources']} metadata queries + {c['tables']} fused scans, "
                  "one process)")
        print(f"findings: {r['findings']}; planted: {r['planted']}; failed DAGs: {r['failed'] or 'none'}")
    for label in ("small", "full"):
        if p := r.get("parse", {}).get(label):
            print(f"DAG parse with {p['store_entries']:>6} entries in the store: {p['warm_s']} s warm "
                  f"({p['cold_s']} s first pass), {p['dags']} DAGs, {p['errors']} errors")
    print(f"{'component':<24} {'main VmHWM MiB':>14} {'child VmHWM MiB':>15} {'tree RSS peak MiB':>17}")
    for name, m in r.get("memory_mib", {}).items():
        print(f"{name:<24} {m['main_hwm']:>14} {m['child_hwm']:>15} {m['tree_rss']:>17}")
    print(f"bench process peak RSS {r.get('bench_process_peak_mib')} MiB (generator + cheapest pass)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--departments", type=int, default=60)
    parser.add_argument("--rows", type=int, default=40, help="rows per table")
    parser.add_argument("--engines", default="sqlite,postgresql,mysql")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the chain may take")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the cluster and databases running")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    try:
        run(args, result)
    finally:
        if "entries" in result:
            report(result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 1 if result.get("failed") or "chain_s" not in result else 0


if __name__ == "__main__":
    sys.exit(main())
