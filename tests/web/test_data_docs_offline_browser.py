"""Data Docs offline (issue 20, item 1), in headless Chromium against a real ``airflow api-server``.

The demo city's pipeline runs on two dates and Data Docs are built for both. Every request whose host is not
127.0.0.1/localhost is aborted and recorded; a person logs in, opens Data Docs from the menu (the newest date),
and for each of the two dates the index lists every validation of that date (GX's table, filled by its
scripts), a validation page is complete and styled (the vendored stylesheets and scripts loaded, bootstrap's
rules applied, Font Awesome's font loaded), and the date bar leads back to the list of dates. No request may
leave the host, there or on the project's own pages. Reuses the page tests' server, browser and login.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from citygov.demo import create_demo_city
from citygov.quality.docs import build_data_docs
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import QualityRun
from tests.web.pipeline import run_demo_pipeline
from tests.web.test_pages_browser import (  # noqa: F401  (fixtures)
    DAY,
    SHOTS,
    browser,
    browser_available,
    login,
    server,
)

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
DAYS = [DAY, DAY - timedelta(days=1)]  # newest first, as the list of dates shows them
LOCAL = {"127.0.0.1", "localhost"}
DATASET = "320700-GAJ-0001"  # failing ID-number checks: its page has failing rows, masked


@pytest.fixture(scope="module")
def city_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo city's pipeline on two dates, Data Docs built for both (the page tests' store builds one)."""
    tmp = tmp_path_factory.mktemp("offline_docs_city")
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    docs = tmp / "data" / "data_docs"
    run_demo_pipeline(engine, city, sorted(DAYS), docs=docs)  # builds the newest date
    build_data_docs(engine, docs, logical_date=DAYS[1], suites=ROOT / "expectations")
    with session_scope(engine) as session:
        runs = session.execute(select(QualityRun.logical_date, QualityRun.entry_code, QualityRun.data_docs_path)
                               .where(QualityRun.validation_result.is_not(None))).all()
    engine.dispose()
    pages = {day: {Path(p).relative_to(docs / day.isoformat()).as_posix() for d, _c, p in runs if d == day and p}
             for day in DAYS}
    assert all(len(pages[day]) == sum(d == day for d, _c, _p in runs) >= 20 for day in DAYS)  # every run has its page
    return {"url": url, "city": city, "data": tmp / "data", "connections": city / "connections.json",
            "suites": ROOT / "expectations", "pages": pages}


