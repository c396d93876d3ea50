"""Running expectations through GX's own ``SqlAlchemyExecutionEngine``: the fallback for types no rule
compiles, and the reference ``engine="gx"`` the tests compare the fused path to."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from citygov.quality.checks import RESULT_FORMAT
from citygov.sources.database import ident


def gx_validate_table(source: Engine, table: str, expectations: list[Any], parameters: Mapping[str, Any],
                       keys: Sequence[str] = ()) -> list[Any]:
    """Run ``expectations`` through GX's own SqlAlchemyExecutionEngine against ``table``; with ``keys``,
    GX reports each failing row's key columns (``unexpected_index_column_names``)."""
    import great_expectations as gx

    from citygov.quality.suites import gx_context

    context = gx_context()
    suite = gx.ExpectationSuite(name=f"gx_fallback_{table}")
    for e in expectations:
        suite.add_expectation(e.configuration.to_domain_obj())
    url = source.url.render_as_string(hide_password=False)
    sources = context.data_sources
    add = {"sqlite": sources.add_or_update_sqlite, "postgresql": sources.add_or_update_postgres}.get(
        source.dialect.name, sources.add_or_update_sql
    )
    # One datasource per dialect: GX refuses to turn a datasource of one type into another, so a single
    # name shared by every source broke the second dialect a process validated.
    datasource = add(name=f"citygov_{source.dialect.name}", connection_string=url)
    # A quoted_name is kept as is by GX (a plain str becomes quoted_name(quote=False): never quoted).
    asset = datasource.add_table_asset(name=f"t{len(datasource.assets)}", table_name=ident(table))
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    result_format: dict[str, Any] = dict(RESULT_FORMAT)
    if keys:
        result_format.update(unexpected_index_column_names=list(keys), return_unexpected_index_query=False)
    result = batch.validate(suite, result_format=result_format, expectation_parameters=dict(parameters))
    # GX groups results by domain; hand them back in the order of ``expectations``.
    pending: dict[str, list[Any]] = {}
    for res in result.results:
        pending.setdefault(_config_key(res.expectation_config), []).append(res)
    return [pending[_config_key(e.configuration)].pop(0) for e in expectations]


def _config_key(config: Any) -> str:
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    return json.dumps([config.type, kwargs], sort_keys=True, default=str)

