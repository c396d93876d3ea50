"""Data Docs (the GX HTML site) for stewards, built from the masked results in the governance store.

The site is built from what is stored, never from live data: every sample in it was masked before it
was stored. Suite pages come from the suite files, scrubbed too. Every page is scanned before it is written
(:func:`citygov.quality.masking.find_unmasked`); an unmasked ID number, credit code or mobile number fails
the build (:class:`UnmaskedDataError`) instead of being published.

Each logical date is its own GX site, ``<docs>/<YYYY-MM-DD>/`` (GX 1.x supports configuring a site's
``base_directory`` and nothing else, so one site per date is how a site keeps dates apart without
re-rendering every kept date each night). ``<docs>/index.html`` lists the dates kept, ``<docs>/latest`` is
the newest of them (a symbolic link), and every page of a date says its date and links back to that list.

**Built where the results are made.** GX renders ~60 ms of Python per page (measured: 993 validations,
1,987 pages in 69 s, of which the validation and suite pages 43 s and the scan 10 s; GX's own
``build_data_docs``, through its stores, took 122 s), which at 10,000 datasets made one 950 s task at the
end of the night. So the pages are rendered by GX's own renderers and views without its stores
(:class:`_Gx`), in each quality batch right after its results are stored (:func:`build_pages`), in
parallel; the night's last task (:func:`build_data_docs` with ``pages=False``) writes only what needs all
of them: the date's index (GX's index renderer fed from the store's columns, ~1.3 s per 1,000 datasets),
GX's assets, the pages a batch left unwritten, the removal of pages of results the date no longer holds.
Each page is written whole (a reader never sees half a page), a batch's pages only after all of them
passed the scan.
Dates older than the retention (``CITYGOV_DATA_DOCS_KEEP_DAYS`` days before the newest date kept,
default 30) are deleted when a date is built, and their runs lose their ``data_docs_path``.

The site loads nothing from outside (a government extranet has no internet): the files GX's pages take from
public CDNs are shipped in this package and linked relatively (:mod:`citygov.quality.docs_offline`), so a
date's site works served by the plugin and opened from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, case, func, select, update

from citygov.quality import registry
from citygov.quality.docs_offline import make_offline, offline_text
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


class _Gx:
    """GX's own Data Docs machinery for one date's site — its page renderers, views, file layout and index
    builder — driven without GX's stores: a page is rendered from the stored result straight to HTML (the
    stores' serialise/deserialise round trip was a third of the build)."""

    def __init__(self, site: Path) -> None:
        from great_expectations.core.expectation_validation_result import (
            expectationSuiteValidationResultSchema,
        )
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context = _context(site)
        builder = context._init_site_builder_for_data_docs_site_creation(
            site_name=SITE_NAME, site_config=context.variables.data_docs_sites[SITE_NAME]
        )
        self.builder = builder
        self.validations = builder.site_section_builders["validations"]
        self.expectations = builder.site_section_builders["expectations"]
        self.index = builder.site_index_builder
        self._schema = expectationSuiteValidationResultSchema
        self._validation_files = builder.target_store.store_backends[ValidationResultIdentifier]
        self._suite_files = builder.target_store.store_backends[ExpectationSuiteIdentifier]

    @staticmethod
    def _html(section: Any, resource: Any) -> str:
        return section.view_class.render(section.renderer_class.render(resource), data_context_id=section.data_context_id,
                                         show_how_to_buttons=section.show_how_to_buttons)

    def validation_page(self, key: Any, data: dict[str, Any]) -> tuple[str, str]:
        """(path in the site, HTML) of a stored validation result's page."""
        return self._validation_files._convert_key_to_filepath(key.to_tuple()), self._html(self.validations, self._schema.load(data))

    def suite_path(self, name: str) -> str:
        """Where a suite's page is in the site."""
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        return self._suite_files._convert_key_to_filepath(ExpectationSuiteIdentifier(name=name).to_tuple())

    def suite_page(self, name: str, suite: Any) -> str:
        """The HTML of suite ``name``'s page (at :meth:`suite_path`)."""
        return self._html(self.expectations, suite)

    def index_page(self, runs: list[tuple[str, str, str | None, bool]], run_id: Any) -> str:
        """The site's index (GX's own renderer and view) listing ``runs`` — (suite, location, source, success) —
        from the store's columns, without loading any result."""
        from collections import OrderedDict

        links: OrderedDict[str, Any] = OrderedDict(site_name=SITE_NAME)
        for suite in sorted({suite for suite, *_ in runs}):
            self.index.add_resource_info_to_index_links_dict(links, suite, "expectations")
        for suite, location, conn_id, success in runs:
            self.index.add_resource_info_to_index_links_dict(
                links, suite, "validations", batch_identifier=_batch_id(location), run_id=run_id,
                validation_success=success, run_time=run_id.run_time, run_name=run_id.run_name,
                asset_name=f"{conn_id or '-'}/{location}", batch_kwargs={},
                batch_spec={"data_asset_name": f"{conn_id or '-'}/{location}", "datasource": conn_id or "-"},
            )
        return self.index.view_class.render(self.index.renderer_class.render(links), data_context_id=self.validations.data_context_id,
                                            show_how_to_buttons=False)

    def copy_static(self) -> None:
        """GX's own stylesheets, scripts and images into the site's ``static/``."""
        self.builder.target_store.copy_static_assets()


