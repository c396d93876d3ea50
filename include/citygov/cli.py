"""``govern``: the command line over the citygov core.

Every command calls the same core functions as the DAGs and the web API. ``--json`` prints machine-
readable output; exit status 0 means success, 1 that the command ran but found problems (e.g. rejected
catalog rows), 2 that it could not run (bad arguments, unreadable file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from citygov import settings

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from citygov.store import ensure_store

    return ensure_store(args.db)


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
        for change in imp["changes"]:
            fields = f" ({', '.join(change['diff'])})" if change["diff"] else ""
            print(f"    {change['kind']:<9} {change['code']}{fields}")
        for error in imp["errors"]:
            print(f"    rejected  line {error['line']}: {error['column']}: {error['message']}")
    return EXIT_OK


# --- demo --------------------------------------------------------------------------------------------


def cmd_demo_create(args: argparse.Namespace) -> int:
    from citygov.demo import create_demo_city

    out = Path(args.out) if args.out else settings.data_dir() / "demo"
    city = create_demo_city(out, scale=args.scale, seed=args.seed)
    print(f"demo city written to {out}")
    summary = city.summary() if hasattr(city, "summary") else str(city)
    print(summary)
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------------------


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
    p.set_defaults(func=cmd_catalog_history)

    demo = sub.add_parser("demo", help="the generated demo city").add_subparsers(dest="command", required=True)
    p = demo.add_parser("create", help="generate a deterministic demo city")
    p.add_argument("--out", help="folder to write (default: data/demo)")
    p.add_argument("--scale", type=int, default=1, help="grow rows and datasets (default 1)")
    p.add_argument("--seed", type=int, default=20231026)
    p.set_defaults(func=cmd_demo_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
