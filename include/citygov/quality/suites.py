"""Expectation suites as reviewable files: one GX 1.x suite per catalog dataset in ``expectations/``.

A suite file is the JSON of a GX ``ExpectationSuite`` named after the catalog code
(``expectations/320700-GAJ-0001.json``), without GX's generated ids so diffs stay readable. Its
``meta.citygov`` block says which entry it belongs to and how each column's values are masked; each
expectation's ``meta`` carries its GB/T 36344 dimension and, when drafted, why it was suggested.

Reviewing a drafted suite (accept, drop a rule, loosen one) is :mod:`citygov.quality.review`; drafting one
from the data is :mod:`citygov.quality.drafting`.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from citygov.findings import Dimension
from citygov.quality import registry
from citygov.settings import project_home

SUITES_DIR_ENV = "CITYGOV_SUITES_DIR"
"""Environment variable overriding where suite files live (default ``<project>/expectations``)."""

LOGICAL_DATE = {"$PARAMETER": "logical_date"}
"""Suite parameter every run supplies: the run's logical date (``YYYY-MM-DD``)."""

class SuiteFileError(ValueError):
    """A suite file that cannot be used: says which file, which expectation and what to fix."""


def suites_dir(explicit: Path | str | None = None) -> Path:
    """Where suite files live: ``explicit``, else ``$CITYGOV_SUITES_DIR``, else ``<project>/expectations``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(SUITES_DIR_ENV)
    return Path(env) if env else project_home() / "expectations"


def suite_path(code: str, directory: Path | str | None = None) -> Path:
    """The suite file of catalog entry ``code``."""
    return suites_dir(directory) / f"{code}.json"


def register_expectations() -> None:
    """Import the custom expectations so GX knows their types (idempotent)."""
    import citygov.quality.expectations  # noqa: F401


@cache
def gx_context() -> Any:
    """One ephemeral GX context per process, progress bars and analytics off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    register_expectations()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars={"globally": False, "metric_calculations": False},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def dimension_of(expectation: Any) -> Dimension:
    """The GB/T 36344 dimension of an expectation (object or configuration): its ``meta.dimension`` when
    a steward set one, else its type's (its rule in :mod:`citygov.quality.registry`), else 规范性."""
    config = expectation.configuration if hasattr(expectation, "configuration") else expectation
    meta = config.meta or {}
    if meta.get("dimension"):
        return Dimension(meta["dimension"])
    rule = registry.rule_for(config.type)
    return rule.dimension if rule else Dimension.CONFORMITY


# --- files -----------------------------------------------------------------------------------------------


def load_suite(code: str, directory: Path | str | None = None) -> Any | None:
    """The GX suite of ``code`` from its file, or None when there is none.

    Raises :class:`SuiteFileError` naming the file and expectation when the file is not valid JSON or an
    expectation is unknown or misconfigured (GX itself would drop such an expectation with a log line).
    """
    path = suite_path(code, directory)
    if not path.is_file():
        return None
    return read_suite(path)


def read_suite(path: Path) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    register_expectations()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteFileError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not data.get("name"):
        raise SuiteFileError(f"{path}: a suite file is a JSON object with a name and a list of expectations")
    expectations = []
    for number, item in enumerate(data.get("expectations") or [], start=1):
        try:
            config = ExpectationConfiguration(
                type=item["type"], kwargs=item.get("kwargs") or {}, meta=item.get("meta") or {}, notes=item.get("notes")
            )
            expectations.append(config.to_domain_obj())
        except Exception as exc:
            what = item.get("type") if isinstance(item, dict) else item
            raise SuiteFileError(
                f"{path}: expectation {number} ({what}): {str(exc).strip().splitlines()[0]}; fix or remove it"
            ) from exc
    return gx.ExpectationSuite(
        name=data["name"], expectations=expectations, meta=data.get("meta") or {}, notes=data.get("notes")
    )


def suite_to_dict(suite: Any) -> dict[str, Any]:
    """A suite as the reviewable JSON structure of a suite file (no generated ids)."""
    items = []
    for e in suite.expectations:
        config = e.configuration
        item: dict[str, Any] = {"type": config.type, "kwargs": dict(config.kwargs)}
        if config.meta:
            item["meta"] = config.meta
        if config.notes:
            item["notes"] = config.notes
        items.append(item)
    meta = {k: v for k, v in (suite.meta or {}).items() if k != "great_expectations_version"}
    out: dict[str, Any] = {"name": suite.name, "expectations": items, "meta": meta}
    if suite.notes:
        out["notes"] = suite.notes
    return out


def write_suite(suite: Any, directory: Path | str | None = None, *, path: Path | None = None) -> Path:
    """Write ``suite`` as ``<directory>/<name>.json`` (or ``path``), UTF-8, indented, Chinese readable."""
    target = path or suite_path(suite.name, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(suite_to_dict(suite), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def column_masks(suite: Any) -> dict[str, str]:
    """Column → mask kind from the suite's ``meta.citygov.columns``."""
    columns = ((suite.meta or {}).get("citygov") or {}).get("columns") or {}
    return {name: (info or {}).get("mask", "none") for name, info in columns.items()}


def suite_masks(code: str, directory: Path | str | None = None) -> dict[str, str]:
    """Column → mask kind of ``code``'s suite, read from its file without Great Expectations (all the
    dispute queue needs to mask a record key); {} when there is no suite or it cannot be read."""
    path = suite_path(code, directory)
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("meta") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    columns = (meta.get("citygov") or {}).get("columns") or {}
    return {str(n): (info or {}).get("mask", "none") for n, info in columns.items() if isinstance(info, dict | None)}
