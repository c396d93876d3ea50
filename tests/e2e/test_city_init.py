"""``govern city init`` on a small city that is not the demo: registered with an Airflow home, store and
suites folder of its own, then its pipeline run through Airflow from that profile."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from citygov import cli
from citygov.onboarding import CityProfile, active_profile
from tests.city_files import CATALOG, EDUCATION, build_city

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
CODES = sorted(r["信息资源代码"] for r in CATALOG)


def test_a_city_onboards_in_one_step_into_its_own_folders_and_its_pipeline_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYGOV_CITY_ENV", str(tmp_path / "active.env"))
    monkeypatch.delenv("CITYGOV_CITY_PROFILE", raising=False)
    catalog_file, connections_file = build_city(tmp_path / "src")
    city = tmp_path / "gy"
    demo_suites = {p.name for p in (ROOT / "expectations").glob("*.json")}

    # The README's one step, with the Makefile's pipeline (no backflow connection: that DAG is skipped).
    status = cli.main(["city", "init", "--catalog", str(catalog_file), "--connections", str(connections_file),
                       "--dir", str(city), "--name", "灌云县", "--date", "2026-12-01"])

    out = capfd.readouterr().out
    assert status == 0, out
    profile = CityProfile.read(city)
    assert active_profile() == profile
    assert (profile.name, profile.airflow_home, profile.suites_dir) == ("灌云县", city / "airflow", city / "suites")
    assert profile.store_url == f"sqlite:///{city / 'data' / 'governance.db'}"
    assert sorted(p.stem for p in profile.suites_dir.glob("*.json")) == CODES
    assert {p.name for p in (ROOT / "expectations").glob("*.json")} == demo_suites
    with sqlite3.connect(profile.airflow_home / "airflow.db") as db:
        conns = {row[0] for row in db.execute("select conn_id from connection")}
        variables = {row[0] for row in db.execute("select key from variable")}
    assert conns == {"gy_jyj", "gy_jtj", "governance_db"}
    assert variables == {"citygov_catalog_file"}
    # What it prints: each DAG, the summary make demo prints, what to review.
    for dag_id in ("catalog_sync", "public_data_census", "catalog_patrol", "quality_inspection", "dispute_routing"):
        assert f"   {dag_id}: success" in out
    assert "── govern disputes list" in out and "── to review" in out
    assert "expect_column_values_to_not_be_blank(xm) holds for 58 of 60 sampled rows" in out
    assert "320723-JYJ-0002 学校名录 has no 主键" in out

    assert cli.main(["--db", profile.store_url, "census", "show", "--json"]) == 0
    census = json.loads(capfd.readouterr().out)
    assert census["uncatalogued"] == ["gy_jyj/jsxx"]
    assert cli.main(["--db", profile.store_url, "disputes", "list", "--json", "--department", EDUCATION]) == 0
    items = json.loads(capfd.readouterr().out)
    assert any("jsxx" in json.dumps(item, ensure_ascii=False) for item in items), items
    blank = [i for i in items if i["rule_id"] == "expect_column_values_to_not_be_blank" and i["entry_code"] == "320723-JYJ-0001"]
    assert len(blank) == 1, items
    assert (profile.data_dir / "data_docs" / "index.html").is_file()

    # `make up` then serves this city as registered: the demo is not registered over it, catalog_sync's
    # Variable still names the city's catalog, and the hourly sync has withdrawn none of its entries.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVERNANCE", "CITYGOV_CITY_PROFILE"))}
    up = subprocess.run(["make", "--no-print-directory", "up", "UP_RUNNER=true"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0 and f"serving the city of {profile.profile_file}" in up.stdout, up.stdout + up.stderr
    with sqlite3.connect(profile.airflow_home / "airflow.db") as db:
        assert {row[0] for row in db.execute("select conn_id from connection")} == {"gy_jyj", "gy_jtj", "governance_db"}
    variable = subprocess.run(["bash", "-c", "source scripts/airflow_env.sh && airflow variables get citygov_catalog_file"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert variable.stdout.strip().splitlines()[-1] == str(catalog_file), variable.stdout + variable.stderr
    assert cli.main(["--db", profile.store_url, "catalog", "list", "--json"]) == 0
    assert sorted(e["code"] for e in json.loads(capfd.readouterr().out)) == CODES
