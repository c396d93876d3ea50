"""The adapter DAG tasks use between Airflow and the core: connections, dates, summaries, catalog file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from citygov.settings import default_governance_url
from citygov_airflow import (
    DEFAULT_ARGS,
    catalog_file_path,
    city_date,
    governance_url_from_airflow,
    merge_summaries,
    source_resolver,
)


@pytest.mark.parametrize(
    ("conn", "url"),
    [
        pytest.param(
            json.dumps({"conn_type": "sqlite", "host": "/srv/citygov/governance.db"}),
            "sqlite:////srv/citygov/governance.db",
            id="sqlite-json",
        ),
        pytest.param(
            json.dumps(
                {
                    "conn_type": "postgres",
                    "host": "db.internal",
                    "port": 5432,
                    "login": "gov",
                    "password": "p@ss/word",
                    "schema": "governance",
                }
            ),
            "postgresql+psycopg://gov:p%40ss%2Fword@db.internal:5432/governance",
            id="postgres-json",
        ),
        pytest.param(
            "postgres://gov:secret@db.internal:5433/governance",
            "postgresql+psycopg://gov:secret@db.internal:5433/governance",
            id="postgres-uri",
        ),
    ],
)
def test_governance_url_from_the_connection(monkeypatch, conn: str, url: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", conn)
    assert governance_url_from_airflow() == url


def test_governance_url_falls_back_like_the_cli(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_GOVERNANCE_DB", raising=False)
    monkeypatch.delenv("GOVERNANCE_DB_URL", raising=False)
    assert governance_url_from_airflow() == default_governance_url()
    monkeypatch.setenv("GOVERNANCE_DB_URL", "sqlite:////tmp/elsewhere.db")
    assert governance_url_from_airflow() == "sqlite:////tmp/elsewhere.db"


def test_source_resolver(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEPT_MZJ_FILES",
        json.dumps(
            {"conn_type": "fs", "extra": {"path": "/data/mzj", "citygov_department": "连云港市民政局"}}
        ),
    )
    resolve = source_resolver()
    info = resolve("dept_mzj_files")
    assert info is not None and info.department == "连云港市民政局" and str(info.folder()) == "/data/mzj"
    assert resolve("dept_that_does_not_exist") is None


@pytest.mark.parametrize(
    ("logical_date", "day"),
    [
        (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), date(2026, 11, 28)),  # midnight in Beijing
        (datetime(2026, 11, 28, 15, 59, tzinfo=UTC), date(2026, 11, 28)),
    ],
)
def test_city_date_is_the_beijing_calendar_day(logical_date: datetime, day: date) -> None:
    assert city_date(logical_date) == day


def test_merge_summaries_adds_batches_up() -> None:
    batches = [
        {
            "logical_date": "2026-11-28",
            "entries": 3,
            "findings": 2,
            "by_rule": {"stale": 1, "missing_column": 1},
            "unreachable_sources": ["dept_wjw"],
        },
        {
            "logical_date": "2026-11-28",
            "entries": 2,
            "findings": 1,
            "by_rule": {"stale": 1},
            "unreachable_sources": ["dept_wjw", "dept_rsj"],
        },
    ]
    assert merge_summaries(batches) == {
        "logical_date": "2026-11-28",
        "entries": 5,
        "findings": 3,
        "by_rule": {"stale": 2, "missing_column": 1},
        "unreachable_sources": ["dept_wjw", "dept_rsj"],
    }
    assert merge_summaries([]) == {}


def test_catalog_file_path_from_the_param(tmp_path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("x")
    assert catalog_file_path(str(catalog), "citygov_catalog_file") == catalog


def test_catalog_file_path_missing_fails_without_retry(tmp_path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="does not exist"):
        catalog_file_path(str(tmp_path / "nope.csv"), "citygov_catalog_file")


def test_default_args_name_an_owner_and_retry() -> None:
    assert DEFAULT_ARGS["owner"] not in ("", "airflow")
    assert DEFAULT_ARGS["retries"] >= 1
