"""Onboarding a city (``govern city init``): every problem is named before anything is written, and the
city profile is what ``scripts/airflow_env.sh`` serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citygov import cli
from citygov.onboarding import CityProfile, activate, active_profile, check_city
from tests.city_files import CATALOG, EDUCATION, TRANSPORT, build_city, entry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a test's active city goes (never the checkout's .citygov/)."""
    target = tmp_path / "active" / "city.env"
    monkeypatch.setenv("CITYGOV_CITY_ENV", str(target))
    monkeypatch.delenv("CITYGOV_CITY_PROFILE", raising=False)
    return target


def test_a_bad_city_is_refused_with_every_problem_named_and_nothing_written(
    tmp_path: Path, active: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    catalog = [*CATALOG, entry("320723-WJW-0001", "诊所名录", "灌云县卫生健康委员会", "WJW", "gy_wjw", "zsml", "zsdm:C", "zsdm")]
    catalog_file, connections_file = build_city(src, catalog=catalog, connections={
        "gy_jyj": {"conn_type": "sqlite", "host": str(src / "jyj.db"), "extra": {"citygov_department": EDUCATION}},
        # close to a provider: the provider is named
        "gy_jtj": {"conn_type": "sqlite", "host": str(src / "jtj.db"), "extra": {"citygov_department": "灌云县交通局"}},
        # matches no provider and cannot be reached
        "gy_gaj": {"conn_type": "sqlite", "host": str(src / "gone.db"), "extra": {"citygov_department": "连云港市公安局"}},
        "gy_files": {"conn_type": "fs", "extra": {"path": str(src / "no-such-folder"), "citygov_department": EDUCATION}},
    })
    city = tmp_path / "city"

    status = cli.main(["city", "init", "--catalog", str(catalog_file), "--connections", str(connections_file),
                       "--dir", str(city), "--no-run"])

    err = capsys.readouterr().err
    assert status == 2
    assert "nothing was written: 5 problem(s)" in err
    assert "[department] gy_jtj: citygov_department '灌云县交通局' is no 信息资源提供方 of the catalog; did you mean '灌云县交通运输局'?" in err
    assert "[department] gy_gaj: citygov_department '连云港市公安局' is no 信息资源提供方" in err
    providers = ", ".join(sorted([EDUCATION, TRANSPORT, "灌云县卫生健康委员会"]))
    assert f"the catalog's providers are {providers}" in err
    assert f"[unreachable] gy_gaj: cannot connect: database file {src / 'gone.db'} does not exist" in err
    assert f"[unreachable] gy_files: folder {src / 'no-such-folder'} does not exist" in err
    assert "[undefined_connection] 320723-WJW-0001: its 数据连接 'gy_wjw' is not defined" in err
    assert not city.exists()  # no profile, store, suites or Airflow home
    assert not active.exists()
    assert not (src / "gone.db").exists()  # a missing SQLite source is not created by the check


def test_rejected_catalog_rows_and_an_unreadable_connections_file_are_problems(tmp_path: Path) -> None:
    catalog_file, connections_file = build_city(tmp_path, catalog=[*CATALOG, {**CATALOG[0], "共享类型": "随便"}])
    connections_file.write_text("{not json", encoding="utf-8")

    check = check_city(catalog_file, connections_file)

    kinds = [p.kind for p in check.problems]
    assert kinds == ["catalog", "connections"], check.problems
    assert str(check.problems[0]).startswith(f"{catalog_file}:5: 共享类型")


def test_a_good_city_passes_the_check(tmp_path: Path) -> None:
    check = check_city(*build_city(tmp_path))
    assert check.ok, check.problems
    assert sorted(check.connections) == ["gy_jtj", "gy_jyj"]


def test_the_active_profile_is_what_airflow_env_sets_and_the_demo_env_ignores_it(tmp_path: Path, active: Path) -> None:
    catalog_file, connections_file = build_city(tmp_path / "src")
    profile = CityProfile.in_folder(tmp_path / "gy", catalog_file=catalog_file, connections_file=connections_file, name="灌云")
    profile.write()
    activate(profile)
    assert active_profile() == profile
    assert CityProfile.read(tmp_path / "gy") == profile

    show = "source scripts/airflow_env.sh && echo $AIRFLOW_HOME $GOVERNANCE_DB_URL $CITYGOV_SUITES_DIR ${CITYGOV_CITY_PROFILE:-none}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVERNANCE", "CITYGOV"))}
    city = subprocess.run(["bash", "-c", show], cwd=ROOT, env={**env, "CITYGOV_CITY_ENV": str(active)},
                          capture_output=True, text=True, check=True).stdout.split()
    assert city == [str(profile.airflow_home), profile.store_url, str(profile.suites_dir), str(profile.profile_file)]
    # The Makefile's demo targets (CITYGOV_CITY_ENV empty), even from a shell that sourced the city before.
    leaked = dict(env, CITYGOV_CITY_ENV="", **profile.environment())
    demo = subprocess.run(["bash", "-c", show], cwd=ROOT, env=leaked, capture_output=True, text=True, check=True).stdout.split()
    assert demo == [str(ROOT / ".airflow"), "none"]