class Offline:
    """Aborts and records every request of a browser context to a host other than this machine, and records
    same-host responses that failed (a missing vendored file would be a 404 here)."""

    def __init__(self, context: Any) -> None:
        self.outside: list[str] = []
        self.failed: list[str] = []
        context.route("**/*", self._route)
        context.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        context.on("requestfailed", lambda r: r.url not in self.outside and self.failed.append(f"failed {r.url}"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:", "file:")) or urlsplit(url).hostname in LOCAL:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def _styled(page: Any) -> dict[str, Any]:
    """What the page's stylesheets, scripts and fonts did: bootstrap's rules applied, Font Awesome's font
    loaded, the vendored stylesheets (same-origin, so their rules are readable) all loaded."""
    return page.evaluate("""async () => {
        await document.fonts.ready;
        const sheets = [...document.styleSheets].filter(s => s.href).map(s => {
            let rules = -1; try { rules = s.cssRules.length } catch (e) {}
            return [new URL(s.href).pathname, rules] });
        const nav = document.querySelector('nav.navbar');
        const alert = document.querySelector('#citygov-date');
        return {
            sheets,
            bodyFont: getComputedStyle(document.body).fontFamily,
            navDisplay: nav && getComputedStyle(nav).display,
            barBackground: alert && getComputedStyle(alert).backgroundColor,
            fontAwesome: [...document.fonts].filter(f => f.family.includes('Font Awesome') && f.status === 'loaded').length,
            scripts: [typeof window.jQuery, typeof (window.jQuery && jQuery.fn.bootstrapTable),
                      typeof (window.jQuery && jQuery.fn.modal), typeof window.vegaEmbed],
            images: [...document.images].map(i => [new URL(i.src).pathname, i.naturalWidth]),
        } }""")


def _assert_styled(page: Any, where: str, *, from_disk: bool = False) -> None:
    seen = _styled(page)
    names = {p.rsplit("/", 1)[-1]: rules for p, rules in seen["sheets"]}
    for sheet in ("bootstrap.min.css", "bootstrap-table.min.css", "all.min.css", "bootstrap-datepicker.min.css",
                  "bootstrap-table-filter-control.min.css", "bootstrap-prefers-dark.css"):
        # loaded, with its rules (a file:// page may not read its stylesheets' rules: the styles below tell)
        assert sheet in names and (from_disk or names[sheet] > 0), (where, sheet, seen["sheets"])
    assert all("/static/vendor/" in p for p, _ in seen["sheets"]), (where, seen["sheets"])
    assert from_disk or names["bootstrap.min.css"] > 1000, where
    assert "Segoe UI" in seen["bodyFont"], (where, seen["bodyFont"])  # bootstrap's font stack, not the browser's serif
    assert seen["navDisplay"] == "flex", where  # .navbar is display:flex only with bootstrap
    assert seen["barBackground"] == "rgb(226, 227, 229)", (where, seen["barBackground"])  # .alert-secondary
    assert seen["fontAwesome"] >= 1, where  # the status icons' font, from vendor/…/webfonts
    assert seen["scripts"] == ["function"] * 4, (where, seen["scripts"])
    assert seen["images"] and all(w > 0 for _, w in seen["images"]), (where, seen["images"])  # GX's logo, local


def test_data_docs_are_complete_and_styled_with_outside_requests_blocked(
    browser: Any, server: str, city_store: dict[str, Any]  # noqa: F811
) -> None:
    page = login(browser, server, "viewer")
    offline = Offline(page.context)

    # The project's own pages load nothing from outside either.
    for path in ("/", "/departments", "/datasets", "/disputes", f"/datasets/{DATASET}"):
        page.goto(f"{server}/citygov/web{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("[data-user]").count() == 1, path

    # Data Docs from the menu: the newest date.
    page.locator('a[data-nav="docs"]').click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/citygov/web/docs/latest/index.html"
    assert page.locator("#citygov-date").get_attribute("data-date") == DAYS[0].isoformat()

    for day in DAYS:
        base = f"{server}/citygov/web/docs/{day.isoformat()}/"
        page.goto(base + "index.html")
        page.wait_for_load_state("networkidle")
        assert page.locator("#citygov-date").get_attribute("data-date") == day.isoformat()
        table = "#section-1-content-block-2-1-body-table"
        listed = page.evaluate(f"() => $('{table}').bootstrapTable('getData').map(r => r._table_row_link_path)")
        assert {unquote(p) for p in listed} == city_store["pages"][day], day  # every validation of the date
        assert page.locator(f"{table} tbody tr").count() == min(10, len(listed))  # its first page, drawn
        assert re.search(rf"of {len(listed)} rows", page.locator(".pagination-info").first.inner_text()), day
        _assert_styled(page, f"{day} index")
        page.screenshot(path=str(SHOTS / f"docs-offline-{day.isoformat()}-index.png"), full_page=False)

        # A validation page, reached by clicking its row (GX's row links are scripts too).
        search = page.locator("#Validation-Results .fixed-table-toolbar .search input").first
        search.fill(DATASET)
        search.press("Enter")  # bootstrap-table searches on keyup
        row = page.locator(f"{table} tbody tr", has_text=DATASET)
        row.first.wait_for(timeout=10_000)
        row.first.locator("td").nth(1).click()
        page.wait_for_url(re.compile(rf"/docs/{day.isoformat()}/validations/{DATASET}/"), timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.locator("#citygov-date").get_attribute("data-date") == day.isoformat()
        assert "记录键 key" in page.content() and "原因 reason" in page.content()  # the failing rows' table
        assert page.locator("table.table").count() >= 3  # overview, statistics, a table per column
        _assert_styled(page, f"{day} validation")
        page.screenshot(path=str(SHOTS / f"docs-offline-{day.isoformat()}-validation.png"), full_page=False)

        # Back to the list of dates from the date bar: both dates, newest first.
        page.locator("#citygov-date a").click()
        page.wait_for_url(re.compile(r"/citygov/web/docs/index\.html$"))
        assert page.locator("tr[data-date]").evaluate_all("rows => rows.map(r => r.dataset.date)") == [
            d.isoformat() for d in DAYS]

    assert offline.outside == []
    assert offline.failed == []


def test_a_date_opened_from_disk_is_complete_and_styled_too(browser: Any, city_store: dict[str, Any]) -> None:  # noqa: F811
    """The same site copied off the server (file://): the vendored files are linked relatively, so it works."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    offline = Offline(context)
    page = context.new_page()
    docs = city_store["data"] / "data_docs"
    for day in DAYS:
        page.goto((docs / day.isoformat() / "index.html").as_uri())
        page.wait_for_load_state("networkidle")
        listed = page.evaluate("() => $('#section-1-content-block-2-1-body-table').bootstrapTable('getData').length")
        assert listed == len(city_store["pages"][day]), day
        _assert_styled(page, f"{day} index from disk", from_disk=True)
        validation = next(p for p in city_store["pages"][day] if f"/{DATASET}/" in p)
        page.goto((docs / day.isoformat() / validation).as_uri())
        page.wait_for_load_state("networkidle")
        assert page.locator("#citygov-date").get_attribute("data-date") == day.isoformat()
        _assert_styled(page, f"{day} validation from disk", from_disk=True)
    page.goto((docs / "latest" / "index.html").as_uri())
    assert page.locator("#citygov-date").get_attribute("data-date") == DAYS[0].isoformat()
    context.close()
    assert offline.outside == []
    assert offline.failed == []
