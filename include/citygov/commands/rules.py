"""``govern rules``: every rule the pipeline reports, in words (:mod:`citygov.rulebook`)."""

from __future__ import annotations

import argparse
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``rules`` command to ``govern``."""
    p = sub.add_parser(
        "rules",
        help="every rule id with its titles, GB/T 36344 dimension, severity and how to fix",
        description="The rule ids stored in findings and dispute items (patrol, census, quality, backflow, "
        "catalog import, consumers' claims, expectation types), as defined once in citygov.findings.RULES and "
        "citygov.expectation_rules. Give rule ids to show only those.",
    )
    p.add_argument("rule_ids", nargs="*", metavar="RULE_ID", help="only these rules (unknown ids are titled by themselves)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _rules(a, common))


def _rules(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.rulebook import all_rules, describe

    texts = [describe(r) for r in args.rule_ids] if args.rule_ids else all_rules()
    if args.json:
        common.print_json([t.to_dict() for t in texts])
        return common.EXIT_OK
    for t in texts:
        print(f"{t.code}\n  {t.label}  [{t.dimension.value} · {t.severity_note}]")
        if t.fix:
            print(f"  how to fix: {t.fix}")
    return common.EXIT_OK