def test_govern_run_as_a_program_serves_the_active_city(tmp_path: Path, active: Path) -> None:
    catalog_file, connections_file = build_city(tmp_path / "src")
    profile = CityProfile.in_folder(tmp_path / "gy", catalog_file=catalog_file, connections_file=connections_file)
    profile.write()
    activate(profile)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVERNANCE", "CITYGOV"))}
    govern = str(Path(sys.executable).with_name("govern"))

    shown = subprocess.run([govern, "city", "show", "--json"], env={**env, "CITYGOV_CITY_ENV": str(active)},
                           capture_output=True, text=True, check=True).stdout
    upgraded = subprocess.run([govern, "store", "upgrade"], env={**env, "CITYGOV_CITY_ENV": str(active)},
                              capture_output=True, text=True, check=True).stdout
    demo = subprocess.run([govern, "city", "show"], env={**env, "CITYGOV_CITY_ENV": ""},
                          capture_output=True, text=True, check=True).stdout

    assert CityProfile.from_dict(json.loads(shown)) == profile
    assert profile.store_url in upgraded and (profile.data_dir / "governance.db").is_file()
    assert demo.startswith("no city is configured")


def test_a_good_city_is_written_into_its_own_folders_with_what_to_review(tmp_path: Path) -> None:
    from citygov.catalog.queries import list_entries
    from citygov.census import census_sources
    from citygov.onboarding import onboard_city
    from citygov.store import engine_for

    catalog_file, connections_file = build_city(tmp_path / "src")
    check = check_city(catalog_file, connections_file)
    profile = CityProfile.in_folder(tmp_path / "gy", catalog_file=catalog_file, connections_file=connections_file)

    report = onboard_city(profile, check)

    assert CityProfile.read(profile.profile_file) == profile
    assert sorted(p.stem for p in profile.suites_dir.glob("*.json")) == sorted(r["信息资源代码"] for r in CATALOG)
    assert [Path(p).parent for p in report.drafted] == [profile.suites_dir] * 3
    store = engine_for(profile.store_url)
    try:
        assert len(list_entries(store)) == 3
        assert census_sources(store) == {"gy_jtj": TRANSPORT, "gy_jyj": EDUCATION}
    finally:
        store.dispose()
    assert any(line.strip().startswith("expect_column_values_to_not_be_blank(xm) holds for 58 of 60 sampled rows: "
                                       "the other 2 will be findings") for line in report.review), report.review
    assert "320723-JYJ-0002 学校名录 has no 主键: no uniqueness rule, and disputes cannot name a record" in report.review
    # Onboarding again keeps the suites a steward may have edited.
    assert onboard_city(profile, check).kept == sorted(r["信息资源代码"] for r in CATALOG)
