"""The queue as a work list in a real browser (headless Chromium) against a real ``airflow api-server``:
a steward selects 17 items of one kind and accepts them in one action (17 items, 17 events), and
re-checks an item whose data the unit fixed, which becomes verified.

The server, its store (the demo city after two nights of the pipeline) and the browser are those of
:mod:`tests.web.test_pages_browser`, started again for this module: the actions here change the items.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from citygov import disputes as dq
from citygov.identifiers import ric_is_valid
from citygov.quality.masking import find_unmasked
from citygov.store import engine_for
from tests.web.test_pages_browser import (  # noqa: F401 (fixtures of this module too)
    DATASET,
    browser,
    browser_available,
    city_store,
    govern,
    login,
    server,
    shot,
)

pytestmark = pytest.mark.airflow

RIC = "expect_column_values_to_be_valid_ric"


def test_a_steward_accepts_17_items_at_once_and_rechecks_one(browser: Any, server: str, city_store: dict[str, Any]) -> None:  # noqa: F811
    with sqlite3.connect(city_store["city"] / "sources" / "gaj.db") as db:
        residents = [r[0] for r in db.execute("SELECT sfzhm FROM rkjbxx ORDER BY sfzhm LIMIT 17")]
    engine = engine_for(city_store["url"])
    dq.register_actor(engine, "citizen", "consumer")
    claims = [dq.raise_dispute(engine, dataset=DATASET, by="citizen", claim="该居民登记信息有误", record_key=key).dispute.id
              for key in residents]
    engine.dispose()
    assert len(set(claims)) == 17

    # The queue filtered to that kind, sorted by age; the steward selects all 17 and accepts them.
    page = login(browser, server, "admin")
    page.goto(f"{server}/citygov/web/disputes")
    page.locator('#filters select[name="rule"]').select_option("consumer.claim")
    page.locator('#filters select[name="status"]').select_option("待受理")
    page.locator("#filters button").click()
    page.wait_for_url(lambda url: "rule=consumer.claim" in url)
    page.locator('a[data-sort="age"]').click()
    page.wait_for_url(lambda url: "sort=age" in url)
    rows = page.locator("#items tbody tr")
    assert sorted(int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.id)")) == sorted(claims)
    assert set(page.locator('#items [data-col="rule"] code').all_inner_texts()) == {"consumer.claim"}
    page.locator("#select-all").check()
    assert page.locator("#selected").inner_text() == "17"
    page.locator("#bulk-action").select_option("accept")
    page.locator('#bulk input[name="note"]').fill("批量受理，转公安局核实")
    shot(page, "13-queue-bulk-selected")
    page.locator("#bulk button").click()
    page.wait_for_selector("#notice")
    assert page.locator("#notice").inner_text().startswith("17 项已办理 done") and "failed" not in page.locator("#notice").inner_text()
    assert "sort=age" in page.url and "rule=consumer.claim" in page.url  # back to the queue as it was
    assert page.locator("#items tbody tr").count() == 0  # none of them is 待受理 any more
    trail = govern(city_store, "disputes", "list", "--json", "--rule", "consumer.claim")
    assert {d["id"]: d["status"] for d in trail} == dict.fromkeys(claims, "已受理")
    for claim in claims:  # each item its own event, by the steward
        events = govern(city_store, "disputes", "show", str(claim), "--json")["events"]
        assert [(e["actor"], e["action"], e["to_status"]) for e in events if e["action"] == "transition"] == [
            ("admin", "transition", "已受理")]
    assert find_unmasked(page.content()) == []
    shot(page, "14-queue-bulk-accepted")

    # The responsible unit fixes its data; re-checking the item verifies it at once.
    item = govern(city_store, "disputes", "list", "--json", "--rule", RIC, "--dataset", DATASET)[0]
    assert item["status"] not in ("已核验", "已归档")
    page.goto(f"{server}/citygov/web/disputes/{item['id']}")
    evidence = page.locator("#evidence table.evidence").first
    assert evidence.is_visible() and "None" not in page.locator("#evidence").inner_text()
    assert page.locator("#due").inner_text().split()[0] == item["due_date"]  # the date, as in the queue
    with sqlite3.connect(city_store["city"] / "sources" / "gaj.db") as db:
        bad = [k for (k,) in db.execute("SELECT sfzhm FROM rkjbxx") if not ric_is_valid(k)]
        assert bad
        db.executemany("DELETE FROM rkjbxx WHERE sfzhm = ?", [(k,) for k in bad])
    page.locator("#recheck button").click()
    page.wait_for_selector("#notice")
    assert "re-check passed" in page.locator("#notice").inner_text()
    assert page.locator("#status").inner_text() == "已核验"
    shown = govern(city_store, "disputes", "show", str(item["id"]), "--json")
    assert shown["status"] == "已核验" and not shown["flagged"]
    last = shown["events"][-1]
    assert (last["action"], last["to_status"], last["details"]["result"], last["details"]["unexpected_count"]) == (
        "recheck", "已核验", "passed", 0)
    assert page.locator('#timeline li[data-event="recheck"]').count() == 1
    shot(page, "15-item-rechecked")
