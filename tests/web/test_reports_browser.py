"""The leaders' pages in a real ``airflow api-server`` and headless Chromium: backflow batches, the census
with its draft rows, the catalog with its change history, the queue's CSV/XLSX export and the monthly
department report (printed and as PDF). Each page's numbers must equal what ``govern … --json`` prints on
the same store, nothing on them is an identifier in clear, and no page asks anything of another host.

The store is :func:`tests.web.report_city.build_report_city`; one api-server (a free port) and one browser
serve the whole module. The browser, its login and ``govern`` are those of :mod:`tests.web.test_pages_browser`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from citygov.quality.masking import find_unmasked
from citygov_web.monthly_pdf import FONT_CANDIDATES
from tests.api_server import running_api_server
from tests.web.report_city import DAY, MONTH, UNIT, build_report_city
from tests.web.test_pages_browser import (  # noqa: F401 (fixtures of this module too)
    GOVERN,
    PASSWORDS,
    USERS,
    browser,
    browser_available,
    govern,
    login,
    shot,
    token,
)

pytestmark = pytest.mark.airflow

@pytest.fixture(scope="module")
def city_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_report_city(tmp_path_factory.mktemp("report_city"))


@pytest.fixture(scope="module")
def server(airflow_db, city_store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    sources = {f"AIRFLOW_CONN_{c.upper()}": json.dumps(conn) for c, conn in city_store["conns"].items()}
    env = {"AIRFLOW__API_AUTH__JWT_SECRET": "citygov-reports-test-secret", "CITYGOV_DATA_DIR": str(city_store["data"]),
           "AIRFLOW_CONN_GOVERNANCE_DB": json.dumps({"conn_type": "sqlite", "host": city_store["url"].split("///", 1)[1]}),
           **sources}
    with running_api_server(tmp_path_factory.mktemp("reports_server"), users=USERS, passwords=PASSWORDS, env=env,
                            startup_seconds=120) as base:
        yield base


@pytest.fixture(scope="module")
def admin(browser: Any, server: str) -> Iterator[Any]:  # noqa: F811
    """The steward's page, every request to another host recorded and refused."""
    page = login(browser, server, "admin")
    outside: list[str] = []

    def refuse(route: Any) -> None:
        if urlsplit(route.request.url).hostname not in ("127.0.0.1", "localhost"):
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", refuse)
    yield page
    assert outside == [], outside


