"""``govern``: the command line over the citygov core.

Every command calls the same core functions as the DAGs and the web API. ``--json`` prints machine-
readable output; exit status 0 means success, 1 that the command ran but found problems (e.g. rejected
catalog rows), 2 that it could not run (bad arguments, such as an id outside 1..2^63−1, unreadable file).
A reader that goes away (``govern … --json | head -1``) ends the command quietly with status 141
(128 + SIGPIPE, what a shell reports for a command a closed pipe stopped).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from citygov import settings

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2
EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE


def print_json(data: Any) -> None:
    """Print data as indented JSON, Chinese kept readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The governance store for a command (``--db``, else the default resolution), migrated if behind."""
    from citygov.store import ensure_store

    return ensure_store(args.db)


def row_id(text: str) -> int:
    """The argparse type of every id argument: a whole number within :data:`citygov.bounds.ID_MIN` ..
    ``ID_MAX`` (what a store key can hold); anything else is refused before the store is opened, with the
    range said (exit 2)."""
    from citygov.bounds import ID_MAX, ID_MIN, quoted

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not an id (a whole number)") from None
    if not ID_MIN <= value <= ID_MAX:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is out of range: an id is from {ID_MIN} to {ID_MAX}")
    return value


_print_json = print_json
_engine = engine


# --- store -------------------------------------------------------------------------------------------


def cmd_store_upgrade(args: argparse.Namespace) -> int:
    from citygov.store import upgrade

    url = settings.governance_url(args.db)
    upgrade(url)
    print(f"governance store is at the latest schema: {_safe_url(url)}")
    return EXIT_OK


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- catalog -----------------------------------------------------------------------------------------


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from citygov.catalog.importer import CatalogFileError, import_catalog, parse_catalog

    path = Path(args.file)
    try:
        if args.dry_run:
            parsed = parse_catalog(path)
            result = {
                "file": parsed.file,
                "encoding": parsed.encoding,
                "rows_total": parsed.rows_total,
                "accepted": len(parsed.entries),
                "rejected": [str(e) for e in parsed.errors],
                "ok": not parsed.errors,
                "dry_run": True,
            }
        else:
            result = import_catalog(_engine(args), path, source_label="cli").to_dict()
    except CatalogFileError as exc:
        if args.json:
            _print_json({"file": str(path), "error": str(exc), "ok": False})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        _print_json(result)
    else:
        for message in result["rejected"]:
            print(message, file=sys.stderr)
        verb = "checked" if args.dry_run else "imported"
        print(
            f"{verb} {result['file']} ({result['encoding']}): {result['rows_total']} rows, "
            f"{result['accepted']} accepted, {len(result['rejected'])} problem(s)"
        )
        if not args.dry_run:
            for kind in ("added", "changed", "restored", "withdrawn"):
                if result[kind]:
                    print(f"  {kind}: {', '.join(result[kind])}")
            print(f"  unchanged: {result['unchanged']}")
    return EXIT_OK if result["ok"] else EXIT_PROBLEMS


def cmd_catalog_list(args: argparse.Namespace) -> int:
    from citygov.catalog.queries import list_entries

    entries = list_entries(_engine(args), include_withdrawn=args.all)
    if args.json:
        _print_json(entries)
        return EXIT_OK
    print(f"{len(entries)} catalog entries")
    for e in entries:
        cols = e["columns"].count(":")
        status = "已撤回" if e["withdrawn_at"] else e["lifecycle"]
        print(
            f"  {e['code']:<18} {e['name']}  [{e['provider']}] {e['sensitivity']} "
            f"{e['share_type']}/{e['open_attr']} {e['update_cycle']} {cols} 信息项 {status}"
        )
    return EXIT_OK


def cmd_catalog_history(args: argparse.Namespace) -> int:
    from citygov.catalog.queries import import_history

    history = import_history(_engine(args), limit=args.limit)
    if args.json:
        _print_json(history)
        return EXIT_OK
    if not history:
        print("no catalog import has been recorded yet")
    for imp in history:
        print(
            f"import #{imp['import_id']} at {imp['imported_at']} by {imp['source_label'] or '-'}: "
            f"{imp['file']} ({imp['encoding']})"
        )
        print(
            f"  rows {imp['rows_total']}: accepted {imp['accepted']}, rejected {imp['rejected']}; "
            f"added {imp['added']}, changed {imp['changed']}, withdrawn {imp['withdrawn']}, "
            f"unchanged {imp['unchanged']}"
        )
        shown = imp["changes"] if args.all_changes else imp["changes"][:10]
        for change in shown:
            fields = f" ({', '.join(change['diff'])})" if change["diff"] else ""
            print(f"    {change['kind']:<9} {change['code']}{fields}")
        if len(shown) < len(imp["changes"]):
            print(f"    … and {len(imp['changes']) - len(shown)} more (--all-changes lists them)")
        for error in imp["errors"]:
            print(f"    rejected  line {error['line']}: {error['column']}: {error['message']}")
    return EXIT_OK


# --- sources, census, patrol ------------------------------------------------------------------------


def _resolver(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Connections for commands that read sources outside Airflow: a connections file
    (``--connections`` or $CITYGOV_CONNECTIONS_FILE, the ``airflow connections import`` format),
    then ``AIRFLOW_CONN_<ID>`` variables in JSON form."""
    import os

    from citygov.sources import connection_from_env, connections_from_file

    path = args.connections or os.environ.get("CITYGOV_CONNECTIONS_FILE")
    known = connections_from_file(Path(path)) if path else {}
    return lambda conn_id: known.get(conn_id) or connection_from_env(conn_id)