@dataclass
class PagesReport:
    """What :func:`build_pages` wrote."""

    site: Path
    validations: int
    """Validation pages written (one per stored run)."""
    suites: int
    """Suite pages written."""


_READ_CHUNK = 500
"""Stored results read per query (bound parameters of one ``IN`` list)."""


def _run_id(day: date) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=f"quality-{day.isoformat()}", run_time=datetime.combine(day, time(0), tzinfo=UTC))


def build_pages(
    store: Engine,
    out: Path | str | None = None,
    *,
    logical_date: date,
    codes: list[str] | None = None,
    suites: Path | str | None = None,
    only_missing: bool = False,
) -> PagesReport:
    """Render the Data Docs pages — its validation result and its suite — of every run of ``logical_date``
    stored with a result (only those of ``codes``, when given; only those without a page yet, with
    ``only_missing``) into the date's site ``out/<YYYY-MM-DD>/`` (default ``data/data_docs``), and record
    each run's page in ``quality_runs.data_docs_path``.

    The quality inspection calls it in every batch task, right after the batch's results are stored, so the
    pages of a night are built in parallel as the results come in; :func:`build_data_docs` then only builds
    the date's index (and any page a batch did not write). Each page is written whole (a reader never sees
    half a page); every page of the call is scanned for unmasked identifiers *before* any is written, and
    :class:`UnmaskedDataError` publishes none of them.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out = Path(out) if out else default_docs_dir()
    site = out / logical_date.isoformat()
    query = (select(QualityRun.id, QualityRun.entry_code, QualityRun.location, QualityRun.data_docs_path)
             .where(QualityRun.logical_date == logical_date, QualityRun.validation_result.is_not(None)))
    if codes is not None:
        query = query.where(QualityRun.entry_code.in_(codes)) if codes else query.where(False)
    with session_scope(store) as session:
        # The results are read only for the runs that get a page (the night's last task reads none).
        wanted = [(pk, code, location or code) for pk, code, location, path in session.execute(query.order_by(QualityRun.entry_code))
                  if not (only_missing and _in_site(path, site))]
        results: dict[int, Any] = {}
        for i in range(0, len(wanted), _READ_CHUNK):
            ids = [pk for pk, *_ in wanted[i : i + _READ_CHUNK]]
            results |= {pk: data for pk, data in session.execute(select(QualityRun.id, QualityRun.validation_result).where(QualityRun.id.in_(ids)))}
    stored = [(pk, code, location, results[pk]) for pk, code, location in wanted if isinstance(results.get(pk), dict)]
    if not stored:
        return PagesReport(site=site, validations=0, suites=0)
    gx_site = _Gx(site)
    folder = suites_dir(suites)
    run_id = _run_id(logical_date)
    earlier = next((out / d.isoformat() for d in kept_dates(out) if d != logical_date), None)
    pages: dict[str, str] = {}
    paths: dict[int, str] = {}
    for run_pk, code, location, data in stored:
        try:
            suite = load_suite(code, folder)
        except SuiteFileError:
            suite = None
        if suite is not None:
            suite_data = scrub(_suite_json(suite))
            path = gx_site.suite_path(code)
            mark = _suite_mark(suite_data)
            if (html := _earlier_page(earlier, path, mark)) is None:
                html = gx_site.suite_page(code, _suite_from_json(suite_data)) + mark
            pages[path] = html
        data = docs_samples(scrub(data))  # each failing row with its masked key and reason
        _describe(data, run_id, location)
        key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=code), run_id=run_id,
                                         batch_identifier=_batch_id(location))
        path, html = gx_site.validation_page(key, data)
        pages[path] = html
        paths[run_pk] = str(site / path)
    _publish(site, logical_date, pages)
    with session_scope(store) as session:
        for run_pk, path in paths.items():
            session.execute(update(QualityRun).where(QualityRun.id == run_pk).values(data_docs_path=path))
    return PagesReport(site=site, validations=len(paths), suites=len(pages) - len(paths))


def _suite_mark(suite_data: dict[str, Any]) -> str:
    """The comment ending a suite's page that says what it was rendered from (the scrubbed suite and GX's
    version): a suite unchanged since an earlier date is not rendered again."""
    import great_expectations as gx

    digest = hashlib.sha256(json.dumps([gx.__version__, suite_data], sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    return f"\n<!-- citygov-suite {digest} -->\n"


def _earlier_page(earlier: Path | None, path: str, mark: str) -> str | None:
    """The suite page at ``path`` of the site ``earlier`` (the newest other date kept), as GX rendered it
    (without its date bar), if it ends with ``mark``; else None."""
    if earlier is None:
        return None
    try:
        text = (earlier / path).read_text(encoding="utf-8")
    except OSError:
        return None
    return _DATE_BAR.sub("", text, count=1) if text.endswith(mark) else None


def _in_site(path: str | None, site: Path) -> bool:
    """Whether a run's recorded page is a file of ``site`` (a page built into another Data Docs folder, by
    ``govern quality docs --out``, is not this site's)."""
    return bool(path) and Path(path).is_relative_to(site) and Path(path).is_file()


