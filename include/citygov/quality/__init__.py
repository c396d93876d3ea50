"""Quality inspection (数据质量检查) with Great Expectations 1.x: suites, domain expectations, masked
results, findings for the dispute queue, GB/T 36344 scores and Data Docs.

Public entry points (every shell — DAG, ``govern``, web API — calls these):

- :func:`citygov.quality.runner.inspect_batch` — validate a batch of catalog entries for a logical date
  and store masked runs, check results, findings (origin ``quality``) and scores;
- :func:`citygov.quality.drafting.draft_suite` — suggest a suite from a catalog entry and a profile
  (:func:`citygov.quality.profile.profile_table` / ``profile_file``); suite files are
  :mod:`citygov.quality.suites` (``load_suite`` / ``write_suite``), a steward's review of a draft
  :mod:`citygov.quality.review`;
- :func:`citygov.quality.engine.validate_table` / ``validate_file`` — one suite against one table or file;
- :func:`citygov.quality.scores.load_scores` — dataset, department and city scores, with history;
- :func:`citygov.quality.history.rule_history` — each rule's failing rows and pass/fail per date;
- :func:`citygov.quality.docs.build_data_docs` — a date's GX Data Docs site from stored, masked results
  (one site per date, kept ``CITYGOV_DATA_DOCS_KEEP_DAYS``).

Every expectation type is one module of :mod:`citygov.quality.registry` (words, dimension, its Python,
SQL and vectorized forms, its GX form and its drafting heuristic); :mod:`citygov.quality.expectations`
generates the GX classes from it (registered with GX on import), :mod:`citygov.quality.checks` compiles
a suite from it for the engine (:mod:`~citygov.quality.tables`, :mod:`~citygov.quality.file_checks`).
Nothing here imports Airflow; GX is imported only when a function needs it (it takes seconds).
"""

import logging
import warnings

# Importing GX logs a line at INFO for each public function it does not register ("Skipping registering
# function …"): some 200 lines in every Airflow task log and CLI run that imports it under Airflow's logging.
logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
# And one line per metric it declares twice, for each engine (PandasExecutionEngine, SparkDFExecutionEngine
# although no Spark is used), plus DeprecationWarnings of its own imports (sre_constants, sre_parse): noise an
# operator reading a task log cannot act on.
logging.getLogger("great_expectations.expectations.registry").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"great_expectations(\.|$)")

