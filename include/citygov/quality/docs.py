"""Data Docs (the GX HTML site) for stewards, built from the masked results in the governance store.

The site is rebuilt from what is stored, never from live data: every sample in it was masked before it
was stored. Suite pages come from the suite files, scrubbed too. After the build every file of the site
is scanned (:func:`citygov.quality.masking.find_unmasked`); an unmasked ID number, credit code or mobile
number fails the build (:class:`UnmaskedDataError`) instead of being published.

Each logical date is its own GX site, ``<docs>/<YYYY-MM-DD>/`` (GX 1.x supports configuring a site's
``base_directory`` and nothing else, so one site per date is how a site keeps dates apart without
re-rendering every kept date each night). ``<docs>/index.html`` lists the dates kept, ``<docs>/latest`` is
the newest of them (a symbolic link), and every page of a date says its date and links back to that list.
A date is built in a hidden folder, scanned, then swapped in whole: a page being served is never half
written. Dates older than the retention (``CITYGOV_DATA_DOCS_KEEP_DAYS`` days before the newest date kept,
default 30) are deleted when a date is built, and their runs lose their ``data_docs_path``.

The site loads nothing from outside (a government extranet has no internet): the files GX's pages take from
public CDNs are shipped in this package and linked relatively (:mod:`citygov.quality.docs_offline`), so a
date's site works served by the plugin and opened from disk.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, case, func, select, update

from citygov.quality import registry
from citygov.quality.docs_offline import SITE_FOLDER, make_offline
from citygov.quality.masking import docs_samples, find_unmasked, scrub
from citygov.quality.suites import SuiteFileError, load_suite, register_expectations, suites_dir
from citygov.settings import data_dir, whole_number
from citygov.store import session_scope
from citygov.store.models import QualityRun

SITE_NAME = "citygov_quality"
KEEP_DAYS = 30
LATEST = "latest"
"""``<docs>/latest``: a link to the newest date's site."""
"""Days of Data Docs kept by default (``CITYGOV_DATA_DOCS_KEEP_DAYS``)."""
_LEGACY = ("validations", "expectations", "static")
"""The single site's layout before dates had folders: removed from the top level on the next build."""


class UnmaskedDataError(RuntimeError):
    """The built site contains identifiers that are not masked; it must not be published."""


