"""The web pages in a real ``airflow api-server``, driven by headless Chromium (Debian's, via Playwright).

The demo city's pipeline (catalog, census, patrol, quality with Data Docs, dispute routing) runs on a
store of the test's own for two days; the api-server runs with the plugins folder, the SimpleAuthManager
with fixed users, and the demo's connections as ``AIRFLOW_CONN_*`` variables. A person logs in through
Airflow's login page, opens every page, and the numbers shown must equal what ``govern ... --json``
prints. A dispute is worked from 待受理 to 已核验 through the page; a viewer sees no action buttons and the
API refuses them anyway. Screenshots go to ``test-artifacts/screenshots/``.

Chromium is ``/usr/bin/chromium`` (``apt-get install -y chromium chromium-driver``); never a downloaded
browser. Without it the tests skip locally, and fail when ``CI`` or ``CITYGOV_REQUIRE_BROWSER`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citygov import disputes as dq
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.quality.masking import find_unmasked
from citygov.quality.review import rule_label
from citygov.quality.rules import REASONS
from citygov.quality.suites import load_suite
from citygov.store import engine_for, upgrade
from tests.api_server import running_api_server
from tests.suite_files import mark_draft
from tests.web.pipeline import run_demo_pipeline

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
DAY = DEFAULT_AS_OF
USERS = {"admin": "admin", "viewer": "viewer", "officer": "user"}
PASSWORDS = {"admin": "admin-pw-0", "viewer": "viewer-pw-1", "officer": "officer-pw-2"}
PROVIDER = "连云港市公安局"  # DATASET's provider: the officer's unit
GOVERN = str(Path(sys.executable).with_name("govern"))
DATASET = "320700-GAJ-0001"  # 人口基本信息: failing ID-number checks with masked samples


def _browser_problem() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}): pip install -e '.[browser]'"
    return None


@pytest.fixture(scope="module", autouse=True)
def browser_available() -> None:
    problem = _browser_problem()
    if problem:
        if os.environ.get("CI") or os.environ.get("CITYGOV_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are required here but cannot run: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")


@pytest.fixture(scope="module")
def city_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo city with two nights of the pipeline in a store, and Data Docs in a data folder."""
    tmp = tmp_path_factory.mktemp("web_city")
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    run_demo_pipeline(engine, city, [DAY - timedelta(days=1), DAY], docs=tmp / "data" / "data_docs")
    dq.register_actor(engine, "admin", "steward", display_name="Airflow admin (steward)")
    dq.register_actor(engine, "officer", "officer", department=PROVIDER)
    engine.dispose()
    suites = tmp / "suites"  # the server's own copy: the review tests change suite files
    shutil.copytree(ROOT / "expectations", suites)
    return {"url": url, "city": city, "data": tmp / "data", "connections": city / "connections.json",
            "resident": _a_resident(city), "suites": suites, "failing_keys": _failing_keys(city)}


def _a_resident(city: Path) -> str:
    """The ID number of a real resident in DATASET's source (人口基本信息 is keyed by it)."""
    import sqlite3

    conns = json.loads((city / "connections.json").read_text(encoding="utf-8"))
    with sqlite3.connect(conns["dept_gaj"]["host"]) as db:
        return str(db.execute("SELECT sfzhm FROM rkjbxx ORDER BY sfzhm LIMIT 1").fetchone()[0])


def _failing_keys(city: Path) -> set[str]:
    """The raw keys (ID numbers) of DATASET's rows whose ID number fails its rule: shown nowhere in clear."""
    import sqlite3

    from citygov.quality.rules import ric_problem

    conns = json.loads((city / "connections.json").read_text(encoding="utf-8"))
    with sqlite3.connect(conns["dept_gaj"]["host"]) as db:
        return {str(k) for (k,) in db.execute("SELECT sfzhm FROM rkjbxx") if ric_problem(k, as_of=DAY)}


