"""Write the connections file ``make demo`` imports into Airflow: the demo city's plus ``governance_db``.

    python scripts/airflow_connections.py data/demo/connections.json .airflow/connections.json

``governance_db`` points at the store the ``govern`` command line uses (``GOVERNANCE_DB_URL``, else the
embedded ``data/governance.db``), so a DAG and the CLI always read and write the same store. The output
holds passwords when the store has one: it is written with mode 0600 inside the git-ignored ``.airflow/``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sqlalchemy import make_url

from citygov.settings import GOVERNANCE_CONN_ID, governance_url
from citygov.sources import ConnectionInfo


def governance_connection(url: str) -> ConnectionInfo:
    """The Airflow connection for a store URL, in the form ``citygov_airflow`` turns back into the URL."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return ConnectionInfo(GOVERNANCE_CONN_ID, "sqlite", host=str(Path(u.database or "").resolve()))
    if backend == "postgresql":
        return ConnectionInfo(
            GOVERNANCE_CONN_ID,
            "postgres",
            host=u.host,
            port=u.port,
            login=u.username,
            password=u.password,
            schema=u.database,
        )
    return ConnectionInfo(GOVERNANCE_CONN_ID, "generic", host=u.render_as_string(hide_password=False))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    demo_file, out_file = Path(argv[0]), Path(argv[1])
    connections = json.loads(demo_file.read_text(encoding="utf-8")) if demo_file.exists() else {}
    connections[GOVERNANCE_CONN_ID] = governance_connection(governance_url()).to_airflow_json()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(connections, fh, ensure_ascii=False, indent=2)
    print(f"{len(connections)} connections → {out_file}: {', '.join(sorted(connections))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
