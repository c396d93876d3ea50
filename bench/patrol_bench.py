"""Patrol benchmark: catalog entries patrolled per second at growing city sizes.

For each scale the demo city is generated, its catalog imported into a fresh SQLite store, and then:
- baseline: the cheapest possible pass, one metadata query per source (list its tables or files);
- patrol: every published entry patrolled (all batches, as the DAG's mapped tasks would), findings stored.
Both are timed in the same process, so the ratio patrol/baseline shows the cost of the real checks on this
machine whatever else it is doing. Each scale runs in its own subprocess so peak memory is per scale.

    python bench/patrol_bench.py [--scales 1,10,100] [--batch-size 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def run_one(scale: int, batch_size: int) -> dict:
    from sqlalchemy import inspect

    from citygov.catalog.importer import import_catalog
    from citygov.demo import DEFAULT_AS_OF, create_demo_city
    from citygov.inventory import source_engine
    from citygov.patrol import patrol_batch, plan_batches
    from citygov.sources import connections_from_file
    from citygov.store import ensure_store

    with tempfile.TemporaryDirectory() as tmp:
        city = create_demo_city(Path(tmp) / "city", scale=scale)
        engine = ensure_store(f"sqlite:///{tmp}/governance.db")
        import_catalog(engine, city.catalog_path)
        conns = connections_from_file(city.connections_path)
        conn_ids = sorted({c for c in conns if conns[c].department})

        start = time.perf_counter()
        for conn_id in conn_ids:
            conn = conns[conn_id]
            if conn.is_folder:
                list(conn.folder().iterdir())
            else:
                eng = source_engine(conn)
                with eng.connect() as c:
                    inspect(c).get_table_names()
                eng.dispose()
        baseline = time.perf_counter() - start

        start = time.perf_counter()
        batches = plan_batches(engine, batch_size)
        findings = 0
        for batch in batches:
            findings += len(patrol_batch(engine, batch, conns.get, date.fromisoformat(str(DEFAULT_AS_OF))).findings)
        patrol = time.perf_counter() - start
        entries = sum(map(len, batches))
        engine.dispose()
    return {
        "scale": scale,
        "entries": entries,
        "sources": len(conn_ids),
        "batches": len(batches),
        "findings": findings,
        "baseline_s": round(baseline, 4),
        "patrol_s": round(patrol, 3),
        "entries_per_s": round(entries / patrol, 1),
        "ratio_to_baseline": round(patrol / baseline, 1) if baseline else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.batch_size)))
        return 0
    print("patrol: catalog entries patrolled per second (SQLite sources, SQLite store)")
    print(f"{'scale':>5} {'entries':>7} {'sources':>7} {'batches':>7} {'findings':>8} "
          f"{'baseline s':>10} {'patrol s':>8} {'entries/s':>9} {'ratio':>7} {'peak MB':>7}")
    for scale in (int(s) for s in args.scales.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(scale), "--batch-size", str(args.batch_size)],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['scale']:>5} {r['entries']:>7} {r['sources']:>7} {r['batches']:>7} {r['findings']:>8} "
              f"{r['baseline_s']:>10} {r['patrol_s']:>8} {r['entries_per_s']:>9} {r['ratio_to_baseline']:>6}x "
              f"{r['peak_rss_mb']:>7}")
    print("ratio = patrol time / one metadata query per source, measured in the same process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