def _cells(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def _batches(page: Any) -> list[str]:
    return page.locator("#batches tbody tr[data-batch]").evaluate_all("rows => rows.map(r => r.dataset.batch)")


def _check(page: Any, name: str) -> None:
    assert find_unmasked(page.content()) == [], page.url
    assert page.locator("link[rel=stylesheet]").count() >= 1
    shot(page, name)


def test_the_new_pages_need_the_airflow_login(server: str) -> None:
    for path in ("/backflow", "/census", "/census/drafts.csv", "/catalog", "/disputes.csv", "/disputes.xlsx",
                 "/reports/monthly", "/reports/monthly.pdf?department=x"):
        reply = httpx.get(f"{server}/citygov/web{path}", timeout=30)
        assert reply.status_code == 302 and "/auth/login" in reply.headers["location"], (path, reply.status_code)


def test_a_nul_byte_is_refused_on_the_new_pages(server: str) -> None:
    with httpx.Client(cookies={"_token": token(server, "admin")}, timeout=30) as client:
        for path, expected in [("/disputes.csv?dataset=a%00", 422), ("/disputes.xlsx?rule=%00", 422),
                               ("/catalog/%00", 404), ("/reports/monthly?department=%00", 422), ("/census?date=%00", 422)]:
            reply = client.get(f"{server}/citygov/web{path}")
            assert reply.status_code == expected and 'id="error"' in reply.text, (path, reply.status_code)


def test_backflow_batches_are_govern_backflow_batches(admin: Any, server: str, city_store: dict[str, Any]) -> None:
    page = admin
    page.goto(f"{server}/citygov/web/")
    page.locator('nav a[data-nav="backflow"]').click()
    page.wait_for_url(re.compile(r"/backflow$"))
    batches = govern(city_store, "backflow", "batches", "--json")
    assert {b["status"] for b in batches} >= {"loaded", "rejected"}
    assert _batches(page) == [b["batch_id"] for b in batches]
    for b in batches:
        row = page.locator(f'#batches tr[data-batch="{b["batch_id"]}"]')
        rec = b["reconciliation"]
        assert row.get_attribute("data-status") == b["status"]
        assert row.locator('[data-col="declared"]').inner_text() == str(rec["declared"])
        assert row.locator('[data-col="loaded"]').inner_text() == str(rec["loaded"])
        assert row.locator('[data-col="quarantined"]').inner_text() == str(rec["quarantined"])
        assert _cells(row, '[data-col="deliveries"] [data-role="attempts"]') == [str(d["attempts"]) for d in b["deliveries"]]
    loaded = [b["reconciliation"] for b in batches if b["status"] == "loaded"]
    declared, rows_in, held = (sum(r[k] for r in loaded) for k in ("declared", "loaded", "quarantined"))
    assert declared == rows_in + held and held > 0  # the planted invalid rows were quarantined
    totals = page.locator("#totals")
    assert [totals.locator(f'[data-role="{k}"]').inner_text() for k in ("declared", "loaded", "quarantined")] == [
        str(declared), str(rows_in), str(held)]
    assert totals.locator('[data-role="batches"]').inner_text() == str(len(batches))
    assert "平衡" in totals.locator('[data-role="balanced"]').inner_text()
    _check(page, "20-backflow")

    page.locator('#date-filter input[name="date"]').fill(DAY.isoformat())
    page.locator("#date-filter button").click()
    page.wait_for_url(re.compile(r"date="))
    one_day = govern(city_store, "backflow", "batches", "--json", "--date", DAY.isoformat())
    assert _batches(page) == [b["batch_id"] for b in one_day] and one_day
    assert page.locator('#totals [data-role="batches"]').inner_text() == str(len(one_day))


def test_the_census_page_and_its_draft_rows_are_govern_census(admin: Any, server: str, city_store: dict[str, Any],
                                                              tmp_path: Path) -> None:
    page = admin
    page.goto(f"{server}/citygov/web/census?date={DAY.isoformat()}")
    census = govern(city_store, "census", "show", "--json", "--date", DAY.isoformat())
    city = census["coverage"]["city"]
    assert page.locator('#coverage [data-role="coverage"]').inner_text() == f"{city['coverage']:.2%}"
    assert page.locator('#coverage [data-role="fraction"]').inner_text() == f"{city['catalogued']}/{city['found']}"
    for key in ("uncatalogued", "missing", "unreachable"):
        assert page.locator(f'#counts [data-role="{key}"]').inner_text() == str(len(census[key])), key
    assert census["uncatalogued"]  # the demo plants uncatalogued tables
    assert page.locator("#uncatalogued tr[data-place]").evaluate_all("rows => rows.map(r => r.dataset.place)") == census["uncatalogued"]
    for dept, cov in census["coverage"].items():
        if dept != "city":
            row = page.locator(f'#departments tr[data-department="{dept}"]')
            assert row.locator('[data-col="catalogued"]').inner_text() == str(cov["catalogued"])
            assert row.locator('[data-col="found"]').inner_text() == str(cov["found"])
    inventories = govern(city_store, "census", "inventories", "--json", "--date", DAY.isoformat())
    assert {r["conn_id"]: (r["status"], str(r["resources"])) for r in inventories} == {
        row.get_attribute("data-conn"): (row.get_attribute("data-status"), row.locator('[data-col="resources"]').inner_text())
        for row in page.locator("#inventories tbody tr").all()}
    _check(page, "21-census")

    with page.expect_download() as download:
        page.locator("#drafts-link").click()
    got = Path(download.value.path()).read_bytes()
    out = tmp_path / "drafts.csv"
    done = subprocess.run([GOVERN, "--db", city_store["url"], "census", "drafts",
                           "--out", str(out), "--date", DAY.isoformat()], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert got == out.read_bytes()
    drafts = list(csv.DictReader(io.StringIO(got.decode("utf-8-sig"))))
    assert [f"{r['数据连接']}/{r['资源位置']}" for r in drafts] == census["uncatalogued"]


def test_the_catalog_and_its_history_are_govern_catalog(admin: Any, server: str, city_store: dict[str, Any]) -> None:
    page = admin
    page.goto(f"{server}/citygov/web/catalog")
    current = govern(city_store, "catalog", "list", "--json")
    assert page.locator("#total").inner_text() == str(len(current))
    assert page.locator("#entries tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)") == [e["code"] for e in current]
    history = govern(city_store, "catalog", "history", "--json")
    assert len(history) == 2
    for imp in history:
        block = page.locator(f'details[data-import="{imp["import_id"]}"]')
        for key in ("added", "changed", "withdrawn", "unchanged", "rejected"):
            assert block.locator(f'[data-role="{key}"]').inner_text() == str(imp[key]), (imp["import_id"], key)
        assert block.locator("tr[data-change]").count() == len(imp["changes"]) + len(imp["errors"])
    newest = page.locator(f'details[data-import="{history[0]["import_id"]}"]')
    assert newest.locator('tr[data-change="changed"]').count() == 1 and newest.locator('tr[data-change="withdrawn"]').count() == 1
    _check(page, "22-catalog")

    page.locator("#show-all").click()
    page.wait_for_url(re.compile(r"all=1"))
    every = govern(city_store, "catalog", "list", "--json", "--all")
    assert page.locator("#total").inner_text() == str(len(every)) == str(len(current) + 1)
    assert "已撤回" in page.locator(f'#entries tr[data-code="{city_store["withdrawn"]}"] [data-col="state"]').inner_text()

    changed = next(c for c in history[0]["changes"] if c["kind"] == "changed")
    page.locator(f'#entries tr[data-code="{changed["code"]}"] a').first.click()
    page.wait_for_url(re.compile(re.escape(changed["code"])))
    mine = [(imp["import_id"], c["kind"]) for imp in history for c in imp["changes"] if c["code"] == changed["code"]]
    assert page.locator("#changes").inner_text() == str(len(mine)) == "2"
    assert page.locator("#history tbody tr").evaluate_all("rows => rows.map(r => [Number(r.dataset.import), r.dataset.change])") == [
        list(m) for m in mine]
    field, (before, after) = next(iter(changed["diff"].items()))
    assert f"{before} → {after}" in page.locator(f'#history [data-field="{field}"]').inner_text()
    current_entry = next(e for e in current if e["code"] == changed["code"])
    assert page.locator('#entry [data-field="update_cycle"]').inner_text() == current_entry["update_cycle"]
    _check(page, "23-catalog-entry")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_queue_exports_are_the_filtered_queue(admin: Any, server: str, city_store: dict[str, Any], fmt: str) -> None:
    page = admin
    page.goto(f"{server}/citygov/web/disputes")
    page.locator('#filters select[name="department"]').select_option(UNIT)
    page.locator("#filters button").click()
    page.wait_for_url(re.compile(r"department="))
    with page.expect_download() as download:
        page.locator(f"#export-{fmt}").click()
    body = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(f".{fmt}")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        rows = [["" if v is None else str(v) for v in r]
                for r in load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True)]
    expected = govern(city_store, "disputes", "list", "--json", "--department", UNIT)
    assert [int(r[0]) for r in rows[1:]] == [d["id"] for d in expected] and expected
    assert [r[1] for r in rows[1:]] == [d["status"] for d in expected]
    assert page.locator("#total").inner_text() == str(len(expected))
    assert find_unmasked("\n".join(",".join(map(str, r)) for r in rows)) == []


def test_the_monthly_report_is_govern_report_monthly(admin: Any, server: str, city_store: dict[str, Any]) -> None:
    page = admin
    page.goto(f"{server}/citygov/web/reports/monthly?date={DAY.isoformat()}")
    assert page.locator("#choose").is_visible()
    page.locator('#report-picker select[name="department"]').select_option(UNIT)
    page.locator('#report-picker input[name="month"]').fill(MONTH)
    page.locator("#report-picker button", has_text="生成").click()
    page.wait_for_url(re.compile(r"department="))
    want = govern(city_store, "report", "monthly", "--json", "--department", UNIT, "--month", MONTH, "--date", DAY.isoformat())
    report = page.locator("#report")
    assert report.get_attribute("data-month") == MONTH and report.get_attribute("data-department") == UNIT
    score = page.locator('[data-kpi="score"]')
    assert score.locator('[data-role="value"]').inner_text() == f"{want['score']:.2f}"
    assert score.locator('[data-role="grade"]').inner_text() == want["grade"]
    assert score.locator('[data-role="rank"]').inner_text() == str(want["rank"])
    assert score.locator('[data-role="ranked"]').inner_text() == str(want["ranked"])
    assert score.locator('[data-role="datasets"]').inner_text() == str(want["datasets"])
    coverage = page.locator('[data-kpi="coverage"]')
    assert coverage.locator('[data-role="value"]').inner_text() == f"{want['coverage']:.2%}"
    assert coverage.locator('[data-role="fraction"]').inner_text() == f"{want['catalogued']}/{want['found']}"
    disputes = page.locator('[data-kpi="disputes"]')
    for role, key in (("raised", "raised"), ("resolved", "resolved"), ("on-time", "resolved_on_time"),
                      ("open", "open_at_end"), ("overdue", "overdue_at_end")):
        assert disputes.locator(f'[data-role="{role}"]').inner_text() == str(want[key]), role
    assert disputes.locator('[data-role="on-time-share"]').inner_text() == f"{want['share_on_time']:.2%}" == "50.00%"
    assert page.locator("#handled tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.id), r.dataset.onTime === 'true'])") == [
        [h["dispute_id"], h["on_time"]] for h in want["handled"]]
    assert {h["dispute_id"] for h in want["handled"]} == city_store["handled"]
    assert _cells(page, "#datasets tbody tr td:first-child") == [d["code"] for d in want["dataset_rows"]]
    assert page.locator('[data-kpi="score"] svg.chart circle').count() == len(want["score_trend"]) == 2
    _check(page, "24-monthly")

    # Printed: no navigation, no form, the figures and tables kept.
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("#report-picker").is_visible()
    assert page.locator('[data-kpi="disputes"]').is_visible() and page.locator(".print-only").is_visible()
    shot(page, "25-monthly-print")
    page.emulate_media(media="screen")

    href = page.locator("#pdf-link").get_attribute("href")
    assert href and href.startswith("/citygov/web/reports/monthly.pdf?") and f"month={MONTH}" in href
    pdf = page.request.get(f"{server}{href}")
    if any(p.is_file() for p in FONT_CANDIDATES):
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")
    else:
        assert pdf.status == 503 and "fonts-wqy-microhei" in pdf.text()
