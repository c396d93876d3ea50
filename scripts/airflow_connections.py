"""Write the connections file ``make demo`` imports into Airflow: the demo city's plus ``governance_db``.

    python scripts/airflow_connections.py data/demo/connections.json .airflow/connections.json

``governance_db`` points at the store the ``govern`` command line uses (``GOVERNANCE_DB_URL``, else the
embedded ``data/governance.db``), so a DAG and the CLI always read and write the same store. The output
holds passwords when the store has one: it is written with mode 0600 inside the git-ignored ``.airflow/``.
``govern city init`` writes a city's file with the same function (:mod:`citygov.onboarding`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from citygov.onboarding import governance_connection, write_airflow_connections
from citygov.settings import governance_url

__all__ = ["governance_connection", "main"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_file = Path(argv[1])
    ids = write_airflow_connections(Path(argv[0]), governance_url(), out_file)
    print(f"{len(ids)} connections → {out_file}: {', '.join(ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
