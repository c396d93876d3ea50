"""Backflow benchmark: loading a 2M-row batch into PostgreSQL end to end, as a ratio to a raw ``COPY`` of the
same file measured in the same run, plus peak memory for that file and a 5M-row one.

- **baseline**: ``COPY plain FROM STDIN (FORMAT csv, HEADER)`` of the data file, streamed in 1 MiB blocks,
  into a plain table of text columns (no checks, no key, no lineage) — the fastest a file gets into
  PostgreSQL;
- **citygov**: :func:`citygov.backflow.ingest_batch` on the same file: manifest, sha256, encoding and
  header (one pass), then one streaming pass (:mod:`citygov.backflow.pgfast`) that splits blocks of lines
  (compiled), checks shape, types, the suite's row expectations (``expectations/320700-SDSJ-0002.json``,
  vectorized), and COPYs the good lines, as binary tuples, into the emptied resource table while the next
  block is checked; rebuilding its primary key after the COPY proves the keys unique (a repeat would send the
  batch again with key hashes); failures go to the quarantine in the same transaction — what the DAG
  runs. The batch is ``full`` (the table is replaced).

The file is the demo's insured-persons backflow resource (ID number, name, insurance type, division,
two dates) with a few rows failing the suite; the run asserts declared = loaded + quarantined. Peak
memory is measured in a child process that only loads the file (``ru_maxrss``): the 2M-row one (its rows
go in key order, the file read into memory) and a 5M-row one (larger than that budget: file order).

    python bench/backflow_bench.py [--rows 2000000] [--repeat 3] [--memory-rows 5000000] [--skip-memory]

Scratch databases are created and dropped on the local PostgreSQL; files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("CITYGOV_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CODE = "320700-SDSJ-0002"
AS_OF = date(2026, 11, 28)
HEADER = ["sfzhm", "xm", "xzlx", "cbdq", "cbrq", "tbsj"]
DIVISIONS = ["320703", "320706", "320707", "320722", "320723", "320724"]
BAD_EVERY = 100_000
"""One row in this many fails the suite (an unknown division code)."""


def write_batch(folder: Path, rows: int) -> Path:
    """A full batch of ``rows`` insured persons (unique ID numbers) with its manifest; returns the folder."""
    from citygov.identifiers import ric_check_char

    folder.mkdir(parents=True)
    path = folder / "data.csv"
    digest = hashlib.sha256()
    born0 = date(1960, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        block = []
        for i in range(rows):
            born = born0 + timedelta(days=i % 14_000)
            body = f"{DIVISIONS[i % 6]}{born:%Y%m%d}{(i // 14_000) % 1000:03d}"
            division = "329999" if i % BAD_EVERY == BAD_EVERY - 1 else DIVISIONS[(i // 7) % 6]
            block.append(
                (body + ric_check_char(body), f"张{i % 9973}", "110", division, f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}",
                 f"2026-11-27 02:{i % 60:02d}:{(i // 60) % 60:02d}")
            )
            if len(block) == 50_000:
                writer.writerows(block)
                block = []
        writer.writerows(block)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if rows > 14_000 * 1000:
        raise SystemExit("at most 14M unique ID numbers in this generator")
    manifest = {
        "batch_id": folder.name, "resource_code": CODE, "logical_date": AS_OF.isoformat(), "mode": "full",
        "declared_rows": rows, "sha256": digest.hexdigest(), "schema_version": "1.0", "sender": "bench",
        "encoding": "utf-8",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@contextmanager
def scratch_db():
    name = f"citygov_bench_backflow_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def governance_store(folder: Path) -> tuple[sa.Engine, object]:
    """A SQLite governance store with the demo catalog imported; returns it and the bench's entry."""
    from citygov.catalog.importer import import_catalog
    from citygov.catalog.queries import load_entries
    from citygov.demo import create_demo_city
    from citygov.store import engine_for, upgrade

    city = create_demo_city(folder / "city")
    url = f"sqlite:///{folder / 'governance.db'}"
    upgrade(url)
    store = engine_for(url)
    import_catalog(store, city.catalog_path)
    (entry,) = load_entries(store, codes=[CODE])
    return store, entry


def warm_gx() -> tuple[float, float]:
    """Import Great Expectations (and register citygov's expectations) and load the fast path's compiled
    kernels before timing: fixed costs per process, paid once by a worker whatever the batch size;
    printed, not counted in the ratio. Returns both times."""
    from citygov.quality.suites import register_expectations

    started = time.perf_counter()
    register_expectations()
    gx = time.perf_counter() - started
    started = time.perf_counter()
    from citygov.backflow import copybin
    from citygov.quality import kernels

    copybin.warm()
    kernels.warm()
    return gx, time.perf_counter() - started


def ingest(folder: Path, target_url: str, work: Path) -> tuple[float, object]:
    from citygov.backflow import ingest_batch, scan_landing

    store, entry = governance_store(work)
    warm_gx()
    (batch,) = [b for b in scan_landing(folder.parent) if b.batch_id == folder.name]
    target = sa.create_engine(target_url)
    try:
        started = time.perf_counter()
        result = ingest_batch(store, target, batch, entry, chunk_size=20_000)
        elapsed = time.perf_counter() - started
    finally:
        target.dispose()
        store.dispose()
    return elapsed, result