def _date(value: str | None):  # type: ignore[no-untyped-def]
    from datetime import date, datetime

    if value is None:
        return datetime.now(settings.CITY_TZ).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"error: --date {value!r} is not a date (YYYY-MM-DD)") from None


def cmd_sources_register(args: argparse.Namespace) -> int:
    from citygov.census import register_sources
    from citygov.sources import connections_from_file

    conns = connections_from_file(Path(args.connections_file))
    sources = [
        (c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department
    ]
    register_sources(_engine(args), sources)
    print(f"registered {len(sources)} department source(s) from {args.connections_file}")
    for conn_id, department, kind in sources:
        print(f"  {conn_id:<20} {kind:<8} {department}")
    return EXIT_OK


def cmd_census_run(args: argparse.Namespace) -> int:
    from citygov.census import run_census

    report = run_census(_engine(args), _resolver(args), _date(args.date))
    summary = report.summary()
    _print_json(summary) if args.json else _print_census(summary)
    return EXIT_OK


def _print_census(summary: dict[str, Any]) -> None:
    city = summary["coverage"]["city"]
    ratio = f"{city['coverage']:.1%}" if city["coverage"] is not None else "n/a"
    print(
        f"census {summary['logical_date']}: {summary['resources_found']} resources in {summary['sources']} sources; "
        f"目录覆盖率 {ratio} ({city['catalogued']}/{city['found']})"
    )
    for dept, cov in summary["coverage"].items():
        if dept != "city":
            print(f"  {dept:<20} {cov['catalogued']}/{cov['found']}")
    for place in summary["uncatalogued"]:
        print(f"  应编未编 {place}")
    for code in summary["missing"]:
        print(f"  有目无数 {code}")
    for conn_id, error in summary["unreachable"].items():
        print(f"  不可达   {conn_id}: {error}")


def cmd_census_show(args: argparse.Namespace) -> int:
    from citygov.census import latest_census

    census = latest_census(_engine(args), _date(args.date) if args.date else None)
    if census is None:
        print("no census has been stored yet (run the public_data_census DAG or govern census run)", file=sys.stderr)
        return EXIT_PROBLEMS
    _print_json(census) if args.json else _print_census(census)
    return EXIT_OK


def cmd_census_drafts(args: argparse.Namespace) -> int:
    from citygov.census import draft_rows, write_drafts

    rows = draft_rows(_engine(args), _date(args.date) if args.date else None)
    write_drafts(rows, Path(args.out))
    print(f"wrote {len(rows)} draft catalog row(s) to {args.out}; complete them and run govern catalog import")
    return EXIT_OK


def cmd_patrol_run(args: argparse.Namespace) -> int:
    from citygov.catalog.policy import MetadataPolicy
    from citygov.patrol import patrol_batch, plan_batches

    try:
        policy = MetadataPolicy.from_env()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    engine = _engine(args)
    resolve = _resolver(args)
    day = _date(args.date)
    batches = plan_batches(engine, args.batch_size)
    total, gaps = 0, 0
    for number, batch in enumerate(batches, start=1):
        report = patrol_batch(engine, batch, resolve, day, policy)
        total += len(report.findings)
        gaps += len(report.recommended_gaps)
        print(f"batch {number}/{len(batches)}: {len(batch)} entries, {len(report.findings)} findings", file=sys.stderr)
    print(f"patrol {day.isoformat()}: {sum(map(len, batches))} entries, {total} findings")
    if gaps:
        print(f"{gaps} entries leave recommended catalog fields empty (shown on their scorecards, not disputed)")
    return EXIT_OK


def cmd_patrol_findings(args: argparse.Namespace) -> int:
    from citygov.findings import load_findings

    findings = load_findings(_engine(args), origin=args.origin, logical_date=_date(args.date) if args.date else None)
    if args.entry:
        findings = [f for f in findings if f["entry_code"] == args.entry]
    if args.department:
        findings = [f for f in findings if f["department"] == args.department]
    if args.json:
        _print_json(findings)
        return EXIT_OK
    print(f"{len(findings)} finding(s)")
    for f in findings:
        print(f"  {f['logical_date']} [{f['severity']:<6}] {f['dimension']} {f['rule_id']}: {f['message']}")
    return EXIT_OK


# --- demo --------------------------------------------------------------------------------------------


def cmd_demo_create(args: argparse.Namespace) -> int:
    from citygov.demo import create_demo_city

    out = Path(args.out) if args.out else settings.data_dir() / "demo"
    city = create_demo_city(out, scale=args.scale, seed=args.seed)
    print(f"demo city written to {out}")
    print(city.summary())
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------------------


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", help="logical date (YYYY-MM-DD; default today in Asia/Shanghai)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govern", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        metavar="URL",
        help="governance store SQLAlchemy URL (default: $GOVERNANCE_DB_URL or data/governance.db)",
    )
    sub = parser.add_subparsers(dest="group", required=True)

    store = sub.add_parser("store", help="the governance store").add_subparsers(dest="command", required=True)
    p = store.add_parser("upgrade", help="create or migrate the store to the latest schema")
    p.set_defaults(func=cmd_store_upgrade)

    catalog = sub.add_parser("catalog", help="the catalog (目录)").add_subparsers(dest="command", required=True)
    p = catalog.add_parser("import", help="import a catalog CSV/XLSX export (UTF-8, GBK, GB18030 detected)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
    p.set_defaults(func=cmd_catalog_import)
    p = catalog.add_parser("list", help="list catalog entries")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include withdrawn entries")
    p.set_defaults(func=cmd_catalog_list)
    p = catalog.add_parser("history", help="what each import added, changed, withdrew and rejected")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--all-changes", action="store_true", help="list every changed entry, not the first 10")
    p.set_defaults(func=cmd_catalog_history)

    sources = sub.add_parser("sources", help="department sources").add_subparsers(dest="command", required=True)
    p = sources.add_parser("register", help="register department sources from a connections file")
    p.add_argument("connections_file", help="JSON in the airflow connections import format")
    p.set_defaults(func=cmd_sources_register)

    census = sub.add_parser("census", help="public data census (公共数据普查)").add_subparsers(
        dest="command", required=True
    )
    p = census.add_parser("run", help="run the census now, outside Airflow")
    _source_args(p)
    p.set_defaults(func=cmd_census_run)
    p = census.add_parser("show", help="the latest census: coverage, uncatalogued and missing resources")
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="the census of this logical date (YYYY-MM-DD)")
    p.set_defaults(func=cmd_census_show)
    p = census.add_parser("drafts", help="draft catalog rows for uncatalogued resources")
    p.add_argument("--out", required=True, help="CSV file to write (UTF-8 with BOM, import format)")
    p.add_argument("--date", help="the census of this logical date (YYYY-MM-DD)")
    p.set_defaults(func=cmd_census_drafts)

    patrol = sub.add_parser("patrol", help="catalog patrol (目录巡检)").add_subparsers(dest="command", required=True)
    p = patrol.add_parser("run", help="patrol every published entry now, outside Airflow")
    _source_args(p)
    p.add_argument("--batch-size", type=int, default=200)
    p.set_defaults(func=cmd_patrol_run)
    p = patrol.add_parser("findings", help="stored findings (patrol by default)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="only this logical date (YYYY-MM-DD)")
    p.add_argument("--entry", help="only this catalog entry code")
    p.add_argument("--department", help="only this responsible department")
    p.add_argument("--origin", default="patrol", help="patrol (default), census, quality or backflow")
    p.set_defaults(func=cmd_patrol_findings)

    demo = sub.add_parser("demo", help="the generated demo city").add_subparsers(dest="command", required=True)
    p = demo.add_parser("create", help="generate a deterministic demo city")
    p.add_argument("--out", help="folder to write (default: data/demo)")
    p.add_argument("--scale", type=int, default=1, help="grow rows and datasets (default 1)")
    p.add_argument("--seed", type=int, default=20231026)
    p.set_defaults(func=cmd_demo_create)

    import importlib
    import pkgutil

    import citygov.commands as commands

    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"citygov.commands.{module.name}").add_commands(sub, sys.modules[__name__])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the program (not called by a test): the active city, as airflow_env.sh gives it
        from citygov.onboarding import serve_active_city

        serve_active_city()
    try:
        try:
            args = build_parser().parse_args(argv)
            return int(args.func(args))
        finally:
            sys.stdout.flush()  # here, not at exit: a reader gone away is caught below
    except BrokenPipeError:
        # The reader closed the pipe (``| head``): nothing more can be said to it. Python's recipe (the
        # signal module's notes on SIGPIPE): point stdout at devnull, so the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