def _describe(data: dict[str, Any], run_id: Any, location: str) -> None:
    """Give a stored result the run and batch descriptions GX's pages show (in place)."""
    meta = data.setdefault("meta", {}) or {}
    info = meta.get("citygov") or {}
    meta["run_id"] = {"run_name": run_id.run_name, "run_time": run_id.run_time.isoformat()}
    meta["batch_spec"] = {"data_asset_name": f"{info.get('conn_id') or '-'}/{location}", "datasource": info.get("conn_id") or "-"}
    meta["active_batch_definition"] = {
        "datasource_name": info.get("conn_id") or "-",
        "data_connector_name": "citygov",
        "data_asset_name": location,
        "batch_identifiers": {"logical_date": info.get("logical_date")},
    }
    data["meta"] = meta


def _publish(site: Path, day: date, pages: dict[str, str]) -> None:
    """Make ``pages`` (path in the site → GX's HTML) load nothing from outside, put the date bar on them,
    scan them all, then write each whole; :class:`UnmaskedDataError` (nothing written) if one shows an
    unmasked identifier."""
    ready = {path: _date_bar(offline_text(html, path), path, day) for path, html in pages.items()}
    unmasked = [(path, token) for path, html in ready.items() for token in find_unmasked(html)]
    if unmasked:
        sample = ", ".join(f"{f}: {t[:3]}…" for f, t in unmasked[:5])
        raise UnmaskedDataError(f"Data Docs would publish {len(unmasked)} unmasked identifier(s) ({sample}); nothing was published")
    for path, html in ready.items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, target)