@pytest.fixture(scope="module")
def server(airflow_db, city_store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    conns = json.loads(city_store["connections"].read_text(encoding="utf-8"))
    env = {
        "AIRFLOW__API_AUTH__JWT_SECRET": "citygov-web-test-secret",
        "CITYGOV_DATA_DIR": str(city_store["data"]),
        "CITYGOV_SUITES_DIR": str(city_store["suites"]),
        "AIRFLOW_CONN_GOVERNANCE_DB": json.dumps({"conn_type": "sqlite", "host": city_store["url"].split("///", 1)[1]}),
        # Every source: the KPI pages read the share log and the portal listing, the locator the departments'.
        **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in conns.items()},
    }
    with running_api_server(
        tmp_path_factory.mktemp("web_server"), users=USERS, passwords=PASSWORDS, env=env, startup_seconds=120
    ) as base:
        yield base


def govern(city_store: dict[str, Any], *args: str) -> Any:
    """``govern --db STORE ARGS`` as a person would run it; its JSON output."""
    done = subprocess.run([GOVERN, "--db", city_store["url"], *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CITYGOV_DATA_DIR": str(city_store["data"])})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def token(server: str, user: str) -> str:
    response = httpx.post(f"{server}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def login(browser: Any, server: str, user: str) -> Any:
    """A page logged in through Airflow's login page (the UI sets the ``_token`` cookie)."""
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/citygov/web/")
    page.wait_for_url(re.compile(r"/auth/login"), timeout=30_000)  # sent to Airflow's login page
    page.locator("input:not([type=password])").first.fill(user)
    page.locator("input[type=password]").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/citygov/web/"), timeout=30_000)  # and back to the page asked for
    assert page.locator("[data-user]").get_attribute("data-user") == user
    return page


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def assert_masked(page: Any) -> None:
    assert find_unmasked(page.content()) == [], page.url


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


# --- tests -----------------------------------------------------------------------------------------------


def test_pages_require_airflow_login_and_are_in_airflow_navigation(server: str) -> None:
    for path in ("/citygov/web/", "/citygov/web/disputes", "/citygov/web/docs/index.html", "/citygov/web/static/style.css"):
        response = httpx.get(f"{server}{path}", timeout=30)
        assert response.status_code == 302 and "/auth/login" in response.headers["location"], (path, response.status_code)
    forged = httpx.get(f"{server}/citygov/web/", headers={"Authorization": "Bearer not-a-jwt"}, timeout=30)
    assert forged.status_code == 403 and "Invalid JWT" in forged.text
    posted = httpx.post(f"{server}/citygov/web/disputes/1", data={"action": "transition", "to": "已受理", "note": "x"}, timeout=30)
    assert posted.status_code == 401
    plugins = httpx.get(f"{server}/api/v2/plugins", headers={"Authorization": f"Bearer {token(server, 'viewer')}"}, timeout=30)
    web = next(p for p in plugins.json()["plugins"] if p["name"] == "citygov_web")
    assert {v["href"] for v in web["external_views"]} >= {"/citygov/web/", "/citygov/web/disputes"}
    assert all(v["destination"] == "nav" and v["url_route"] for v in web["external_views"])


def test_dashboard_league_and_scorecard_show_the_core_numbers(browser: Any, server: str, city_store: dict[str, Any]) -> None:
    page = login(browser, server, "admin")

    page.goto(f"{server}/citygov/web/?date={DAY.isoformat()}")
    kpis = govern(city_store, "kpis", "--json", "--date", DAY.isoformat(), "--connections", str(city_store["connections"]))
    planted = json.loads((city_store["city"] / "defects.json").read_text(encoding="utf-8"))["kpis"]
    assert kpis["kpis"]["open_rate"]["value"] == planted["open_rate"]["value"]
    for key in ("catalog_coverage", "on_demand_sharing_rate", "open_rate"):
        card = page.locator(f'[data-kpi="{key}"]')
        data = kpis["kpis"][key]
        assert card.locator('[data-role="value"]').inner_text() == _pct(data["value"]), key
        assert card.locator('[data-role="fraction"]').inner_text() == f"{data['numerator']}/{data['denominator']}", key
        assert card.locator("svg.chart").count() == 1
    for key in ("on_demand_sharing_rate", "open_rate"):
        assert "未达标" in page.locator(f'[data-kpi="{key}"] [data-role="met"]').inner_text()
    score = page.locator('[data-kpi="quality_score"]')
    assert score.locator('[data-role="value"]').inner_text() == f"{kpis['kpis']['quality_score']['value']:.2f}"
    assert score.locator('[data-role="grade"]').inner_text() == kpis["kpis"]["quality_score"]["details"]["grade"]
    disputes = page.locator('[data-kpi="disputes"]')
    assert disputes.locator('[data-role="open"]').inner_text() == str(kpis["disputes"]["open"])
    assert disputes.locator('[data-role="overdue"]').inner_text() == str(kpis["disputes"]["overdue"])
    assert_masked(page)
    shot(page, "01-dashboard")

    # League table, sorted by score (best first) by clicking its header twice.
    page.goto(f"{server}/citygov/web/departments")
    page.locator('a[data-sort="score"]').click()
    page.locator('a[data-sort="score"]').click()
    page.wait_for_url(re.compile(r"sort=score&order=desc"))
    scores = govern(city_store, "scores", "--json")
    want = {d["name"]: f"{d['score']:.2f}" for d in scores["departments"]}
    rows = page.locator("#league tbody tr")
    shown = {rows.nth(i).get_attribute("data-department"): rows.nth(i).locator('[data-col="score"]').inner_text().strip()
             for i in range(rows.count())}
    assert {d: s for d, s in shown.items() if d in want} == want
    ordered = [float(v) for v in shown.values() if v != "—"]
    assert ordered == sorted(ordered, reverse=True)
    open_items = [d for d in govern(city_store, "disputes", "list", "--json") if d["status"] not in ("已核验", "已归档")]
    for i in range(rows.count()):
        dept = rows.nth(i).get_attribute("data-department")
        assert rows.nth(i).locator('[data-col="open"]').inner_text() == str(sum(d["responsible_unit"] == dept for d in open_items))
    shot(page, "02-departments")

    # Dataset scorecard: score, ratios, masked failing samples, its Data Docs page, its disputes.
    page.goto(f"{server}/citygov/web/datasets/{DATASET}")
    data = govern(city_store, "scores", "--json", "--dataset", DATASET)["datasets"][0]
    assert page.locator('#score [data-role="score"]').inner_text() == f"{data['score']:.2f}"
    assert page.locator('#score [data-role="grade"]').inner_text() == data["grade"]
    for dim, ratio in data["ratios"].items():
        assert page.locator(f'#dimensions [data-dimension="{dim}"] [data-role="ratio"]').inner_text() == _pct(ratio)
    samples = page.locator("#failed .samples code").all_inner_texts()
    assert samples and all("****" in s for s in samples)
    # each failing row: its record key (人口基本信息 is keyed by the ID number: masked as one), value, reason
    rows = page.locator("#failed .sample-rows tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        key = rows.nth(i).locator(".sample-key").inner_text()
        reason = rows.nth(i).locator(".sample-reason").inner_text()
        assert re.fullmatch(r"\d{6}\*{8}[\dX]{4}", key), key
        assert reason.split(" ")[0] in {w.split(" ")[0] for c, w in REASONS.items() if c.startswith("ric.")}, reason
    failing = city_store["failing_keys"]
    assert failing and not any(k in page.content() for k in failing)  # the raw keys of the failing rows
    assert page.locator("#history svg.chart circle").count() == 2  # two scored nights
    expected_items = govern(city_store, "disputes", "list", "--json", "--dataset", DATASET)
    assert page.locator("#dataset-disputes-total").inner_text() == str(len(expected_items))
    assert_masked(page)
    shot(page, "03-scorecard")
    page.locator("#docs-link").click()
    page.wait_for_load_state()
    assert f"/citygov/web/docs/{DAY.isoformat()}/validations/" in page.url and DATASET in page.url
    assert "记录键 key" in page.content() and "原因 reason" in page.content()
    assert not any(k in page.content() for k in failing)
    assert_masked(page)
    shot(page, "04-data-docs")


def test_queue_filters_and_working_a_dispute_to_verified(browser: Any, server: str, city_store: dict[str, Any]) -> None:
    page = login(browser, server, "admin")
    page.goto(f"{server}/citygov/web/disputes")
    every = govern(city_store, "disputes", "list", "--json")
    assert page.locator("#total").inner_text() == str(len(every))
    assert [int(x) for x in page.locator("#items tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")] == [
        d["id"] for d in every][:50]
    page.locator('#filters select[name="status"]').select_option("待受理")
    unit = "连云港市公安局"
    page.locator('#filters select[name="department"]').select_option(unit)
    page.locator("#filters button").click()
    page.wait_for_url(re.compile(r"status="))
    filtered = govern(city_store, "disputes", "list", "--json", "--status", "待受理", "--department", unit)
    assert page.locator("#total").inner_text() == str(len(filtered)) and filtered
    assert page.locator("#items tbody tr").count() == len(filtered)
    assert_masked(page)
    shot(page, "05-queue-filtered")

    item = filtered[0]["id"]
    page.goto(f"{server}/citygov/web/disputes/{item}")
    steps = [("已受理", "受理，转公安局核实"), ("核实中", "已调取原始登记"), ("已更正", "已更正身份证号"), ("已核验", "复核通过")]
    for target, note in steps:
        form = page.locator(f'#actions form[data-action="{target}"]')
        form.locator("textarea").fill(note)
        form.locator("button").click()
        page.wait_for_selector("#notice")
        assert page.locator("#status").inner_text() == target
        assert govern(city_store, "disputes", "show", str(item), "--json")["status"] == target
    shown = govern(city_store, "disputes", "show", str(item), "--json")
    assert [e["to_status"] for e in shown["events"] if e["action"] == "transition"] == [t for t, _ in steps]
    assert page.locator('#timeline li[data-event="transition"]').count() == 4
    assert page.locator("#actions form").count() >= 1  # 已核验 → 已归档 and reassignment remain for a steward
    shot(page, "06-dispute-verified")

    # Raising a dispute from the scorecard: the evidence is masked before it is stored and shown.
    page.goto(f"{server}/citygov/web/datasets/{DATASET}")
    page.locator("#raise summary").click()
    form = page.locator('form[data-form="raise"]')
    resident = city_store["resident"]
    form.locator('input[name="record_key"]').fill(resident.lower())
    form.locator('textarea[name="claim"]').fill("出生日期与身份证号不一致")
    form.locator('textarea[name="evidence"]').fill("身份证 320706199001011230，电话 13812348000")
    form.locator("button").click()
    page.wait_for_selector("#notice")
    assert page.locator("#status").inner_text() == "待受理"
    raised = int(page.url.split("/disputes/")[1].split("?")[0])
    stored = govern(city_store, "disputes", "show", str(raised), "--json")
    assert stored["record_key"] == f"{resident[:6]}********{resident[-4:]}" and stored["raised_by"] == "admin"
    assert "320706199001011230" not in page.content() and "320706********1230" in page.content()
    assert resident not in page.content().upper() and stored["record_key"] in page.content()
    assert page.locator("#locate").count() == 0  # the steward sees the masked key only
    assert_masked(page)
    shot(page, "07-dispute-raised")

    # The responsible unit's officer finds the record in the unit's own source from the item page.
    officer = login(browser, server, "officer")
    officer.goto(f"{server}/citygov/web/disputes/{raised}")
    officer.locator("#locate button").click()
    officer.wait_for_selector("#located")
    assert resident in officer.locator("#located").inner_text()
    shot(officer, "07b-record-located")
    officer.goto(f"{server}/citygov/web/disputes/{raised}")  # a reload shows the masked key again
    assert resident not in officer.content().upper()
    assert officer.locator('#timeline li[data-event="locate"]').count() == 1


def test_a_viewer_sees_no_action_buttons_and_the_api_refuses(browser: Any, server: str, city_store: dict[str, Any]) -> None:
    item = govern(city_store, "disputes", "list", "--json", "--status", "待受理")[0]["id"]
    page = login(browser, server, "viewer")
    page.goto(f"{server}/citygov/web/disputes/{item}")
    assert page.locator("#status").inner_text() == "待受理"
    assert page.locator("#actions").count() == 0 and page.locator("#actions form").count() == 0
    assert page.locator("#read-only").is_visible()
    page.goto(f"{server}/citygov/web/disputes")
    assert page.locator("#raise").count() == 0
    shot(page, "08-viewer")

    # Posting the form anyway, with the viewer's session cookie, is refused and changes nothing.
    refused = page.request.post(f"{server}/citygov/web/disputes/{item}",
                                form={"action": "transition", "to": "已受理", "note": "x"},
                                headers={"Origin": server})
    assert refused.status == 403 and "lacks write" in refused.text()
    api = httpx.post(f"{server}/citygov/api/disputes/{item}/transitions", json={"to": "已受理", "note": "x"},
                     headers={"Authorization": f"Bearer {token(server, 'viewer')}"}, timeout=30)
    assert api.status_code == 403 and "lacks write" in api.json()["detail"]
    assert govern(city_store, "disputes", "show", str(item), "--json")["status"] == "待受理"

    # A cross-site form post riding on an admin's cookie is refused too.
    admin = login(browser, server, "admin")
    forged = admin.request.post(f"{server}/citygov/web/disputes/{item}",
                                form={"action": "transition", "to": "已受理", "note": "x"},
                                headers={"Origin": "http://evil.example"})
    assert forged.status == 403 and "another site" in forged.text()
    assert govern(city_store, "disputes", "show", str(item), "--json")["status"] == "待受理"


def test_the_pages_open_inside_airflows_ui(browser: Any, server: str) -> None:
    page = login(browser, server, "admin")
    page.goto(f"{server}/plugin/citygov-dashboard")
    frame = page.wait_for_selector("iframe", timeout=30_000)
    assert frame.get_attribute("src").endswith("/citygov/web/")
    inner = frame.content_frame()
    inner.wait_for_selector('[data-kpi="open_rate"]', timeout=30_000)
    shot(page, "09-inside-airflow")


def test_a_cookie_authenticated_form_post_must_come_from_this_site(server: str, city_store: dict[str, Any]) -> None:
    """Whether the session cookie came along decides the check, not which other headers the post carries."""
    item = govern(city_store, "disputes", "list", "--json", "--status", "待受理")[-1]["id"]
    url, admin = f"{server}/citygov/web/disputes/{item}", token(server, "admin")
    cookie, bearer = {"_token": admin}, {"Authorization": f"Bearer {admin}"}
    foreign = {"Origin": "http://evil.example"}

    def post(headers: dict[str, str], cookies: dict[str, str] | None, to: str) -> httpx.Response:
        with httpx.Client(cookies=cookies, timeout=30) as client:
            return client.post(url, data={"action": "transition", "to": to, "note": "x"}, headers=headers)

    for headers, cookies in [({**foreign, "Authorization": "Basic eDp4"}, cookie), ({"Authorization": "Basic eDp4"}, cookie),
                             ({**foreign, **bearer}, cookie)]:
        refused = post(headers, cookies, "已受理")
        assert refused.status_code == 403 and "another site" in refused.text, (headers, refused.status_code)
    assert govern(city_store, "disputes", "show", str(item), "--json")["status"] == "待受理"  # nothing moved

    assert post({"Origin": server}, cookie, "已受理").status_code == 303  # the page's own form
    assert post({**foreign, **bearer}, None, "驳回").status_code == 303  # a script with a token and no cookie
    assert govern(city_store, "disputes", "show", str(item), "--json")["status"] == "驳回"


def test_values_out_of_range_are_4xx_pages_never_500(server: str) -> None:
    web = f"{server}/citygov/web"
    with httpx.Client(cookies={"_token": token(server, "admin")}, headers={"Origin": server}, timeout=60) as client:
        cases = [
            ("GET", "/disputes/99999999999999999999", 404),
            ("GET", "/disputes/0", 404),
            ("POST", "/disputes/99999999999999999999", 404),
            ("GET", "/?date=9999-12-31", 422), ("GET", "/?date=0001-01-01", 422),
            ("GET", "/departments?date=9999-12-31", 422), ("GET", "/departments?date=0001-01-01", 422),
            ("GET", "/datasets?date=9999-12-31", 422), ("GET", "/?date=2025-02-30", 422),
            ("GET", "/?date=" + "9" * 5000, 422),
            ("GET", "/?date=1900-01-01", 200), ("GET", "/?date=2999-12-31", 200),
            ("GET", "/departments?date=1900-01-01", 200), ("GET", "/departments?date=2999-12-31", 200),
            ("GET", "/disputes?page=99999999999999999999", 422), ("GET", "/datasets?page=99999999999999999999", 422),
            ("GET", "/disputes?page=0", 422), ("GET", "/disputes?page=1000", 200),  # past the end: an empty page
            ("GET", "/docs/index%00.html", 404), ("GET", "/docs/%00", 404), ("GET", "/static/style%00.css", 404),
            ("GET", "/datasets/" + "x" * 5000, 404), ("GET", "/datasets/%00", 404),
            ("GET", "/datasets?department=%00", 422), ("GET", "/disputes?dataset=a%00", 422),
        ]
        for method, path, expected in cases:
            data = {"action": "transition", "to": "已受理", "note": "x"} if method == "POST" else None
            response = client.request(method, web + path, data=data)
            assert response.status_code == expected, (path[:80], response.status_code, response.text[-300:])
            assert len(response.text) < 20_000 or expected == 200, path[:80]  # the input is quoted as an excerpt
            if expected != 200:
                assert 'id="error"' in response.text, path[:80]  # an error page, not a bare JSON body
        for method, path, allow in [("DELETE", "/disputes", "GET, POST"), ("PUT", "/disputes/1", "GET, POST")]:
            response = client.request(method, web + path)
            assert response.status_code == 405 and response.headers["allow"] == allow and 'id="error"' in response.text
        assert client.get(web + "/nowhere").status_code == 404 and 'id="error"' in client.get(web + "/nowhere").text


def test_no_raw_identifier_reaches_a_viewer(server: str, city_store: dict[str, Any]) -> None:
    """可用不可见: with a dispute raised against a resident's record by ID number, every page, Data Docs page and
    API reply a viewer can reach (following the links from the dashboard and the docs index) holds no raw
    ID number, mobile number, plate or card number."""
    from html.parser import HTMLParser
    from urllib.parse import urljoin, urlsplit

    resident = city_store["resident"]
    engine = engine_for(city_store["url"])
    dq.register_actor(engine, "citizen", "consumer")
    dq.raise_dispute(engine, dataset=DATASET, by="citizen", claim="该居民出生日期有误", record_key=resident)
    ids = [d.id for d in dq.list_disputes(engine)]
    engine.dispose()

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found += [v for k, v in attrs if k == "href" and v]

    start = [f"{server}/citygov/web/", f"{server}/citygov/web/docs/", f"{server}/citygov/api/flags",
             f"{server}/citygov/api/kpis", f"{server}/citygov/api/disputes", f"{server}/citygov/api/openapi.json",
             f"{server}/citygov/api/audit?format=csv", f"{server}/citygov/api/audit?format=json",
             *[f"{server}/citygov/api/disputes/{i}" for i in ids], *[f"{server}/citygov/web/disputes/{i}" for i in ids]]
    seen, queue, read = set(start), list(start), 0
    with httpx.Client(headers={"Authorization": f"Bearer {token(server, 'viewer')}"}, timeout=30) as client:
        while queue and read < 600:
            url = queue.pop(0)
            response = client.get(url)
            read += 1
            assert response.status_code == 200, (url, response.status_code)
            text = response.text
            assert resident not in text.upper(), url
            assert not any(k in text.upper() for k in city_store["failing_keys"]), url  # failing rows' keys
            assert find_unmasked(text, organisations=False) == [], (url, find_unmasked(text, organisations=False)[:3])
            if "html" not in response.headers.get("content-type", ""):
                continue
            parser = Links()
            parser.feed(text)
            for link in parser.found:
                target = urljoin(url, link).split("#", 1)[0]
                last = urlsplit(target).path.rsplit("/", 1)[-1]
                page = "." not in last or last.endswith(".html")  # pages, not GX's stylesheets and icons
                if page and urlsplit(target).netloc == urlsplit(server).netloc and "/citygov/" in target and target not in seen:
                    seen.add(target)
                    queue.append(target)
    assert read >= 60, read  # dashboard, league, datasets, scorecards, queue, items, Data Docs pages


def test_a_steward_reviews_a_draft_suite_on_its_scorecard_and_drops_a_rule_from_its_item(
    browser: Any, server: str, city_store: dict[str, Any]
) -> None:
    """The scorecard shows a drafted suite's rules with their draft marks and evidence; a viewer gets no forms and
    a forged post is refused; a steward loosens, tightens and drops rules there, drops an item's draft rule from
    the item page (the item is closed), and accepts the suite. Every step is the suite file's."""
    folder = city_store["suites"]
    pending = govern(city_store, "disputes", "list", "--json", "--status", "待受理")
    item = next(d for d in pending if d["origin"] == "quality")
    code = item["entry_code"]
    path = mark_draft(folder, code, satisfied=97, of=100)
    labels = [rule_label(e) for e in load_suite(code, folder).expectations]
    scorecard = f"{server}/citygov/web/datasets/{code}"

    # A viewer sees the draft and its evidence, no form; posting anyway changes nothing.
    viewer = login(browser, server, "viewer")
    viewer.goto(scorecard)
    assert viewer.locator("#suite-draft").is_visible()
    rows = viewer.locator("#rules tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.label)") == labels
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.draft)") == ["true"] * len(labels)
    assert "holds for 97 of 100 sampled rows" in rows.first.locator('[data-role="evidence"]').inner_text()
    assert viewer.locator("#rules form, #accept-suite").count() == 0
    shot(viewer, "10-draft-suite-viewer")
    before = path.read_text(encoding="utf-8")
    refused = viewer.request.post(scorecard, form={"action": "accept"}, headers={"Origin": server})
    assert refused.status == 403 and "lacks write" in refused.text()
    viewer.goto(f"{server}/citygov/web/disputes/{item['id']}")
    assert viewer.locator("#draft-rule").is_visible() and viewer.locator('form[data-action="drop_rule"]').count() == 0
    admin = login(browser, server, "admin")
    forged = admin.request.post(scorecard, form={"action": "drop", "rule": "1", "label": labels[0]},
                                headers={"Origin": "http://evil.example"})
    assert forged.status == 403 and "another site" in forged.text()
    officer = login(browser, server, "officer")  # write access in Airflow, but not a steward on the queue
    officer.goto(scorecard)
    assert officer.locator("#rules form").count() == 0
    not_steward = officer.request.post(scorecard, form={"action": "accept"}, headers={"Origin": server})
    assert not_steward.status == 403 and "only a steward" in not_steward.text()
    assert path.read_text(encoding="utf-8") == before

    # The steward loosens a rule, makes it strict again, and drops another (not the item's rule).
    admin.goto(scorecard)
    row = admin.locator("#rules tbody tr", has=admin.locator('form[data-form="set"]')).first
    loosened = row.get_attribute("data-label")
    row.locator('form[data-form="set"] input[name="mostly"]').fill("0.99")
    row.locator('form[data-form="set"] button').click()
    admin.wait_for_selector("#notice")
    assert "99% of rows must pass" in admin.locator("#notice").inner_text()
    rules = {rule_label(e): e for e in load_suite(code, folder).expectations}
    assert rules[loosened].configuration.kwargs["mostly"] == 0.99
    assert admin.locator(f'#rules tr[data-label="{loosened}"] [data-role="mostly"]').inner_text() == "99.0%"
    admin.locator(f'#rules tr[data-label="{loosened}"] form[data-form="strict"] button').click()
    admin.wait_for_selector("#notice")
    assert "every row must pass" in admin.locator("#notice").inner_text()
    assert "mostly" not in {rule_label(e): e for e in load_suite(code, folder).expectations}[loosened].configuration.kwargs
    own = dq.item_draft_rule(code, item["rule_id"], item["column"], suites=folder)
    assert own is not None
    dropped = next(label for label in labels if label != own[1])
    admin.locator(f'#rules tr[data-label="{dropped}"] form[data-form="drop"] button').click()
    admin.wait_for_selector("#notice")
    assert f"dropped {dropped}" in admin.locator("#notice").inner_text()
    assert [rule_label(e) for e in load_suite(code, folder).expectations] == [x for x in labels if x != dropped]
    shot(admin, "11-draft-suite-steward")

    # From the item page: the item's draft rule is dropped and the item closed.
    admin.goto(f"{server}/citygov/web/disputes/{item['id']}")
    form = admin.locator('#actions form[data-action="drop_rule"]')
    form.locator("textarea").fill("此规则不适用于本数据集")
    form.locator("button").click()
    admin.wait_for_selector("#notice")
    assert admin.locator("#status").inner_text() == "已核验"
    shown = govern(city_store, "disputes", "show", str(item["id"]), "--json")
    assert shown["status"] == "已核验"
    assert [e["to_status"] for e in shown["events"] if e["action"] == "drop_rule"] == ["驳回", "已核验"]
    assert own[1] not in [rule_label(e) for e in load_suite(code, folder).expectations]
    assert admin.locator('form[data-action="drop_rule"]').count() == 0
    shot(admin, "12-draft-rule-dropped")

    # Accepting the suite clears the draft marks (the evidence stays).
    admin.goto(scorecard)
    admin.locator("#accept-suite button").click()
    admin.wait_for_selector("#notice")
    assert admin.locator("#suite-accepted").is_visible() and admin.locator("#suite-draft").count() == 0
    assert admin.locator('#rules tr[data-draft="true"]').count() == 0
    accepted = load_suite(code, folder)
    assert accepted.meta["citygov"]["accepted"]["by"] == "admin" and "draft" not in accepted.meta["citygov"]
    assert all(e.meta.get("support") for e in accepted.expectations)


def test_the_trace_page_shows_the_lineage_graph_and_every_share_with_its_grade(
    browser: Any, server: str, city_store: dict[str, Any]
) -> None:
    """数据血缘 / 共享追溯: reached from the scorecard, a graph and a timeline drawn on the server, and one row
    per share of the demo's log with the grade then (the as-of day's share: the scorecard's grade)."""
    import sqlite3

    done = subprocess.run([GOVERN, "--db", city_store["url"], "trace", "import", "--date", DAY.isoformat(),
                           "--connections", str(city_store["connections"]), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    conns = json.loads(city_store["connections"].read_text(encoding="utf-8"))
    with sqlite3.connect(conns["exchange_platform"]["host"]) as db:
        served = db.execute("SELECT request_id, requesting_dept, satisfied_at FROM share_requests WHERE resource_code = ? "
                            "AND status = '已满足' AND satisfied_at IS NOT NULL", (DATASET,)).fetchall()
    trace = govern(city_store, "trace", "dataset", DATASET, "--json")
    page = login(browser, server, "viewer")
    page.goto(f"{server}/citygov/web/datasets/{DATASET}")
    scorecard_grade = page.locator('#score [data-role="grade"]').inner_text()
    page.locator("#trace-link").click()
    page.wait_for_url(re.compile(rf"/datasets/{DATASET}/trace"))
    assert page.locator("#lineage-graph svg [data-node='table']").count() == 1
    assert page.locator("#lineage-graph svg [data-node='inspection']").count() == 1
    assert page.locator("#lineage-graph svg [data-node='receiver']").count() == len({r[1] for r in served})
    assert page.locator("#share-timeline svg circle").count() == len(served)
    rows = page.locator("#shares tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.request)")) == sorted(r[0] for r in served)
    today = next(s for s in trace["shares"] if s["served_on"] == DAY.isoformat())
    grade = page.locator(f'#shares tr[data-request="{today["request_id"]}"] [data-role="grade"]').inner_text()
    assert today["grade"] == scorecard_grade and grade.startswith(scorecard_grade)
    assert page.locator("link[href^='http'], script[src], img[src^='http']").count() == 0
    assert_masked(page)
    shot(page, "13-trace")
