"""``govern catalog``: import the catalog (目录) export, list it, and its import history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

SHOWN_CODES = 20
"""Codes an import prints per kind of change (``--json`` has them all)."""


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``catalog`` commands to ``govern``."""
    catalog = sub.add_parser("catalog", help="the catalog (目录)").add_subparsers(dest="command", required=True)
    p = catalog.add_parser("import", help="import a catalog CSV/XLSX export (UTF-8, GBK, GB18030 detected)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
    p.set_defaults(func=lambda a: cmd_catalog_import(a, common))
    p = catalog.add_parser("list", help="list catalog entries")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include withdrawn entries")
    p.add_argument("--search", metavar="TEXT", help="only entries whose code, name or department contains TEXT (taken literally)")
    p.add_argument("--department", help="only this department's (信息资源提供方) entries")
    p.add_argument("--limit", type=int, help="at most this many entries (ordered by code)")
    p.add_argument("--offset", type=int, default=0, help="skip this many first")
    p.set_defaults(func=lambda a: cmd_catalog_list(a, common))
    p = catalog.add_parser("history", help="what each import added, changed, withdrew and rejected")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--all-changes", action="store_true", help="list every changed entry, not the first 10")
    p.set_defaults(func=lambda a: cmd_catalog_history(a, common))


def cmd_catalog_import(args: argparse.Namespace, common: ModuleType) -> int:
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
            result = import_catalog(common.engine(args), path, source_label="cli").to_dict()
    except CatalogFileError as exc:
        if args.json:
            common.print_json({"file": str(path), "error": str(exc), "ok": False})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    if args.json:
        common.print_json(result)
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
                if codes := result[kind]:  # a city's first import adds thousands: the first ones, then a count
                    more = f" … and {len(codes) - SHOWN_CODES} more (--json lists them all)" if len(codes) > SHOWN_CODES else ""
                    print(f"  {kind} {len(codes)}: {', '.join(codes[:SHOWN_CODES])}{more}")
            print(f"  unchanged: {result['unchanged']}")
    return common.EXIT_OK if result["ok"] else common.EXIT_PROBLEMS


def cmd_catalog_list(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.catalog.queries import page_entries

    if (args.limit is not None and args.limit < 1) or args.offset < 0:
        print("govern catalog list: --limit must be at least 1 and --offset at least 0", file=sys.stderr)
        return common.EXIT_ERROR
    page = page_entries(common.engine(args), include_withdrawn=args.all, text=args.search, department=args.department,
                        limit=args.limit or sys.maxsize, offset=args.offset)
    entries = page.entries
    if args.json:
        common.print_json(entries)
        return common.EXIT_OK
    shown = f"{len(entries)} of {page.total}" if len(entries) != page.total else str(page.total)
    print(f"{shown} catalog entries" + "".join(f" · {k} {v!r}" for k, v in (("search", args.search), ("department", args.department)) if v))
    for e in entries:
        cols = e["columns"].count(":")
        status = "已撤回" if e["withdrawn_at"] else e["lifecycle"]
        print(
            f"  {e['code']:<18} {e['name']}  [{e['provider']}] {e['sensitivity']} "
            f"{e['share_type']}/{e['open_attr']} {e['update_cycle']} {cols} 信息项 {status}"
        )
    return common.EXIT_OK


def cmd_catalog_history(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.catalog.queries import import_history

    history = import_history(common.engine(args), limit=args.limit)
    if args.json:
        common.print_json(history)
        return common.EXIT_OK
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
    return common.EXIT_OK