@dataclass
class DocsReport:
    """What a Data Docs build wrote."""

    index: Path
    """The index of the dates kept (``<docs>/index.html``)."""
    logical_date: date | None
    pages: int
    validations: int
    unmasked: list[tuple[str, str]] = field(default_factory=list)
    """(file, token) for every unmasked identifier found (empty after a successful build)."""
    site: Path | None = None
    """The date's own site (``<docs>/<YYYY-MM-DD>/``); None when nothing was inspected yet."""
    dates: list[date] = field(default_factory=list)
    """The dates the Data Docs keep after this build, newest first."""
    pruned: list[date] = field(default_factory=list)
    """The dates this build deleted (older than the retention)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": str(self.index),
            "logical_date": self.logical_date.isoformat() if self.logical_date else None,
            "site": str(self.site) if self.site else None,
            "pages": self.pages,
            "validations": self.validations,
            "dates": [d.isoformat() for d in self.dates],
            "pruned": [d.isoformat() for d in self.pruned],
        }


def default_docs_dir() -> Path:
    """``data/data_docs`` in the git-ignored data folder."""
    return data_dir() / "data_docs"


def keep_days() -> int:
    """How many days of Data Docs are kept: ``CITYGOV_DATA_DOCS_KEEP_DAYS`` (1 to 3650), else :data:`KEEP_DAYS`."""
    days = whole_number("CITYGOV_DATA_DOCS_KEEP_DAYS", low=1, high=3650, unit="days", note=f"unset: {KEEP_DAYS}")
    return KEEP_DAYS if days is None else days


def kept_dates(out: Path | str | None = None) -> list[date]:
    """The dates the Data Docs site in ``out`` (default ``data/data_docs``) holds, newest first."""
    root = Path(out) if out else default_docs_dir()
    return sorted((d for p in root.iterdir() if p.is_dir() and (d := _as_date(p.name))), reverse=True) if root.is_dir() else []


def _context(out: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    register_expectations()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars={"globally": False},
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def build_data_docs(
    store: Engine,
    out: Path | str | None = None,
    *,
    logical_date: date | None = None,
    suites: Path | str | None = None,
    keep: int | None = None,
) -> DocsReport:
    """Build the Data Docs site of ``logical_date`` (default: the latest inspected date) into
    ``out/<YYYY-MM-DD>/`` (default ``data/data_docs``) from the stored, masked validation results, replacing
    that date's site; delete the dates more than ``keep`` days (default :func:`keep_days`) older than the
    newest date kept; rewrite the index of dates. Returns where it is.

    Raises :class:`UnmaskedDataError` (publishing nothing for the date, and removing its earlier site) if
    any page holds an unmasked ID number, credit code or mobile number.
    """
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out = Path(out) if out else default_docs_dir()
    keep = keep_days() if keep is None else keep
    if keep < 1:
        raise ValueError(f"keep={keep}: Data Docs keep at least one day")
    with session_scope(store) as session:
        if logical_date is None:
            logical_date = session.scalar(select(func.max(QualityRun.logical_date)))
        runs = (
            list(
                session.scalars(
                    select(QualityRun)
                    .where(QualityRun.logical_date == logical_date, QualityRun.validation_result.is_not(None))
                    .order_by(QualityRun.entry_code)
                )
            )
            if logical_date
            else []
        )
        stored = [
            (r.id, r.entry_code, r.location or r.entry_code, copy.deepcopy(r.validation_result))
            for r in runs
            if isinstance(r.validation_result, dict)
        ]
    out.mkdir(parents=True, exist_ok=True)
    for name in _LEGACY:  # the one-site layout of earlier versions; its pages are rebuilt per date
        old = out / name
        if old.is_dir():
            shutil.rmtree(old)
    if logical_date is None:
        index = _write_index(store, out, keep)
        return DocsReport(index=index, logical_date=None, pages=0, validations=0)
    site = out / logical_date.isoformat()
    staging = out / f".building-{logical_date.isoformat()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    context = _context(staging)
    folder = suites_dir(suites)
    run_time = datetime.combine(logical_date, time(0), tzinfo=UTC)
    run_id = RunIdentifier(run_name=f"quality-{logical_date.isoformat()}", run_time=run_time)
    keys: dict[int, Any] = {}
    for run_pk, code, location, data in stored:
        try:
            suite = load_suite(code, folder)
        except SuiteFileError:
            suite = None
        if suite is not None:
            suite_data = scrub(_suite_json(suite))
            context.suites.add(_suite_from_json(suite_data))
        data = docs_samples(scrub(data))  # each failing row with its masked key and reason
        meta = data.setdefault("meta", {}) or {}
        info = meta.get("citygov") or {}
        meta["run_id"] = {"run_name": run_id.run_name, "run_time": run_id.run_time.isoformat()}
        meta["batch_spec"] = {
            "data_asset_name": f"{info.get('conn_id') or '-'}/{location}",
            "datasource": info.get("conn_id") or "-",
        }
        meta["active_batch_definition"] = {
            "datasource_name": info.get("conn_id") or "-",
            "data_connector_name": "citygov",
            "data_asset_name": location,
            "batch_identifiers": {"logical_date": info.get("logical_date")},
        }
        data["meta"] = meta
        result = expectationSuiteValidationResultSchema.load(data)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=code),
            run_id=run_id,
            batch_identifier=_batch_id(location),
        )
        context.validation_results_store.set(key, result)
        keys[run_pk] = key
    urls = context.build_data_docs(site_names=[SITE_NAME])
    make_offline(staging)
    _mark_date(staging, logical_date)
    vendored = staging / SITE_FOLDER  # files from npm packages, not data: not scanned
    pages = [p for p in staging.rglob("*")
             if p.is_file() and p.suffix in {".html", ".json", ".js"} and vendored not in p.parents]
    unmasked = [(str(p.relative_to(staging)), t) for p in pages for t in find_unmasked(p.read_text(encoding="utf-8", errors="replace"))]
    if unmasked:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)  # it shows results the store no longer holds for the date
        _forget(store, [logical_date])
        _point_latest(out)
        _write_index(store, out, keep)
        sample = ", ".join(f"{f}: {t[:3]}…" for f, t in unmasked[:5])
        raise UnmaskedDataError(f"Data Docs would publish {len(unmasked)} unmasked identifier(s) ({sample}); nothing was published")
    paths: dict[int, str | None] = {}
    for run_pk, key in keys.items():
        found = context.get_docs_sites_urls(resource_identifier=key, site_name=SITE_NAME)
        built = _path((found[0].get("site_url") if found else None) or urls.get(SITE_NAME))
        paths[run_pk] = str(site / Path(built).relative_to(staging)) if built else None
    _share_static(staging, [out / d.isoformat() for d in kept_dates(out) if d != logical_date][:1])
    shutil.rmtree(site, ignore_errors=True)
    staging.rename(site)
    newest = max([logical_date, *kept_dates(out)])
    pruned = [d for d in kept_dates(out) if d <= newest - timedelta(days=keep)]
    for day in pruned:
        shutil.rmtree(out / day.isoformat(), ignore_errors=True)
    with session_scope(store) as session:
        for run_pk, path in paths.items():
            session.execute(update(QualityRun).where(QualityRun.id == run_pk).values(data_docs_path=path))
    _forget(store, pruned)
    _point_latest(out)
    index = _write_index(store, out, keep)
    return DocsReport(index=index, logical_date=logical_date, pages=len(pages), validations=len(keys), site=site,
                      dates=kept_dates(out), pruned=sorted(pruned, reverse=True))


def _share_static(site: Path, others: list[Path]) -> None:
    """Hard-link ``site``'s GX assets (some 4 MB, the same every date) to an identical file of another date's
    site, so that keeping 30 dates does not keep 30 copies; a file stays a copy where linking fails."""
    for other in others:
        for path in (site / "static").rglob("*"):
            twin = other / path.relative_to(site)
            if not path.is_file() or not twin.is_file() or twin.stat().st_size != path.stat().st_size:
                continue
            if twin.read_bytes() == path.read_bytes():
                try:
                    linked = path.with_name(path.name + ".link")
                    os.link(twin, linked)
                    os.replace(linked, path)
                except OSError:
                    continue


def _mark_date(site: Path, day: date) -> None:
    """Put a bar on top of every page of ``site`` saying its logical date, linking to the list of dates."""
    for page in site.rglob("*.html"):
        if SITE_FOLDER in page.relative_to(site).as_posix():
            continue
        up = "../" * len(page.relative_to(site).parts)  # to <docs>/, one above the date's own folder
        bar = (f'<div id="citygov-date" class="alert alert-secondary rounded-0 m-0 py-1 px-5" data-date="{day.isoformat()}">'
               f"质量报告 Data Docs · 业务日期 Logical date <strong>{day.isoformat()}</strong> · "
               f'<a href="{up}index.html">全部日期 All dates</a></div>')
        text = page.read_text(encoding="utf-8")
        body = re.search(r"<body[^>]*>", text)
        if body:
            page.write_text(text[: body.end()] + bar + text[body.end() :], encoding="utf-8")


def _point_latest(out: Path) -> None:
    """``out/latest`` → the newest date kept (replaced in one step); removed when no date is kept."""
    link = out / LATEST
    days = kept_dates(out)
    if not days:
        if link.is_symlink():
            link.unlink()
        return
    fresh = out / f".{LATEST}.part"
    if fresh.is_symlink() or fresh.exists():
        fresh.unlink()
    os.symlink(days[0].isoformat(), fresh, target_is_directory=True)
    os.replace(fresh, link)


def _forget(store: Engine, days: list[date]) -> None:
    """The runs of ``days`` have no Data Docs page any more."""
    if days:
        with session_scope(store) as session:
            session.execute(update(QualityRun).where(QualityRun.logical_date.in_(days)).values(data_docs_path=None))


def _write_index(store: Engine, out: Path, keep: int) -> Path:
    """``out/index.html``: the dates kept, newest first, each with its datasets validated and failing, and
    the retention ``keep`` (days)."""
    days = kept_dates(out)
    counts: dict[date, tuple[int, int]] = {}
    if days:
        failed = func.sum(case((QualityRun.status == "failed", 1), else_=0))
        with session_scope(store) as session:
            counts = {
                d: (n, f or 0)
                for d, n, f in session.execute(
                    select(QualityRun.logical_date, func.count(), failed)
                    .where(QualityRun.logical_date.in_(days), QualityRun.validation_result.is_not(None))
                    .group_by(QualityRun.logical_date)
                )
            }
    rows = "".join(
        f'<tr data-date="{d.isoformat()}"><td><a href="{d.isoformat()}/index.html">{d.isoformat()}</a>'
        + (' <span class="latest">最新 latest</span>' if d == days[0] else "") + "</td>"
        f"<td>{counts.get(d, (0, 0))[0]}</td><td>{counts.get(d, (0, 0))[1]}</td></tr>"
        for d in days
    )
    body = (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>质量报告 Data Docs</title>'
        "<style>body{font-family:sans-serif;margin:2rem;color:#1f2937}table{border-collapse:collapse}"
        "th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .8rem;text-align:left}</style></head><body>"
        "<h1>质量报告 <small>Data Docs by date</small></h1>"
        f"<p>保留 {escape(str(len(days)))} 个日期 dates kept (newest first) · 保留期 retention {keep} 天 days "
        "(<code>CITYGOV_DATA_DOCS_KEEP_DAYS</code>)</p>"
        "<table><thead><tr><th>业务日期 Logical date</th><th>已验证 Datasets validated</th>"
        f"<th>未通过 Failed</th></tr></thead><tbody>{rows}</tbody></table>"
        + ("" if days else "<p>暂无 none yet: run the quality_inspection DAG (or govern quality run)</p>")
        + "</body></html>"
    )
    index = out / "index.html"
    partial = out / ".index.html.part"
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, index)  # a reader never sees a half-written index
    return index


def _as_date(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def _suite_json(suite: Any) -> dict[str, Any]:
    """The suite as JSON, each expectation carrying its rule's words as GX notes (shown under it on the
    suite's page): title in Chinese and English, how to fix, the rule id as a code."""
    from citygov.quality.suites import suite_to_dict

    data = suite_to_dict(suite)
    for expectation in data.get("expectations") or []:
        rule = registry.rule_for(expectation.get("type"))
        if rule is not None and not expectation.get("notes"):
            expectation["notes"] = f"**{registry.label(rule.type)}** · {rule.fix} · `{rule.type}`"
    return data


def _suite_from_json(data: dict[str, Any]) -> Any:
    import great_expectations as gx

    return gx.ExpectationSuite(
        name=data["name"], expectations=data["expectations"], meta=data.get("meta"), notes=data.get("notes")
    )


def _batch_id(location: str) -> str:
    return location.replace("/", "_").replace("\\", "_") or "resource"


def _path(url: str | None) -> str | None:
    """The file a GX site URL names: GX percent-encodes it (a dataset named 流动人口… is ``%E6%B5%81…``)."""
    if not url:
        return None
    return unquote(url[len("file://") :]) if url.startswith("file://") else url
