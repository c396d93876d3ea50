"""``govern backflow …``: provincial backflow ingestion (数据回流) on the command line.

The same core as the DAG (:mod:`citygov.backflow`). The landing folder and the target database come from
``--landing`` / ``--target`` or from connections (``--connections FILE`` or ``AIRFLOW_CONN_<ID>``):
``backflow_landing`` (a folder) and ``dept_sdsj`` (the city's backflow staging database) by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    """Plug the ``backflow`` group into ``govern``."""
    backflow = sub.add_parser("backflow", help="provincial backflow batches (数据回流)").add_subparsers(
        dest="command", required=True
    )
    p = backflow.add_parser(
        "ingest",
        help="verify and load the landed batches exactly once",
        description="Verify every landed batch (manifest, sha256, rows, schema, encoding), load the good ones "
        "into the target with lineage and quarantine bad rows; already loaded batches are skipped.",
    )
    p.add_argument("--landing", metavar="DIR", help="landing folder (default: the --landing-conn folder)")
    p.add_argument("--target", metavar="URL", help="target SQLAlchemy URL (default: the --target-conn database)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--landing-conn", default="backflow_landing", help="folder connection id of the landing zone")
    p.add_argument("--target-conn", default="dept_sdsj", help="database connection id of the backflow store")
    p.add_argument("--date", help="only batches of this logical date (YYYY-MM-DD); dates batches without manifest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _ingest(a, common))
    p = backflow.add_parser("batches", help="recorded batches with their reconciliation and deliveries")
    p.add_argument("--date", help="only this logical date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _batches(a, common))


def _ingest(args: argparse.Namespace, common: ModuleType) -> int:
    from sqlalchemy import create_engine

    from citygov.backflow import ingest_landing

    resolve = common.resolver(args)
    try:
        if args.landing:
            landing = Path(args.landing)
        else:
            conn = resolve(args.landing_conn)
            if conn is None:
                raise LookupError(f"connection {args.landing_conn!r} is not defined (pass --landing or --connections)")
            landing = conn.folder()
        if args.target:
            target_url = args.target
        else:
            conn = resolve(args.target_conn)
            if conn is None:
                raise LookupError(f"connection {args.target_conn!r} is not defined (pass --target or --connections)")
            target_url = conn.sqlalchemy_url()
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}")
        return common.EXIT_ERROR
    day = common.parse_date(args.date) if args.date else None
    target = create_engine(target_url)
    try:
        results = ingest_landing(common.engine(args), target, landing, logical_date=day)
    finally:
        target.dispose()
    if args.json:
        common.print_json([r.to_dict() for r in results])
    else:
        for r in results:
            counts = f"declared {r.declared_rows}, loaded {r.loaded_rows}, quarantined {r.quarantined_rows}"
            print(f"{r.batch_id}  {r.status:<9} {counts}" + (f"  — {r.reason}" if r.reason else ""))
    bad = any(r.status in {"rejected", "failed"} or r.quarantined_rows for r in results)
    return common.EXIT_PROBLEMS if bad else common.EXIT_OK


def _batches(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.backflow import list_batches

    day = common.parse_date(args.date) if args.date else None
    rows = list_batches(common.engine(args), logical_date=day)
    if args.json:
        common.print_json(rows)
        return common.EXIT_OK
    for b in rows:
        rec = b["reconciliation"]
        counts = (
            f"declared {rec['declared']} = loaded {rec['loaded']} + quarantined {rec['quarantined']}"
            if b["status"] == "loaded"
            else f"declared {rec['declared']}, nothing loaded"
        )
        print(
            f"{b['logical_date']}  {b['batch_id']}  {b['resource_code']}  {b['status']:<8} {counts}"
            + (f"  — {b['reason']}" if b["reason"] else "")
        )
        for d in b["deliveries"]:
            if d["status"] not in {"accepted", "rejected"} or d["attempts"] > 1:
                print(f"    delivery {d['sha256'][:12]}  {d['status']}  ×{d['attempts']}  last seen {d['last_seen_at']}")
    return common.EXIT_OK
