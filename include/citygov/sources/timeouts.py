"""How long a department source may take to answer, so that one source that does not answer costs its own
entries a bounded wait and never holds up the others (issue 19: isolation of department sources).

Two limits, because they guard different things:

- ``CITYGOV_SOURCE_TIMEOUT_S`` (default 10): to connect. A database that accepts the connection but never
  answers, a host that drops packets, a wrong address: the source is recorded unreachable for the run
  (a 可访问性 finding) after this many seconds, and the next run tries it again.
- ``CITYGOV_SOURCE_STATEMENT_TIMEOUT_S`` (default 600): one statement on a source that answers. Larger,
  because the quality inspection's aggregate scan or ``COPY`` of a big table legitimately takes minutes;
  it stops a query stuck behind a lock or on a runaway view. PostgreSQL enforces it server-side
  (``statement_timeout``), MySQL as the driver's read timeout; SQLite sources are local files.

The tasks that read sources also have Airflow's ``execution_timeout`` as the backstop for what neither
limit covers (a server that stops answering mid-statement): ``citygov_airflow.pools``.
"""

from __future__ import annotations

from citygov.settings import whole_number

CONNECT_TIMEOUT_S = 10
"""Default seconds to connect to a source."""
STATEMENT_TIMEOUT_S = 600
"""Default seconds one statement on a source may run."""


def connect_timeout_s() -> int:
    """Seconds to connect to a source: ``CITYGOV_SOURCE_TIMEOUT_S``, else :data:`CONNECT_TIMEOUT_S`."""
    value = whole_number("CITYGOV_SOURCE_TIMEOUT_S", low=1, unit="seconds",
                         note="how long a department source may take to answer a connection")
    return CONNECT_TIMEOUT_S if value is None else value


def statement_timeout_s() -> int:
    """Seconds one statement on a source may run: ``CITYGOV_SOURCE_STATEMENT_TIMEOUT_S``, else
    :data:`STATEMENT_TIMEOUT_S`."""
    value = whole_number("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", low=1, unit="seconds",
                         note="how long one statement on a department source may run")
    return STATEMENT_TIMEOUT_S if value is None else value
