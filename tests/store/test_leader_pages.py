"""The leaders' pages without a browser: the queue's CSV and XLSX exports (they parse, hold the queue's rows
for the same filters in the same order, and nothing in them is an identifier in clear or a formula), the
census drafts download, the monthly report's figures and its PDF (and what it says without a font).

The store is :func:`tests.web.report_city.build_report_city` (the demo city after two nights, backflow,
a second catalog import, items handled in November); the pages are the app with the login replaced.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citygov import disputes as dq
from citygov.cli import main
from citygov.disputes.export import COLUMNS, export_queue, queue_rows
from citygov.monthly import department_month
from citygov.quality.masking import find_unmasked
from citygov.settings import CITY_TZ
from citygov.store import engine_for
from tests.web.report_city import DATASET, DAY, MONTH, UNIT, build_report_city

HEADERS = [h for h, _ in COLUMNS]
MASKED_KEY = re.compile(r"^\d{6}\*{8}[\dX]{4}$")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    city = build_report_city(tmp_path_factory.mktemp("report_city"))
    engine = engine_for(city["url"])
    with __import__("sqlite3").connect(city["conns"]["dept_gaj"]["host"]) as db:
        resident = str(db.execute("SELECT sfzhm FROM rkjbxx ORDER BY sfzhm LIMIT 1").fetchone()[0])
    # A claim on one resident's record, by ID number: the export must show it masked.
    dq.raise_dispute(engine, dataset=DATASET, by="citizen", claim="出生日期有误 320706199001011230",
                     record_key=resident)
    engine.dispose()
    return {**city, "resident": resident}


@pytest.fixture(scope="module")
def client(city: dict[str, Any]) -> Iterator[TestClient]:
    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    engine = engine_for(city["url"])
    app = create_app(lambda: engine, lambda _c: None, lambda: city["data"] / "data_docs")
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("viewer", False)
    yield TestClient(app)
    engine.dispose()


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # a BOM: Excel opens UTF-8 as UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx_rows(body: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


FILTERS = [
    {},
    {"status": "待受理", "department": UNIT},
    {"department": UNIT, "sort": "age", "order": "desc"},
    {"dataset": DATASET},
    {"overdue": "1"},
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_the_queue_exports_hold_the_queues_rows_masked(client: TestClient, city: dict[str, Any], fmt: str,
                                                       filters: dict[str, str]) -> None:
    reply = client.get(f"/disputes.{fmt}", params=filters)
    assert reply.status_code == 200, reply.text[-300:]
    assert reply.headers["content-disposition"].startswith("attachment;") and f".{fmt}" in reply.headers["content-disposition"]
    rows = _csv_rows(reply.content) if fmt == "csv" else _xlsx_rows(reply.content)
    engine = engine_for(city["url"])
    expected = dq.list_disputes(engine, status=filters.get("status"), department=filters.get("department"),
                                dataset=filters.get("dataset"), overdue=bool(filters.get("overdue")),
                                sort=filters.get("sort", "id"), order=filters.get("order", "asc"))
    engine.dispose()
    assert rows[0] == HEADERS
    assert [int(r[0]) for r in rows[1:]] == [d.id for d in expected] and expected or filters.get("overdue")
    by_id = {d.id: d for d in expected}
    for row in rows[1:]:
        item = by_id[int(row[0])]
        assert row[HEADERS.index("状态 Status")] == item.status
        assert row[HEADERS.index("责任单位 Unit")] == (item.responsible_unit or "未定责")
        key = row[HEADERS.index("记录主键(脱敏) Record key (masked)")]
        assert key == (item.record_key or "")
        assert not key or MASKED_KEY.match(key) or "*" in key, key
    text = "\n".join("\t".join(str(v) for v in r) for r in rows)
    assert find_unmasked(text) == [] and city["resident"] not in text
    if fmt == "csv":  # read as lines (only the columns written) or as whole items: the same file
        assert reply.content == export_queue(expected, "csv")
    if not filters:  # the raised claim's record is in the full export, masked
        assert f"{city['resident'][:6]}********{city['resident'][-4:]}" in text


PLANTED_RULE = "rule 13700001111"
PLANTED = {  # identifiers in clear in every column a source or a person fills (a store written before masking)
    "title": "电话 13912345678 身份证 320706198512121234 信用代码 91320700MA1W2X3Y4K",
    "raised_by": "13812345678", "assignee": "320706198512121234", "record_key": "320706198512121234",
    "column_name": "sfzhm 320706198512121234", "location": "dept/rkjbxx 13612345678", "rule_id": PLANTED_RULE,
    "responsible_unit": "91320700MA1W2X3Y4K", "severity": "high", "dimension": "13512345678",
}
IN_CLEAR = ("13912345678", "320706198512121234", "91320700MA1W2X3Y4K", "13812345678", "13612345678", "13512345678",
            "13700001111")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_identifiers_in_any_text_column_leave_masked(client: TestClient, city: dict[str, Any], fmt: str) -> None:
    """An item whose texts hold ID numbers, mobiles and credit codes in clear: the file shows them masked,
    whether the rows come from the store (the route) or from :func:`list_disputes` (``queue_rows``)."""
    from sqlalchemy import delete, insert

    from citygov.store.models_disputes import Dispute

    engine = engine_for(city["url"])
    moment = datetime(2020, 3, 2, 8, 0, tzinfo=CITY_TZ)
    with engine.begin() as conn:
        planted = conn.execute(insert(Dispute).values(
            fingerprint=f"planted-{fmt}", origin="consumer", status="待受理", first_seen=moment.date(),
            last_seen=moment.date(), created_at=moment, status_changed_at=moment, latest_evidence={}, **PLANTED,
        ).returning(Dispute.id)).scalar_one()
    try:
        reply = client.get(f"/disputes.{fmt}", params={"rule": PLANTED_RULE})
        assert reply.status_code == 200, reply.text[-300:]
        rows = _csv_rows(reply.content) if fmt == "csv" else _xlsx_rows(reply.content)
        assert [int(r[0]) for r in rows[1:]] == [planted]
        views = dq.list_disputes(engine, rule=PLANTED_RULE)
        for shown in (rows, queue_rows(views)):
            text = "\n".join("\t".join(str(v) for v in r) for r in shown)
            assert find_unmasked(text) == [] and not [c for c in IN_CLEAR if c in text], text
            assert "139****5678" in text and "320706********1234" in text and "913207********3Y4K" in text
    finally:
        with engine.begin() as conn:
            conn.execute(delete(Dispute).where(Dispute.id == planted))
        engine.dispose()


def test_the_queue_page_links_its_exports_with_its_filters(client: TestClient) -> None:
    page = client.get("/disputes", params={"status": "待受理", "department": UNIT})
    links = dict(re.findall(r'id="export-(csv|xlsx)" href="([^"]+)"', page.text))
    assert set(links) == {"csv", "xlsx"}
    for fmt, href in links.items():
        href = href.replace("&amp;", "&")
        assert href.startswith(f"/disputes.{fmt}?") and "status=%E5%BE%85%E5%8F%97%E7%90%86" in href, href
        assert client.get(href).status_code == 200


def test_text_a_spreadsheet_would_run_is_quoted(city: dict[str, Any]) -> None:
    engine = engine_for(city["url"])
    item = dq.list_disputes(engine)[0]
    engine.dispose()
    rows = queue_rows([replace(item, title="=HYPERLINK(\"http://x\")", assignee="+1", raised_by="@me")])
    row = rows[1]
    assert row[HEADERS.index("标题 Title")] == "'=HYPERLINK(\"http://x\")"
    assert row[HEADERS.index("经办人 Assignee")] == "'+1" and row[HEADERS.index("提出人 Raised by")] == "'@me"
    assert row[HEADERS.index("编号 ID")] == item.id  # numbers stay numbers


def test_an_unknown_sort_is_refused_as_on_the_queue_page(client: TestClient) -> None:
    reply = client.get("/disputes.csv", params={"sort": "nope"})
    assert reply.status_code == 422 and "unknown sort column" in reply.text


def test_the_census_drafts_download_is_what_govern_writes(client: TestClient, city: dict[str, Any], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    reply = client.get("/census/drafts.csv", params={"date": DAY.isoformat()})
    assert reply.status_code == 200 and "attachment" in reply.headers["content-disposition"]
    out = tmp_path / "drafts.csv"
    assert main(["--db", city["url"], "census", "drafts", "--out", str(out), "--date", DAY.isoformat()]) == 0
    assert reply.content == out.read_bytes()
    rows = _csv_rows(reply.content)
    assert len(rows) > 1 and rows[0][0] == "信息资源代码" and all(r[rows[0].index("状态")] == "草稿" for r in rows[1:])
    assert client.get("/census/drafts.csv", params={"date": "1990-01-01"}).status_code == 404  # no census then


def test_the_monthly_report_counts_the_month(city: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    engine = engine_for(city["url"])
    report = department_month(engine, UNIT, MONTH, as_of=DAY)
    engine.dispose()
    assert {h.dispute_id for h in report.handled} == city["handled"]
    assert report.resolved == 2 and report.resolved_on_time == 1 and report.share_on_time == 0.5
    assert report.last_day == DAY and not report.complete  # the month is not over on DAY
    assert report.raised >= 2 and report.score is not None and report.rank is not None
    capsys.readouterr()
    assert main(["--db", city["url"], "report", "monthly", "--department", UNIT, "--month", MONTH,
                 "--date", DAY.isoformat(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report.to_dict()))
    assert main(["--db", city["url"], "report", "monthly", "--department", "无此部门", "--date", DAY.isoformat()]) == 2
    assert "无此部门" in capsys.readouterr().err


def test_the_pdf_says_what_to_install_without_a_font(client: TestClient, city: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from citygov_web.monthly_pdf import FONT_CANDIDATES, FONT_ENV, PdfUnavailable, render_pdf

    params = {"department": UNIT, "month": MONTH, "date": DAY.isoformat()}
    monkeypatch.setenv(FONT_ENV, "/nowhere/no-font.ttc")
    reply = client.get("/reports/monthly.pdf", params=params)
    assert reply.status_code == 503 and FONT_ENV in reply.text and "Ctrl+P" in reply.text and 'id="error"' in reply.text
    monkeypatch.delenv(FONT_ENV)
    engine = engine_for(city["url"])
    report = department_month(engine, UNIT, MONTH, as_of=DAY)
    engine.dispose()
    with pytest.raises(PdfUnavailable, match="fonts-wqy-microhei"):
        render_pdf(report, printed_at=datetime.now(CITY_TZ), candidates=())
    if not any(p.is_file() for p in FONT_CANDIDATES):
        pytest.skip("no CJK font on this host: the PDF itself is not drawn here")
    reply = client.get("/reports/monthly.pdf", params=params)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF-") and reply.content.rstrip().endswith(b"%%EOF")
    assert "filename*=UTF-8''" in reply.headers["content-disposition"]
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(reply.content)).pages)
    assert f"{report.department} 数据治理月报 {MONTH}" in text  # the CJK font drew Chinese, not boxes
    assert f"{report.score:.2f} {report.grade}" in text and f"{report.rank} / {report.ranked}" in text
    assert f"{report.resolved_on_time} ({report.share_on_time:.2%})" in text
    assert all(f"#{h.dispute_id}" in text for h in report.handled) and find_unmasked(text) == []


def test_each_pdf_draws_its_own_text_with_the_font_parsed_once(city: dict[str, Any]) -> None:
    """The CJK font is parsed once per process; every document still embeds the glyphs it uses itself."""
    from pypdf import PdfReader

    from citygov_web.monthly_pdf import FONT_CANDIDATES, _parsed_font, render_pdf

    if not any(p.is_file() for p in FONT_CANDIDATES):
        pytest.skip("no CJK font on this host: the PDF itself is not drawn here")
    engine = engine_for(city["url"])
    report = department_month(engine, UNIT, MONTH, as_of=DAY)
    engine.dispose()
    first = render_pdf(report, printed_at=datetime.now(CITY_TZ))
    parsed = _parsed_font.cache_info().misses
    other = replace(report, department="鼋鼍蠡麤部门")  # characters the first document did not use
    second = render_pdf(other, printed_at=datetime.now(CITY_TZ))
    assert _parsed_font.cache_info().misses == parsed
    texts = ["\n".join(p.extract_text() for p in PdfReader(io.BytesIO(b)).pages) for b in (first, second, first)]
    assert f"{UNIT} 数据治理月报 {MONTH}" in texts[0] and "鼋鼍蠡麤部门 数据治理月报" in texts[1]
    assert "鼋鼍蠡麤" not in texts[0] and all(f"#{h.dispute_id}" in t for h in report.handled for t in texts)


def test_an_fpdf2_whose_font_internals_differ_still_draws_the_pdf(city: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf import PdfReader

    from citygov_web import monthly_pdf

    if not any(p.is_file() for p in monthly_pdf.FONT_CANDIDATES):
        pytest.skip("no CJK font on this host: the PDF itself is not drawn here")

    def changed(pdf: Any, path: Path) -> None:
        raise AttributeError("'TTFFont' object has no attribute 'subset'")

    monkeypatch.setattr(monthly_pdf, "_add_cjk_font", changed)
    engine = engine_for(city["url"])
    report = department_month(engine, UNIT, MONTH, as_of=DAY)
    engine.dispose()
    body = monthly_pdf.render_pdf(report, printed_at=datetime.now(CITY_TZ))
    assert f"{UNIT} 数据治理月报 {MONTH}" in PdfReader(io.BytesIO(body)).pages[0].extract_text()


@pytest.mark.parametrize(("path", "expected"), [
    ("/census?date=9999-12-31", 422), ("/census?date=1900-01-01", 200), ("/backflow?date=2026-02-30", 422),
    ("/backflow?date=1900-01-01", 200), (f"/reports/monthly?department={UNIT}&month=2026-13", 422),
    (f"/reports/monthly?department={UNIT}&month=9999-12", 422), ("/reports/monthly?department=nobody&month=" + MONTH, 404),
    ("/reports/monthly.pdf?department=nobody", 404), ("/reports/monthly.pdf", 422), ("/catalog/" + "x" * 5000, 404),
    ("/reports/monthly?month=" + MONTH, 200),
])
def test_values_out_of_range_are_4xx_pages(client: TestClient, path: str, expected: int) -> None:
    reply = client.get(path)
    assert reply.status_code == expected, (path[:80], reply.status_code, reply.text[-300:])
    if expected != 200:
        assert 'id="error"' in reply.text and len(reply.text) < 20_000
