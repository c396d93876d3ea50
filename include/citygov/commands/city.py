"""``govern city …``: onboard a city in one step, and say which city is served.

``govern city init`` checks the catalog and the connections (:func:`citygov.onboarding.check_city`; exit 2
and a list, nothing written, when something is wrong), writes the city (:func:`citygov.onboarding.onboard_city`),
registers it with the city's own Airflow (``airflow db migrate``, ``airflow connections import``, the
Variable ``citygov_catalog_file``), makes it the active city, runs the pipeline once the way ``make demo``
does (``scripts/run_dags.py``) and prints what was found and what to review. The Airflow steps run through
``scripts/airflow_env.sh`` with the city's profile, the one place Airflow's settings live.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

RESULT_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("catalog", "list"),
    ("catalog", "history", "--limit", "1"),
    ("census", "show"),
    ("patrol", "findings"),
    ("scores",),
    ("backflow", "batches"),
    ("disputes", "list"),
)
"""What ``make demo`` and ``govern city init`` print after the pipeline ran (``govern city results``)."""


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    """Plug the ``city`` group into ``govern``."""
    city = sub.add_parser("city", help="the city served: onboard one, show or switch it").add_subparsers(
        dest="command", required=True
    )
    p = city.add_parser(
        "init",
        help="onboard a city in one step: check, register, draft suites, run the pipeline once",
        description="Checks the catalog and every connection first and writes nothing (exit 2, with a list) "
        "when something is wrong. Then writes the city's profile and folders, registers its connections "
        "and catalog with its own Airflow, drafts a suite for every dataset that has none, makes it the "
        "active city (make up, govern and the DAGs serve it) and runs the pipeline once.",
    )
    p.add_argument("--catalog", required=True, help="the catalog export (CSV or XLSX)")
    p.add_argument("--connections", required=True, help="connections JSON (airflow connections import format)")
    p.add_argument("--dir", help="the city's folder (default: data/city)")
    p.add_argument("--name", help="the city's name (default: its folder's name)")
    p.add_argument("--store", metavar="URL", help="governance store URL (default: SQLite in the city's data folder)")
    p.add_argument("--date", help="logical date of the first run (YYYY-MM-DD; default today in Asia/Shanghai)")
    p.add_argument("--no-run", action="store_true", help="register and draft, but do not run the pipeline")
    p.add_argument("--dags", help="DAG ids to run, in order (default: the Makefile's PIPELINE_DAGS)")
    p.set_defaults(func=lambda a: _init(a, common))
    p = city.add_parser("show", help="the active city's profile")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _show(a, common))
    p = city.add_parser("use", help="make an onboarded city (its folder or city.json) the active one")
    p.add_argument("profile")
    p.set_defaults(func=lambda a: _use(a, common))
    p = city.add_parser("demo-profile", help="write the demo's profile (make demo does) from this environment")
    p.add_argument("--dir", required=True, help="the demo city's folder (data/demo)")
    p.set_defaults(func=lambda a: _demo_profile(a, common))
    p = city.add_parser("results", help="what the pipeline found: catalog, census, patrol, scores, backflow, disputes")
    p.set_defaults(func=lambda a: _results(a, common))


def _init(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.onboarding import CityProfile, activate, check_city, onboard_city, write_airflow_connections
    from citygov.settings import data_dir

    day = common.parse_date(args.date)
    check = check_city(Path(args.catalog), Path(args.connections))
    if not check.ok:
        print(f"city not onboarded, nothing was written: {len(check.problems)} problem(s)", file=sys.stderr)
        for problem in check.problems:
            print(f"  [{problem.kind}] {problem}", file=sys.stderr)
        return common.EXIT_ERROR
    profile = CityProfile.in_folder(
        Path(args.dir) if args.dir else data_dir() / "city",
        catalog_file=Path(args.catalog),
        connections_file=Path(args.connections),
        store_url=args.store or args.db,
        name=args.name,
    )
    report = onboard_city(profile, check)
    imported = report.catalog_import
    print(f"city {profile.name!r}: profile {profile.profile_file}")
    print(f"  catalog {imported['file']}: {imported['accepted']} entries imported into {common.safe_url(profile.store_url)}")
    print(f"  sources: {len(report.sources)} registered; suites: {len(report.drafted)} drafted, "
          f"{len(report.kept)} kept in {profile.suites_dir}")
    write_airflow_connections(profile.connections_file, profile.store_url, profile.airflow_connections_file)
    env_file = profile.directory / "city.env"
    steps = [
        ("airflow db migrate", ["airflow", "db", "migrate"]),
        ("airflow connections import", ["airflow", "connections", "import", "--overwrite", str(profile.airflow_connections_file)]),
        ("airflow variables set citygov_catalog_file", [
            "airflow", "variables", "set", "--description", "the office's catalog export that catalog_sync imports",
            "citygov_catalog_file", str(profile.catalog_file),
        ]),
    ]
    for label, command in steps:
        if _in_city(env_file, command, log=profile.airflow_home / "city-init.log") != 0:
            print(f"error: {label} failed; see {profile.airflow_home / 'city-init.log'}", file=sys.stderr)
            return common.EXIT_ERROR
    print(f"  Airflow home {profile.airflow_home}: connections {', '.join(sorted(check.connections))} and the catalog registered")
    print(f"  active city: {activate(profile)} (make up serves it)")
    status = common.EXIT_OK
    if not args.no_run:
        from citygov.settings import project_home

        dags = args.dags.split() if args.dags else pipeline_dags()
        print(f"\n── the pipeline for {day.isoformat()}: {' '.join(dags)}", flush=True)
        ran = _in_city(env_file, ["python", str(project_home() / "scripts" / "run_dags.py"), day.isoformat(), *dags])
        if ran != 0:
            status = common.EXIT_PROBLEMS
        _results(argparse.Namespace(db=profile.store_url), common)
    print("\n── to review")
    for line in report.review or ["nothing"]:
        print(f"  {line}")
    print("  then: govern suites check lists the drafts; govern suites accept CODE once reviewed; make up serves this city")
    return status


def _in_city(env_file: Path, command: list[str], *, log: Path | None = None) -> int:
    """Run ``command`` in the environment of ``scripts/airflow_env.sh`` with the city's profile."""
    import os

    from citygov.settings import project_home

    env = dict(os.environ, CITYGOV_CITY_ENV=str(env_file))
    script = f'source {project_home() / "scripts" / "airflow_env.sh"} && exec "$@"'
    if log is None:
        return subprocess.run(["bash", "-c", script, "city", *command], env=env, check=False).returncode
    with log.open("a", encoding="utf-8") as out:
        return subprocess.run(["bash", "-c", script, "city", *command], env=env, stdout=out, stderr=out, check=False).returncode


