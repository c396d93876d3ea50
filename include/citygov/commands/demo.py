"""``govern demo``: the generated demo city."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

from citygov import settings


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``demo`` commands to ``govern``."""
    demo = sub.add_parser("demo", help="the generated demo city").add_subparsers(dest="command", required=True)
    p = demo.add_parser("create", help="generate a deterministic demo city")
    p.add_argument("--out", help="folder to write (default: data/demo)")
    p.add_argument("--scale", type=int, default=1, help="grow rows and datasets (default 1)")
    p.add_argument("--seed", type=int, default=20231026)
    p.set_defaults(func=lambda a: cmd_demo_create(a, common))


def cmd_demo_create(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.demo import create_demo_city

    out = Path(args.out) if args.out else settings.data_dir() / "demo"
    city = create_demo_city(out, scale=args.scale, seed=args.seed)
    print(f"demo city written to {out}")
    print(city.summary())
    return common.EXIT_OK
