"""``govern trace …``: the sharing trace and lineage answers (共享过程可追溯, :mod:`citygov.trace`).

- ``trace import``: take the exchange platform's served share requests into the store, once each, with the
  dataset's state when served (connection ``exchange_platform``, as 按需共享率 reads it);
- ``trace dataset CODE``: where a dataset comes from, who received it, and its quality at each share;
- ``trace batch BATCH_ID``: what a backflow batch fed and who read those tables after it arrived.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Plug the ``trace`` group into ``govern``."""
    trace = sub.add_parser("trace", help="sharing trace and lineage (共享过程可追溯)").add_subparsers(
        dest="command", required=True)
    p = trace.add_parser(
        "import", help="import served share requests from the exchange platform's log, exactly once",
        description="Reads the share-request log (connection exchange_platform, table share_requests) and traces "
        "every served request not traced yet with the dataset's score, grade, open high-severity items and "
        "backflow batches when it was served.")
    p.add_argument("--date", help="shares served up to the end of this day (YYYY-MM-DD; default: up to now)")
    p.add_argument("--full", action="store_true", help="read the whole log, not only the window after the newest share")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--conn-id", default="exchange_platform", help="connection of the share-request log")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _import(a, common))

    p = trace.add_parser("dataset", help="where a dataset comes from, who received it, and its quality at each share")
    p.add_argument("code", help="信息资源代码")
    p.add_argument("--from", dest="date_from", help="first served day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", help="last served day (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _dataset(a, common))

    p = trace.add_parser("batch", help="what a backflow batch fed and who read those tables after")
    p.add_argument("batch_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _batch(a, common))


def _import(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.trace import day_end, import_configured

    engine = common.engine(args)
    until = day_end(common.parse_date(args.date)) if args.date else datetime.now(UTC)
    result = import_configured(engine, common.resolver(args), until, conn_id=args.conn_id, full=args.full)
    if result is None:
        print(f"error: connection {args.conn_id!r} (the exchange platform's share-request log) is not defined; "
              "pass --connections or set AIRFLOW_CONN_" + args.conn_id.upper(), file=sys.stderr)
        return common.EXIT_ERROR
    if args.json:
        common.print_json(result.to_dict())
    elif result.error is None:
        print(f"{result.source}: {len(result.imported)} share(s) traced, {result.already} already traced "
              f"({result.read} served in the window read)")
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return common.EXIT_ERROR
    return common.EXIT_OK


def _day(common: ModuleType, value: str | None):  # type: ignore[no-untyped-def]
    return common.parse_date(value) if value else None


def _dataset(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.trace import dataset_trace

    date_from, date_to = _day(common, args.date_from), _day(common, args.date_to)
    if date_from and date_to and date_from > date_to:
        print(f"error: --from {date_from} is after --to {date_to}", file=sys.stderr)
        return common.EXIT_ERROR
    trace = dataset_trace(common.engine(args), args.code, date_from=date_from, date_to=date_to)
    if trace is None:
        print(f"error: dataset {args.code!r} is neither catalogued nor shared nor backflowed", file=sys.stderr)
        return common.EXIT_ERROR
    if args.json:
        common.print_json(trace.to_dict())
        return common.EXIT_OK
    o = trace.origin
    print(f"{trace.code} {trace.name or ''} · provider {trace.provider or '—'}")
    if o.kind == "backflow":
        print(f"  comes from: backflow from {o.department or '—'} via {o.landing} → {o.conn_id}/{o.location}")
        for b in o.batches:
            print(f"    batch {b['batch_id']} {b['logical_date']} {b['mode']} {b['status']}: loaded {b['loaded']}, "
                  f"quarantined {b['quarantined']}")
    else:
        print(f"  comes from: {o.department or '—'}'s {o.source_kind or 'source'} {o.conn_id}/{o.location}")
    print(f"  shares: {len(trace.shares)} to {len(trace.receivers)} department(s)")
    for s in trace.shares:
        quality = f"{s.score:.2f} {s.grade} (scored {s.scored_on})" if s.score is not None else (
            f"not scored ({s.scored_on})" if s.score_status == "not_scored" else "no score yet")
        high = f", {len(s.open_high)} open high-severity item(s)" if s.open_high else ""
        print(f"    {s.served_on} {s.request_id} → {s.requester} [{s.share_method or '—'}]: {quality}{high}")
    return common.EXIT_OK


def _batch(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.trace import batch_trace

    trace = batch_trace(common.engine(args), args.batch_id)
    if trace is None:
        print(f"error: no backflow batch {args.batch_id!r} is recorded (govern backflow batches lists them)",
              file=sys.stderr)
        return common.EXIT_ERROR
    if args.json:
        common.print_json(trace.to_dict())
        return common.EXIT_OK
    b = trace.batch
    print(f"batch {b['batch_id']} ({b['resource_code']}, {b['logical_date']}, {b['mode']}): {b['status']}")
    for t in trace.fed or []:
        print(f"  fed {t['conn_id']}/{t['table']}: {t['rows_loaded']} row(s) loaded, {t['rows_quarantined']} quarantined")
    if not trace.fed:
        print("  fed nothing (not loaded)")
    for q in trace.quarantine:
        print(f"  finding {q['rule_id']} {q['column'] or ''}: {q['rows'] or '—'} row(s), dispute {q['dispute_id'] or '—'}")
    print(f"  read afterwards by {len({s.requester for s in trace.readers})} department(s) in {len(trace.readers)} share(s)")
    for s in trace.readers:
        print(f"    {s.served_on} {s.request_id} → {s.requester} ({s.grade or 'no grade'})")
    return common.EXIT_OK