def build_data_docs(
    store: Engine,
    out: Path | str | None = None,
    *,
    logical_date: date | None = None,
    suites: Path | str | None = None,
    keep: int | None = None,
    pages: bool = True,
) -> DocsReport:
    """Build the Data Docs site of ``logical_date`` (default: the latest inspected date) in ``out/<YYYY-MM-DD>/``
    (default ``data/data_docs``) from the stored, masked validation results: every run's pages
    (:func:`build_pages`; with ``pages=False`` only the runs the batches left without one), GX's assets and
    the vendored files, the date's index; remove the pages of results the date no longer holds; delete the
    dates more than ``keep`` days (default :func:`keep_days`) older than the newest date kept; rewrite the
    index of dates. Returns where it is.

    Raises :class:`UnmaskedDataError` (publishing none of the pages or the index it was writing) if any page
    holds an unmasked ID number, credit code or mobile number.
    """
    out = Path(out) if out else default_docs_dir()
    keep = keep_days() if keep is None else keep
    if keep < 1:
        raise ValueError(f"keep={keep}: Data Docs keep at least one day")
    with session_scope(store) as session:
        if logical_date is None:
            logical_date = session.scalar(select(func.max(QualityRun.logical_date)))
    out.mkdir(parents=True, exist_ok=True)
    for name in _LEGACY:  # the one-site layout of earlier versions; its pages are rebuilt per date
        old = out / name
        if old.is_dir():
            shutil.rmtree(old)
    if logical_date is None:
        index = _write_index(store, out, keep)
        return DocsReport(index=index, logical_date=None, pages=0, validations=0)
    site = out / logical_date.isoformat()
    build_pages(store, out, logical_date=logical_date, suites=suites, only_missing=not pages)
    with session_scope(store) as session:
        runs = [(code, location or code, conn_id, status, path) for code, location, conn_id, status, path in session.execute(
            select(QualityRun.entry_code, QualityRun.location, QualityRun.conn_id, QualityRun.status, QualityRun.data_docs_path)
            .where(QualityRun.logical_date == logical_date, QualityRun.validation_result.is_not(None))
            .order_by(QualityRun.entry_code))]
    site.mkdir(parents=True, exist_ok=True)
    gx_site = _Gx(site)
    if not (site / "static" / "styles").is_dir():
        gx_site.copy_static()
        make_offline(site, under="static")  # the pages were made offline one by one
    shown = {Path(path) for *_, path in runs if path} | {site / gx_site.suite_path(code) for code, *_ in runs}
    stale = [p for folder in ("validations", "expectations") for p in (site / folder).rglob("*.html") if p not in shown]
    for page in stale:
        page.unlink()
    linked = [(code, location, conn_id, status != "failed") for code, location, conn_id, status, path in runs if _in_site(path, site)]
    _publish(site, logical_date, {"index.html": gx_site.index_page(linked, _run_id(logical_date))})
    _share_static(site, [out / d.isoformat() for d in kept_dates(out) if d != logical_date][:1])
    newest = max([logical_date, *kept_dates(out)])
    pruned = [d for d in kept_dates(out) if d <= newest - timedelta(days=keep)]
    for day in pruned:
        shutil.rmtree(out / day.isoformat(), ignore_errors=True)
    _forget(store, pruned)
    _point_latest(out)
    index = _write_index(store, out, keep)
    return DocsReport(index=index, logical_date=logical_date, pages=len(linked) + len({c for c, *_ in linked}) + 1,
                      validations=len(linked), site=site, dates=kept_dates(out), pruned=sorted(pruned, reverse=True))


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


_DATE_BAR = re.compile(r'<div id="citygov-date"[^\n]*?全部日期 All dates</a></div>')


def _date_bar(html: str, path: str, day: date) -> str:
    """A page of a date's site (at ``path`` in it) with a bar on top saying its logical date, linking to the
    list of dates."""
    up = "../" * (path.count("/") + 1)  # to <docs>/, one above the date's own folder
    bar = (f'<div id="citygov-date" class="alert alert-secondary rounded-0 m-0 py-1 px-5" data-date="{day.isoformat()}">'
           f"质量报告 Data Docs · 业务日期 Logical date <strong>{day.isoformat()}</strong> · "
           f'<a href="{up}index.html">全部日期 All dates</a></div>')
    body = re.search(r"<body[^>]*>", html)
    return html[: body.end()] + bar + html[body.end() :] if body else html


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