def pipeline_dags() -> list[str]:
    """The Makefile's ``PIPELINE_DAGS``: the DAGs in the order ``make demo`` runs them (defined there once)."""
    from citygov.settings import project_home

    text = (project_home() / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^PIPELINE_DAGS\s*:=\s*(.+)$", text, re.MULTILINE)
    if match is None:
        raise SystemExit("error: no PIPELINE_DAGS in the Makefile; pass --dags")
    return match.group(1).split()


def _show(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.onboarding import active_profile

    profile = active_profile()
    if profile is None:
        print("no city is configured: make up serves the demo (govern city init onboards one)")
        return common.EXIT_OK
    if args.json:
        common.print_json(profile.to_dict())
        return common.EXIT_OK
    for key, value in profile.to_dict().items():
        print(f"{key:<17} {common.safe_url(value) if key == 'store_url' else value}")
    return common.EXIT_OK


def _use(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.onboarding import CityProfile, activate

    try:
        profile = CityProfile.read(Path(args.profile))
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {args.profile}: not a city profile ({exc})", file=sys.stderr)
        return common.EXIT_ERROR
    print(f"active city: {profile.name} ({activate(profile)}); make up serves it")
    return common.EXIT_OK


def _demo_profile(args: argparse.Namespace, common: ModuleType) -> int:
    import os

    from citygov.onboarding import CityProfile
    from citygov.quality.suites import suites_dir
    from citygov.settings import data_dir, governance_url, project_home

    directory = Path(args.dir).resolve()
    profile = CityProfile(
        name="demo",
        directory=directory,
        airflow_home=Path(os.environ.get("AIRFLOW_HOME") or project_home() / ".airflow").resolve(),
        store_url=governance_url(args.db),
        suites_dir=suites_dir().resolve(),
        data_dir=data_dir(),
        catalog_file=directory / "catalog.csv",
        connections_file=directory / "connections.json",
    )
    profile.write()
    print(f"demo profile: {profile.profile_file} (govern city use {directory} makes it the active city)")
    return common.EXIT_OK


def _results(args: argparse.Namespace, common: ModuleType) -> int:
    db = ["--db", args.db] if getattr(args, "db", None) else []
    for command in RESULT_COMMANDS:
        print(f"\n── govern {' '.join(command)}", flush=True)
        common.main([*db, *command])
    return common.EXIT_OK
