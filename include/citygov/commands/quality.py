"""``govern suites …``, ``govern quality …`` and ``govern scores``: quality inspection on the command line.

The same core as the ``quality_inspection`` DAG (:mod:`citygov.quality`). Sources are reached outside
Airflow through ``--connections FILE`` (the ``airflow connections import`` format), like ``govern patrol
run``. Everything printed is masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from types import ModuleType
from typing import Any


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    """Plug the ``suites``, ``quality`` and ``scores`` groups into ``govern``."""
    suites = sub.add_parser("suites", help="expectation suites (expectations/*.json)").add_subparsers(
        dest="command", required=True
    )
    p = suites.add_parser(
        "draft",
        help="draft a suite for a catalog dataset from its 信息项 and a profile of its data",
        description="Profile the dataset and suggest expectations (Deequ-style) into expectations/CODE.json "
        "for a steward to review; an existing file is kept unless --force.",
    )
    p.add_argument("codes", nargs="+", metavar="CODE", help="catalog 信息资源代码 (or 'all')")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--suites", help="suite folder (default: expectations/ or $CITYGOV_SUITES_DIR)")
    p.add_argument("--force", action="store_true", help="overwrite an existing suite file")
    p.add_argument("--print", dest="to_stdout", action="store_true", help="print the draft instead of writing it")
    policy = p.add_argument_group(
        "draft policy", "how much of the data must keep a rule for it to be proposed (each also $CITYGOV_DRAFT_<NAME>)"
    )
    policy.add_argument("--not-blank-min", type=float, help="share of rows filled for not-blank (0.95)")
    policy.add_argument("--kind-min", type=float, help="share of values of one kind (ID, credit code, mobile, division, date …) for its rule (0.8)")
    policy.add_argument("--pair-min", type=float, help="share of rows whose birth date / gender agree with the ID number (0.9)")
    policy.add_argument("--reference-min", type=float, help="share of values found in a 基础库 entry for a reference (0.9)")
    policy.add_argument("--value-set-max-distinct", type=int, help="most distinct values of a code column with a value set (12, at most 50)")
    policy.add_argument("--value-set-rare", type=float, help="values held by fewer than this share of rows are left out of a value set (0.01)")
    p.set_defaults(func=lambda a: _suites_draft(a, common))
    p = suites.add_parser("accept", help="accept a drafted suite after review (clears its draft marks)")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--by", help="who accepted it (recorded in meta.citygov.accepted)")
    p.add_argument("--suites", help="suite folder")
    p.set_defaults(func=lambda a: _suites_edit(a, common, "accept"))
    p = suites.add_parser("drop", help="drop a rule from a suite")
    p.add_argument("code", metavar="CODE")
    p.add_argument("rule", metavar="RULE", help="its number (1 = first), its type, or type:column")
    p.add_argument("--suites", help="suite folder")
    p.set_defaults(func=lambda a: _suites_edit(a, common, "drop"))
    p = suites.add_parser("set", help="loosen or tighten a rule's threshold (mostly)")
    p.add_argument("code", metavar="CODE")
    p.add_argument("rule", metavar="RULE", help="its number (1 = first), its type, or type:column")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--mostly", type=float, help="share of rows that must pass (0 < x <= 1)")
    how.add_argument("--strict", action="store_true", help="every row must pass (removes mostly)")
    p.add_argument("--suites", help="suite folder")
    p.set_defaults(func=lambda a: _suites_edit(a, common, "set"))
    p = suites.add_parser("check", help="load every suite file and report which entries have none")
    p.add_argument("--suites", help="suite folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _suites_check(a, common))

    quality = sub.add_parser("quality", help="quality inspection (数据质量检查)").add_subparsers(
        dest="command", required=True
    )
    p = quality.add_parser(
        "run",
        help="validate every published dataset now, outside Airflow",
        description="Exit status 1 when a dataset could not be validated (it is stored as not scored, with why).",
    )
    p.add_argument("--date", help="logical date (YYYY-MM-DD; default today in Asia/Shanghai)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--codes", nargs="+", metavar="CODE", help="only these catalog entries")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--engine", choices=["auto", "stream", "fused", "gx"], default="auto",
                   help="auto (default: what the benchmark measured faster for the source kind), stream (read the "
                        "checked columns, check in the worker), fused (one SQL scan), gx (GX's SQL engine)")
    p.add_argument("--suites", help="suite folder")
    p.add_argument("--policy", help="scoring policy JSON (weights, grades)")
    p.add_argument("--docs", help="build Data Docs into this folder (default data/data_docs)")
    p.add_argument("--no-docs", action="store_true", help="do not build Data Docs")
    p.set_defaults(func=lambda a: _quality_run(a, common))
    p = quality.add_parser("docs", help="rebuild Data Docs from the stored (masked) results")
    p.add_argument("--date", help="logical date (default: the latest inspected)")
    p.add_argument("--out", help="site folder (default data/data_docs)")
    p.add_argument("--suites", help="suite folder")
    p.set_defaults(func=lambda a: _quality_docs(a, common))
    p = quality.add_parser("results", help="stored results of a date: runs and failed expectations (masked)")
    p.add_argument("--date", help="logical date (default: the latest inspected)")
    p.add_argument("--dataset", help="only this catalog entry")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _quality_results(a, common))

    p = sub.add_parser("scores", help="GB/T 36344 quality scores per dataset, department and city")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dataset", help="only this catalog entry")
    p.add_argument("--department", help="only this department (信息资源提供方)")
    p.add_argument("--history", action="store_true", help="every inspected date, oldest first")
    p.add_argument("--date", help="this logical date (default: the latest)")
    p.add_argument("--policy", help="scoring policy JSON (grade bands used for departments and city)")
    p.set_defaults(func=lambda a: _scores(a, common))


# --- suites ----------------------------------------------------------------------------------------------------


def _suites_draft(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.catalog.queries import load_entries
    from citygov.quality.drafting import DraftPolicy, draft_entry_suite
    from citygov.quality.runner import BaseTables
    from citygov.quality.suites import suite_path, suite_to_dict, write_suite

    try:
        policy = DraftPolicy.from_env(
            not_blank_min=args.not_blank_min, kind_min=args.kind_min, pair_min=args.pair_min,
            reference_min=args.reference_min, value_set_max_distinct=args.value_set_max_distinct,
            value_set_rare=args.value_set_rare,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    drafted_at = datetime.now(UTC)
    engine = common.engine(args)
    resolve = common.resolver(args)
    catalog = load_entries(engine, published_only=False)
    by_code = {e.code: e for e in catalog}
    codes = sorted(by_code) if args.codes == ["all"] else args.codes
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        print(f"error: not in the catalog: {', '.join(unknown)} (govern catalog list shows the codes)", file=sys.stderr)
        return common.EXIT_ERROR
    status = common.EXIT_OK
    with BaseTables(engine, resolve) as base:
        for code in codes:
            target = suite_path(code, args.suites)
            if target.exists() and not (args.force or args.to_stdout):
                print(f"kept {target} (exists; --force overwrites a reviewed suite)", file=sys.stderr)
                continue
            drafted = draft_entry_suite(
                by_code[code], resolve, catalog=catalog, base_check=base, policy=policy, drafted_at=drafted_at
            )
            if drafted.unreadable:
                status = common.EXIT_PROBLEMS
            if args.to_stdout:
                common.print_json(suite_to_dict(drafted.suite))
                continue
            path = write_suite(drafted.suite, args.suites, path=target)
            print(
                f"drafted {path}: {drafted.expectations} expectations from {drafted.rows} rows{drafted.note()}; "
                f"a draft until reviewed (govern suites accept {code})"
            )
    return status


def _suites_edit(args: argparse.Namespace, common: ModuleType, action: str) -> int:
    from citygov.quality.review import review_suite
    from citygov.quality.suites import SuiteFileError

    try:
        done = review_suite(
            args.code, action, rule=getattr(args, "rule", None), by=getattr(args, "by", None),
            mostly=None if getattr(args, "strict", False) else getattr(args, "mostly", None),
            at=datetime.now(UTC), directory=args.suites,
        )
    except (SuiteFileError, LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    print(done.message)
    return common.EXIT_OK


def _suites_check(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.catalog.queries import load_entries
    from citygov.quality.review import is_draft
    from citygov.quality.suites import SuiteFileError, read_suite, suites_dir

    folder = suites_dir(args.suites)
    codes = {e.code for e in load_entries(common.engine(args))}
    problems: list[str] = []
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    loaded = set()
    drafts: list[str] = []
    for path in files:
        try:
            suite = read_suite(path)
            loaded.add(suite.name)
            if is_draft(suite):
                drafts.append(suite.name)
        except SuiteFileError as exc:
            problems.append(str(exc))
    report = {
        "folder": str(folder),
        "suites": len(loaded),
        "invalid": problems,
        "missing": sorted(codes - loaded),
        "orphaned": sorted(loaded - codes),
        "drafts": sorted(drafts),
    }
    if args.json:
        common.print_json(report)
    else:
        print(f"{report['suites']} suite(s) in {folder}")
        for line in problems:
            print(f"  invalid  {line}")
        for code in report["missing"]:
            print(f"  missing  {code} (govern suites draft {code})")
        for code in report["orphaned"]:
            print(f"  orphaned {code} (no published catalog entry)")
        for code in report["drafts"]:
            print(f"  draft    {code} (review it, then govern suites accept {code})")
    return common.EXIT_PROBLEMS if problems or report["missing"] else common.EXIT_OK


# --- quality -----------------------------------------------------------------------------------------------------


def _quality_run(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.quality.docs import UnmaskedDataError, build_data_docs
    from citygov.quality.runner import inspect_batch, plan_batches
    from citygov.quality.scores import load_policy

    if not args.no_docs and not _docs_settings_ok():
        return common.EXIT_ERROR
    engine = common.engine(args)
    resolve = common.resolver(args)
    day = common.parse_date(args.date)
    policy = load_policy(args.policy)
    batches = [args.codes] if args.codes else plan_batches(engine, args.batch_size)
    summaries = []
    for number, batch in enumerate(batches, start=1):
        report = inspect_batch(engine, batch, resolve, day, suites=args.suites, engine=args.engine, policy=policy)
        summaries.append(report.summary())
        print(f"batch {number}/{len(batches)}: {len(batch)} entries, {len(report.findings)} findings", file=sys.stderr)
    datasets = [d for s in summaries for d in s["datasets"]]
    docs = None
    if not args.no_docs:
        try:
            docs = build_data_docs(engine, args.docs, logical_date=day, suites=args.suites).to_dict()
        except UnmaskedDataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return common.EXIT_ERROR
    not_scored = {code: why for s in summaries for code, why in s["not_scored"].items()}
    out = {
        "logical_date": day.isoformat(),
        "entries": len(datasets),
        "findings": sum(s["findings"] for s in summaries),
        "failed_expectations": sum(s["failed_expectations"] for s in summaries),
        "not_scored": not_scored,
        "datasets": datasets,
        "data_docs": docs,
    }
    status = common.EXIT_PROBLEMS if not_scored else common.EXIT_OK
    if args.json:
        common.print_json(out)
        return status
    print(f"quality {out['logical_date']}: {out['entries']} datasets, {out['failed_expectations']} failed expectations, {out['findings']} findings")
    for d in datasets:
        failed = ", ".join(f"{f['expectation']}({f['column']})={f['unexpected_count']}" for f in d["failed"])
        grade = f"{d['score']:.2f} {d['grade']}" if d["score"] is not None else "未评分 not scored"
        print(f"  {d['entry_code']:<20} {d['status']:<13} {grade:<12} {failed or d['error'] or ''}")
    if docs:
        print(f"Data Docs: {docs['index']}")
    if not_scored:
        print(f"{len(not_scored)} dataset(s) could not be validated and are not scored:", file=sys.stderr)
        for code, why in not_scored.items():
            print(f"  {code}: {why}", file=sys.stderr)
    return status


def _quality_docs(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.quality.docs import UnmaskedDataError, build_data_docs

    if not _docs_settings_ok():
        return common.EXIT_ERROR
    try:
        report = build_data_docs(common.engine(args), args.out, logical_date=common.parse_date(args.date) if args.date else None, suites=args.suites)
    except UnmaskedDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    if report.logical_date is None:
        print("no quality results stored yet (run govern quality run or the quality_inspection DAG)", file=sys.stderr)
        return common.EXIT_PROBLEMS
    print(f"Data Docs for {report.logical_date}: {report.validations} validations, {report.pages} files → {report.index}")
    return common.EXIT_OK


def _quality_results(args: argparse.Namespace, common: ModuleType) -> int:
    from sqlalchemy import func, select

    from citygov.store import session_scope
    from citygov.store.models import CheckResult, DatasetScore, QualityRun

    engine = common.engine(args)
    with session_scope(engine) as session:
        day = common.parse_date(args.date) if args.date else session.scalar(select(func.max(QualityRun.logical_date)))
        query = select(QualityRun).where(QualityRun.logical_date == day).order_by(QualityRun.entry_code)
        if args.dataset:
            query = query.where(QualityRun.entry_code == args.dataset)
        runs: list[dict[str, Any]] = []
        scored = {s.entry_code: s for s in session.scalars(select(DatasetScore).where(DatasetScore.logical_date == day))}
        for run in session.scalars(query):
            checks = session.scalars(select(CheckResult).where(CheckResult.run_id == run.id).order_by(CheckResult.position)).all()
            score = scored.get(run.entry_code)
            runs.append(
                {
                    "entry_code": run.entry_code,
                    "department": run.department,
                    "status": run.status,
                    "score_status": score.status if score else None,
                    "not_scored_reason": score.not_scored_reason if score else None,
                    "rows": run.rows_evaluated,
                    "engine": run.engine,
                    "error": run.error,
                    "data_docs": run.data_docs_path,
                    "checks": [
                        {
                            "expectation": c.expectation,
                            "column": c.column,
                            "dimension": c.dimension,
                            "success": c.success,
                            "evaluated": c.evaluated_count,
                            "unexpected": c.unexpected_count,
                            "samples": c.masked_samples,
                            "error": c.error,
                        }
                        for c in checks
                    ],
                }
            )
    if args.json:
        common.print_json({"logical_date": day.isoformat() if day else None, "runs": runs})
        return common.EXIT_OK
    if not runs:
        print("no quality results stored for that date", file=sys.stderr)
        return common.EXIT_PROBLEMS
    print(f"quality results {day}: {len(runs)} datasets")
    for r in runs:
        shown = "未评分 not scored  " if r["score_status"] == "not_scored" else ""
        print(f"  {r['entry_code']:<20} {r['status']:<13} rows {r['rows']}  {shown}{r['error'] or ''}")
        for c in r["checks"]:
            if not c["success"]:
                print(f"      ✗ {c['expectation']}({c['column']}) {c['unexpected']}/{c['evaluated']}  {json.dumps(c['samples'][:3], ensure_ascii=False)}")
    return common.EXIT_OK


def _scores(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.quality.scores import load_policy, load_scores

    data = load_scores(
        common.engine(args),
        dataset=args.dataset,
        department=args.department,
        logical_date=common.parse_date(args.date) if args.date else None,
        history=args.history,
        policy=load_policy(args.policy),
    )
    if args.json:
        common.print_json(data)
        return common.EXIT_OK
    snapshots = data.get("history") if args.history else [data]
    if not snapshots or not snapshots[0] or not snapshots[0].get("datasets"):
        print("no scores stored yet (run govern quality run or the quality_inspection DAG)", file=sys.stderr)
        return common.EXIT_PROBLEMS
    for snap in snapshots:
        city = snap["city"]
        print(f"{snap['logical_date']}  city {_shown(city)} over {city['scored']} scored datasets{_unscored(city)}")
        for dept in snap["departments"]:
            print(f"  {dept['name']:<28} {_shown(dept)}  ({dept['scored']} scored datasets{_unscored(dept)})")
        if not args.history:
            for ds in snap["datasets"]:
                if ds["score"] is None:
                    print(f"    {ds['entry_code']:<20} 未评分 not scored: {ds['not_scored_reason']}")
                    continue
                ratios = " ".join(f"{k}={v:.3f}" for k, v in ds["ratios"].items() if v is not None)
                print(f"    {ds['entry_code']:<20} {ds['score']:6.2f} {ds['grade']}  {ratios}")
    return common.EXIT_OK


def _shown(rollup: dict[str, Any]) -> str:
    return f"{rollup['score']:6.2f} {rollup['grade']}" if rollup["score"] is not None else "未评分 not scored"


def _unscored(rollup: dict[str, Any]) -> str:
    return f", {rollup['not_scored']} not scored" if rollup["not_scored"] else ""


def _docs_settings_ok() -> bool:
    """Whether the Data Docs settings can be used (``CITYGOV_DATA_DOCS_KEEP_DAYS``); if not, says why on
    stderr, before anything is validated or built."""
    from citygov.quality.docs import keep_days

    try:
        keep_days()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True
