"""A second city, 东海县, by its own generator (``tests/second_city.py``), onboarded through the README's one
step (``govern city init``) with no rule written by hand: every planted quality, patrol and census defect is
found (quality ones with their exact failing-row counts), each in a dispute item for the right department,
and nothing that was not planted is reported."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from citygov import cli
from citygov.findings import load_findings
from citygov.onboarding import CityProfile
from citygov.store import engine_for, session_scope
from citygov.store.models import CheckResult, QualityRun
from tests.second_city import AS_OF, build_second_city

pytestmark = pytest.mark.airflow


# Seed 2 writes a CSV whose first 64 KiB end inside a character (the encoding probe once failed on it).
@pytest.mark.parametrize("seed", [722, 2])
def test_a_second_city_onboarded_in_one_step_gets_exactly_its_planted_defects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], seed: int
) -> None:
    monkeypatch.setenv("CITYGOV_CITY_ENV", str(tmp_path / "active.env"))
    monkeypatch.delenv("CITYGOV_CITY_PROFILE", raising=False)
    city = build_second_city(tmp_path / "src", seed=seed)

    status = cli.main(["city", "init", "--catalog", str(city.catalog_file), "--connections", str(city.connections_file),
                       "--dir", str(tmp_path / "dh"), "--name", "东海县", "--date", AS_OF.isoformat()])
    out = capfd.readouterr().out
    assert status == 0, out
    profile = CityProfile.read(tmp_path / "dh")
    store = engine_for(profile.store_url)

    # Quality: the stored results of the run fail exactly the planted rules, with the planted counts.
    planted = {(d.entry_code, d.rule_id, d.column): d.count for d in city.defects if d.origin == "quality"}
    with session_scope(store) as session:
        failed = {
            (run.entry_code, check.expectation, check.column): check.unexpected_count
            for check, run in session.execute(
                select(CheckResult, QualityRun).join(QualityRun, CheckResult.run_id == QualityRun.id)
                .where(CheckResult.success.is_(False), QualityRun.logical_date == AS_OF)
            )
        }
    assert failed == planted, _diff(planted, failed)
    findings = load_findings(store, origin="quality", logical_date=AS_OF)
    assert {(f["entry_code"], f["rule_id"], f["column"]): f["evidence"]["unexpected_count"] for f in findings} == planted

    # Patrol and census: exactly the planted findings.
    for origin in ("patrol", "census"):
        expected = {(rule, d.entry_code, d.column) for d in city.defects for o, rule in d.found_by if o == origin}
        found = {(f["rule_id"], f["entry_code"], f["column"]) for f in load_findings(store, origin=origin, logical_date=AS_OF)}
        assert found == expected, (origin, _diff(dict.fromkeys(expected), dict.fromkeys(found)))
    store.dispose()

    # The dispute queue: one item per planted defect, addressed to its department, and no other item.
    assert cli.main(["--db", profile.store_url, "disputes", "list", "--json"]) == 0
    items = json.loads(capfd.readouterr().out)
    routed = Counter((i["origin"], i["rule_id"], i["entry_code"], i["column"], i["responsible_unit"]) for i in items)
    wanted = Counter((d.origin, d.rule_id, d.entry_code, d.column, d.department) for d in city.defects)
    assert routed == wanted, _diff(dict(wanted), dict(routed))
    counts = {(i["entry_code"], i["rule_id"], i["column"]): i["latest_evidence"].get("unexpected_count") for i in items if i["origin"] == "quality"}
    assert counts == planted


def _diff(expected: dict, found: dict) -> str:
    missed = {k: v for k, v in expected.items() if k not in found}
    wrong = {k: (v, found[k]) for k, v in expected.items() if k in found and found[k] != v}
    extra = {k: v for k, v in found.items() if k not in expected}
    return f"missed {missed}; miscounted (planted, found) {wrong}; not planted {extra}"
