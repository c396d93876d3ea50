"""The metadata policy in the patrol, the dispute queue and the scorecard, on a real store.

The test catalog's 企业登记信息 leaves 信息资源摘要 and 发布日期 empty, 婚姻登记信息 (不予共享) leaves
信息资源摘要 and 共享方式 empty: recommended fields by default, so no dispute, only shown; a city that
requires 信息资源摘要 gets one dispute per entry lacking it, addressed to its provider.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.disputes import list_disputes, route_findings
from citygov.findings import load_findings
from citygov.patrol import patrol_batch
from citygov.scorecards import dataset_scorecard
from citygov_web.app import _templates
from citygov_web.auth import PageUser
from tests.catalog_files import GOOD_ROWS, write_catalog

DAY = date(2026, 11, 28)
CODES = [r["信息资源代码"] for r in GOOD_ROWS]
ENTERPRISES, MARRIAGES = "320700-SCJG-0001", "320700-MZJ-0001"


@pytest.fixture
def catalogued(store: Engine, tmp_path: Path) -> Engine:
    import_catalog(store, write_catalog(tmp_path / "catalog.csv", GOOD_ROWS))
    return store


def _incomplete(store: Engine) -> dict[str, list[str]]:
    return {f["entry_code"]: f["evidence"]["missing"] for f in load_findings(store, origin="patrol")
            if f["rule_id"] == "patrol.metadata.incomplete"}


def test_by_default_empty_recommended_fields_are_shown_not_disputed(catalogued: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CITYGOV_METADATA_REQUIRED", raising=False)
    monkeypatch.delenv("CITYGOV_METADATA_RECOMMENDED", raising=False)
    report = patrol_batch(catalogued, CODES, lambda conn_id: None, DAY)  # sources down: metadata needs none
    assert _incomplete(catalogued) == {}
    assert report.recommended_gaps == {ENTERPRISES: ("信息资源摘要", "发布日期"), MARRIAGES: ("信息资源摘要",)}
    assert report.summary()["recommended_fields_empty"] == {"信息资源摘要": 2, "发布日期": 1}
    route_findings(catalogued)
    assert not [i for i in list_disputes(catalogued) if i.rule_id == "patrol.metadata.incomplete"]

    card = dataset_scorecard(catalogued, ENTERPRISES)
    assert card is not None and card.recommended_empty == ("信息资源摘要", "发布日期")
    html = _templates().get_template("scorecard.html").render(
        card=card, items=[], base="", user=PageUser("viewer", can_write=False))
    assert "Recommended catalog fields left empty (not disputed)</small>: 信息资源摘要、发布日期" in html
    complete = dataset_scorecard(catalogued, "320700-GAJ-0001")
    assert complete is not None and complete.recommended_empty == ()


def test_a_city_that_requires_a_field_gets_a_dispute_for_each_entry_lacking_it(catalogued: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYGOV_METADATA_REQUIRED", "信息资源摘要")
    monkeypatch.delenv("CITYGOV_METADATA_RECOMMENDED", raising=False)
    report = patrol_batch(catalogued, CODES, lambda conn_id: None, DAY)
    assert _incomplete(catalogued) == {ENTERPRISES: ["信息资源摘要"], MARRIAGES: ["信息资源摘要"]}
    assert report.recommended_gaps == {ENTERPRISES: ("发布日期",)}
    route_findings(catalogued)
    items = [i for i in list_disputes(catalogued) if i.rule_id == "patrol.metadata.incomplete"]
    assert sorted((i.entry_code, i.responsible_unit) for i in items) == [
        (MARRIAGES, "连云港市民政局"), (ENTERPRISES, "连云港市市场监督管理局")]


def test_a_bad_policy_setting_is_shown_on_the_scorecard_not_a_server_error(catalogued: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYGOV_METADATA_RECOMMENDED", "信息资源摘要,no_such_field")
    card = dataset_scorecard(catalogued, ENTERPRISES)
    assert card is not None and card.recommended_empty == ()
    assert card.policy_error and "CITYGOV_METADATA_RECOMMENDED" in card.policy_error and "no_such_field" in card.policy_error
    html = _templates().get_template("scorecard.html").render(
        card=card, items=[], base="", user=PageUser("viewer", can_write=False))
    assert 'id="policy-error"' in html and "no_such_field" in html
