"""Validate a GX expectation suite against a database table or a file, with GX's own result objects.

The public entry points, each in the module of its role:

- :func:`validate_table` (:mod:`citygov.quality.tables`): the suite fused into one aggregate scan,
  ``engine="gx"`` for GX's own engine (:mod:`citygov.quality.gx_fallback`);
- :func:`validate_file` (:mod:`citygov.quality.file_checks`): a CSV/XLSX file in bounded chunks;
- :func:`result_json` (:mod:`citygov.quality.results`): a suite result as GX's JSON.

What each expectation type means and how it runs is its rule's (:mod:`citygov.quality.registry`),
compiled by :mod:`citygov.quality.checks`; vectorized verdicts are :mod:`citygov.quality.vector`'s.
"""

from __future__ import annotations

from citygov.quality.checks import BaseLookup, ValidationError
from citygov.quality.file_checks import validate_file
from citygov.quality.files import iter_chunks
from citygov.quality.results import result_json
from citygov.quality.tables import validate_table

__all__ = ["BaseLookup", "ValidationError", "iter_chunks", "result_json", "validate_file", "validate_table"]