def raw_copy(path: Path, url: str) -> float:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE plain (" + ", ".join(f'"{h}" text' for h in HEADER) + ")")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy("COPY plain FROM STDIN (FORMAT csv, HEADER true)") as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


def typed_copy(path: Path, url: str, work: Path) -> float:
    """``COPY`` of the same file into the resource's own table (typed columns, primary key in place, no
    checks, no lineage): what loading this table costs PostgreSQL alone. Printed for context only."""
    import psycopg

    from citygov.backflow.target import ensure_target_tables

    _, entry = governance_store(work)
    engine = sa.create_engine(url)
    try:
        table = ensure_target_tables(engine, entry)
    finally:
        engine.dispose()
    columns = ", ".join(f'"{h}"' for h in HEADER)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        statement = f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT csv, HEADER true)'
        with conn.cursor().copy(statement) as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


def memory_child(rows: int, work: Path) -> None:
    """Child process: load a ``rows``-row file and print its own peak RSS in MiB (JSON on the last line)."""
    folder = write_batch(work / "landing" / f"BENCH-MEM-{rows}", rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from citygov.backflow import pgfast

    orders = count_key_orders(pgfast)
    with scratch_db() as url:
        elapsed, result = ingest(folder, url, work)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": elapsed, "status": result.status, "loaded": result.loaded_rows,
                      "quarantined": result.quarantined_rows, "peak_mib": peak, "before_load_mib": before / 1024,
                      "order": "key order" if orders[0] else "file order"}))


def count_key_orders(pgfast: object) -> list[int]:
    """Count the loads that went in key order (a list of one counter, filled as the load runs)."""
    real = pgfast._key_ordered_blocks  # type: ignore[attr-defined]
    counter = [0]

    def counted(*args: object) -> object:
        blocks = real(*args)
        counter[0] += blocks is not None
        return blocks

    pgfast._key_ordered_blocks = counted  # type: ignore[attr-defined]
    return counter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of raw COPY and ingest; the median ratio counts")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "include"))
    if args.memory_child:
        memory_child(args.memory_child, Path(args.work))
        return 0

    with tempfile.TemporaryDirectory(prefix="citygov-backflow-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        folder = write_batch(work / "landing" / "BENCH-20261128-001", args.rows)
        size = (folder / "data.csv").stat().st_size
        print(f"backflow bench: {args.rows:,} rows, {size / 2**20:.0f} MiB CSV (generated in "
              f"{time.perf_counter() - started:.1f} s), suite {CODE}, full batch, PostgreSQL target")
        gx, kernels = warm_gx()
        print(f"  fixed costs per process (not in the ratio): importing Great Expectations {gx:.1f} s, "
              f"loading the compiled kernels {kernels:.1f} s")
        runs = []
        for i in range(args.repeat):  # pairs, one after the other: the machine's noise hits both alike
            with scratch_db() as url:
                baseline = raw_copy(folder / "data.csv", url)
            with scratch_db() as url:
                elapsed, result = ingest(folder, url, work / f"run{i}")
            assert result.status == "loaded", result.reason
            assert result.loaded_rows + result.quarantined_rows == args.rows
            assert result.quarantined_rows == args.rows // BAD_EVERY, result.quarantined_rows
            runs.append((elapsed / baseline, baseline, elapsed))
            print(f"  run {i + 1}: raw COPY {baseline:5.2f} s ({args.rows / baseline:,.0f} rows/s), citygov ingest_batch "
                  f"{elapsed:5.2f} s ({args.rows / elapsed:,.0f} rows/s; loaded {result.loaded_rows:,}, quarantined "
                  f"{result.quarantined_rows:,}): {elapsed / baseline:.2f}x")
        ratio, baseline, elapsed = sorted(runs)[len(runs) // 2]
        print(f"  ratio citygov / COPY      {ratio:7.2f}x  median of {len(runs)} pairs "
              f"(target ≤ 2.0x: {'met' if ratio <= 2.0 else 'NOT met'}; range {min(runs)[0]:.2f}–{max(runs)[0]:.2f}x)")
        with scratch_db() as url:
            typed = typed_copy(folder / "data.csv", url, work / "typed")
        print(f"  for context: COPY into the resource's typed table with its primary key, no checks: "
              f"{typed:.2f} s = {typed / baseline:.2f}x the raw COPY")
        if not args.skip_memory:
            # The batch of the ratio goes in key order (the file read into memory, within pgfast.SORT_MEMORY);
            # the 5M-row file is larger than that budget and streams in file order.
            for rows in (args.rows, args.memory_rows):
                out = subprocess.run(
                    [sys.executable, __file__, "--memory-child", str(rows), "--work", str(work / f"mem{rows}")],
                    capture_output=True, text=True, check=True,
                )
                mem = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"  peak RSS, {mem['rows']:,}-row file ({mem['order']}): {mem['peak_mib']:.0f} MiB in a child "
                      f"process (target < 1024 MiB: {'met' if mem['peak_mib'] < 1024 else 'NOT met'}); "
                      f"load {mem['seconds']:.1f} s, {mem['status']}, loaded {mem['loaded']:,}, "
                      f"quarantined {mem['quarantined']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
