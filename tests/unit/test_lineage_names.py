"""OpenLineage dataset names in each source's real namespace (citygov.lineage), and the masked assertions."""

from __future__ import annotations

from pathlib import Path

import pytest

from citygov.lineage import assertion, source_dataset, url_namespace
from citygov.sources import ConnectionInfo
from citygov.store.models import CheckResult


@pytest.mark.parametrize(("url", "namespace", "prefix"), [
    ("postgresql+psycopg://u:secret@db.city.gov:5433/gaj", "postgres://db.city.gov:5433", "gaj."),
    ("postgresql://u@db/gaj", "postgres://db:5432", "gaj."),
    ("mysql+pymysql://u:p@my.city.gov/rsj", "mysql://my.city.gov:3306", "rsj."),
])
def test_server_databases_are_named_by_host_port_and_database(url: str, namespace: str, prefix: str) -> None:
    assert url_namespace(url) == (namespace, prefix)
    assert "secret" not in url_namespace(url)[0]


def test_a_sqlite_file_a_folder_file_and_an_unknown_connection(tmp_path: Path) -> None:
    db = ConnectionInfo("dept_a", "sqlite", host=str(tmp_path / "a.db"))
    assert (source_dataset(db, "rkjbxx", conn_id="dept_a").namespace, source_dataset(db, "rkjbxx", conn_id="dept_a").name) == (
        f"sqlite://{(tmp_path / 'a.db').resolve()}", "rkjbxx")
    (tmp_path / "files").mkdir()
    folder = ConnectionInfo("dept_f", "fs", extra={"path": str(tmp_path / "files")})
    ds = source_dataset(folder, "list.csv", conn_id="dept_f")
    assert (ds.namespace, ds.name) == ("file", str((tmp_path / "files" / "list.csv").resolve()))
    pg = ConnectionInfo("dept_p", "postgres", host="db", port=5432, schema="gaj", login="u")
    assert source_dataset(pg, "rkjbxx", conn_id="dept_p").name == "gaj.public.rkjbxx"
    assert source_dataset(pg, "stats.rkjbxx", conn_id="dept_p").name == "gaj.stats.rkjbxx"
    assert source_dataset(None, "t", conn_id="gone").namespace == "citygov://gone"


def test_an_assertion_carries_names_and_counts_never_values() -> None:
    check = CheckResult(expectation="expect_column_values_to_be_valid_ric", column="sfzhm", dimension="准确性",
                        success=False, unexpected_count=3, evaluated_count=200,
                        masked_samples=[{"key": "3207**********1234", "value": "320705199001011234"}])
    out = assertion(check)
    assert out == {"assertion": "expect_column_values_to_be_valid_ric", "success": False, "column": "sfzhm",
                   "name": "expect_column_values_to_be_valid_ric:sfzhm", "severity": "warn", "actual": "3",
                   "expected": "0", "params": {"dimension": "准确性", "evaluated": 200}}
