"""Data Docs (the GX HTML site) for stewards, built from the masked results in the governance store.

The site is rebuilt from what is stored, never from live data: every sample in it was masked before it
was stored. Suite pages come from the suite files, scrubbed too. After the build every file of the site
is scanned (:func:`citygov.quality.masking.find_unmasked`); an unmasked ID number, credit code or mobile
number fails the build (:class:`UnmaskedDataError`) instead of being published.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, func, select, update

from citygov.quality.masking import find_unmasked, scrub
from citygov.quality.suites import SuiteFileError, load_suite, register_expectations, suites_dir
from citygov.settings import data_dir
from citygov.store import session_scope
from citygov.store.models import QualityRun

SITE_NAME = "citygov_quality"


class UnmaskedDataError(RuntimeError):
    """The built site contains identifiers that are not masked; it must not be published."""


@dataclass
class DocsReport:
    """What a Data Docs build wrote."""

    index: Path
    logical_date: date | None
    pages: int
    validations: int
    unmasked: list[tuple[str, str]] = field(default_factory=list)
    """(file, token) for every unmasked identifier found (empty after a successful build)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": str(self.index),
            "logical_date": self.logical_date.isoformat() if self.logical_date else None,
            "pages": self.pages,
            "validations": self.validations,
        }


def default_docs_dir() -> Path:
    """``data/data_docs`` in the git-ignored data folder."""
    return data_dir() / "data_docs"


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
    clean: bool = True,
) -> DocsReport:
    """Build the Data Docs site for ``logical_date`` (default: the latest inspected date) into ``out``
    (default ``data/data_docs``) from the stored, masked validation results; returns where it is.

    Raises :class:`UnmaskedDataError` (after deleting the site) if any page holds an unmasked ID
    number, credit code or mobile number.
    """
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    out = Path(out) if out else default_docs_dir()
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
    if clean and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    context = _context(out)
    folder = suites_dir(suites)
    run_time = datetime.combine(logical_date, time(0), tzinfo=UTC) if logical_date else datetime.now(UTC)
    run_id = RunIdentifier(run_name=f"quality-{logical_date.isoformat() if logical_date else 'none'}", run_time=run_time)
    keys: dict[int, Any] = {}
    for run_pk, code, location, data in stored:
        try:
            suite = load_suite(code, folder)
        except SuiteFileError:
            suite = None
        if suite is not None:
            suite_data = scrub(_suite_json(suite))
            context.suites.add(_suite_from_json(suite_data))
        data = scrub(data)
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
    index = out / "index.html"
    pages = [p for p in out.rglob("*") if p.is_file() and p.suffix in {".html", ".json", ".js"}]
    unmasked = [(str(p.relative_to(out)), t) for p in pages for t in find_unmasked(p.read_text(encoding="utf-8", errors="replace"))]
    if unmasked:
        shutil.rmtree(out, ignore_errors=True)
        sample = ", ".join(f"{f}: {t[:3]}…" for f, t in unmasked[:5])
        raise UnmaskedDataError(f"Data Docs would publish {len(unmasked)} unmasked identifier(s) ({sample}); nothing was published")
    with session_scope(store) as session:
        for run_pk, key in keys.items():
            found = context.get_docs_sites_urls(resource_identifier=key, site_name=SITE_NAME)
            path = (found[0].get("site_url") if found else None) or urls.get(SITE_NAME)
            session.execute(update(QualityRun).where(QualityRun.id == run_pk).values(data_docs_path=_path(path)))
    return DocsReport(index=index, logical_date=logical_date, pages=len(pages), validations=len(keys))


def _suite_json(suite: Any) -> dict[str, Any]:
    from citygov.quality.suites import suite_to_dict

    return suite_to_dict(suite)


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
