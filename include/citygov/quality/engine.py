"""Validate a GX expectation suite against a database table or a file, with GX's own result objects.

The public entry points, each in the module of its role:

- :func:`validate_table` (:mod:`citygov.quality.tables`): ``engine="stream"`` reads the checked columns
  and checks them in the worker (:mod:`citygov.quality.stream`), ``"fused"`` compiles the suite into one
  aggregate scan, ``"gx"`` is GX's own engine (:mod:`citygov.quality.gx_fallback`), ``"auto"`` picks;
- :func:`validate_file` / :func:`validate_resource` (:mod:`citygov.quality.file_checks`): a CSV/XLSX file,
  or a resource of a source without SQL, streamed in bounded blocks;
- :func:`result_json` (:mod:`citygov.quality.results`): a suite result as GX's JSON.

What each expectation type means and how it runs is its rule's (:mod:`citygov.quality.registry`),
compiled by :mod:`citygov.quality.checks`; vectorized verdicts are :mod:`citygov.quality.vector`'s.
"""

from __future__ import annotations

from citygov.quality.checks import BaseLookup, ValidationError
from citygov.quality.file_checks import validate_file, validate_resource
from citygov.quality.files import iter_chunks
from citygov.quality.results import result_json
from citygov.quality.tables import ENGINES, choose_engine, validate_table

__all__ = ["ENGINES", "BaseLookup", "choose_engine", "ValidationError", "iter_chunks", "result_json", "validate_file", "validate_resource",
           "validate_table"]
