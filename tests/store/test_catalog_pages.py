"""The catalog a page at a time: :func:`citygov.catalog.queries.page_entries` counts, filters and cuts in SQL
(on SQLite, PostgreSQL and MariaDB), a filter text is matched literally (``%``, ``_``, ``/``, quotes), and the
``/catalog`` and ``/catalog/{code}`` pages show one page, its count, its filters and one entry (404 for none).

The store: the demo catalog imported, grown with 250 generated entries of three departments and a few whose
names hold LIKE's wildcards and quotes; one of them withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.catalog.queries import (
    catalog_departments,
    catalogued_among,
    get_entry,
    import_history,
    list_entries,
    page_entries,
)
from citygov.demo import create_demo_city
from citygov.store import engine_for, upgrade
from citygov.store.models import CatalogChange, CatalogEntryRow
from tests.mysql import scratch_mysql_database
from tests.pg import scratch_database

GROWN = 250
DEPARTMENTS = ("测试局甲 Dept_A", "测试局乙 Dept%B", "测试局丙")
ODD_NAMES = {
    "320700-ODD-0001": "指标 100%_完成",
    "320700-ODD-0002": "指标 100abc完成",  # what 100%_ would match if it were a pattern
    "320700-ODD-0003": "O'Brien \"引号\" 表",
    "320700-ODD-0004": "路径/斜杠 a_b",
    "320700-ODD-0005": "路径 axb",  # what a_b would match if _ were a wildcard
}
WITHDRAWN = "320700-PAGE-0007"  # of DEPARTMENTS[1]


def _grow(engine: Engine) -> None:
    """Add the generated and the odd entries (copies of a demo row) and withdraw one."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        template = dict(conn.execute(sa.select(CatalogEntryRow.__table__).limit(1)).mappings().one())
        rows = [{**template, "code": f"320700-PAGE-{i:04d}", "name": f"分页数据集 {i}", "provider": DEPARTMENTS[i % 3],
                 "content_hash": f"page-{i}"} for i in range(GROWN)]
        rows += [{**template, "code": code, "name": name, "provider": DEPARTMENTS[2], "content_hash": code}
                 for code, name in ODD_NAMES.items()]
        conn.execute(sa.insert(CatalogEntryRow.__table__), rows)
        conn.execute(sa.update(CatalogEntryRow.__table__).where(CatalogEntryRow.code == WITHDRAWN)
                     .values(withdrawn_at=now))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mariadb"])
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    city = create_demo_city(tmp_path_factory.mktemp("catalog_pages") / "city").root

    def build(url: str) -> Engine:
        upgrade(url)
        engine = engine_for(url)
        import_catalog(engine, city / "catalog.csv")
        _grow(engine)
        return engine

    if request.param == "sqlite":
        engine = build(f"sqlite:///{tmp_path_factory.mktemp('catalog_store') / 'governance.db'}")
        yield engine
        engine.dispose()
        return
    scratch = scratch_database if request.param == "postgresql" else scratch_mysql_database
    with scratch("pageshelper_catalog") as url:
        engine = build(url)
        yield engine
        engine.dispose()


def _codes(entries: list[dict[str, Any]]) -> list[str]:
    return [e["code"] for e in entries]


def test_the_pages_are_the_list_cut_in_order(catalog: Engine) -> None:
    for withdrawn in (False, True):
        every = list_entries(catalog, include_withdrawn=withdrawn)
        first = page_entries(catalog, include_withdrawn=withdrawn, limit=100)
        assert first.total == len(every) and len(first.entries) == 100
        seen: list[str] = []
        for offset in range(0, first.total, 100):
            page = page_entries(catalog, include_withdrawn=withdrawn, limit=100, offset=offset)
            assert page.total == first.total
            seen += _codes(page.entries)
        assert seen == _codes(every) == sorted(seen)  # every entry once, by code
        assert (WITHDRAWN in seen) is withdrawn
        past = page_entries(catalog, include_withdrawn=withdrawn, limit=100, offset=first.total + 100)
        assert past.total == first.total and past.entries == []
    assert page_entries(catalog, limit=5).entries == list_entries(catalog)[:5]  # the same dicts, columns too


@pytest.mark.parametrize(("text", "expected"), [
    ("100%_", ["320700-ODD-0001"]),
    ("%_完", ["320700-ODD-0001"]),
    ("a_b", ["320700-ODD-0004"]),
    ("/", ["320700-ODD-0004"]),
    ("O'Brien \"", ["320700-ODD-0003"]),
    ("'", ["320700-ODD-0003"]),
    ("odd-000", list(ODD_NAMES)),  # a code, in any case
    ("100abc", ["320700-ODD-0002"]),
    ("no such text '; drop table catalog_entries; --", []),
])
def test_a_filter_text_is_taken_literally(catalog: Engine, text: str, expected: list[str]) -> None:
    found = page_entries(catalog, text=text, limit=100)
    assert _codes(found.entries) == expected and found.total == len(expected)
    assert page_entries(catalog, limit=1).total > GROWN  # the table is still there


def test_the_text_matches_the_department_and_the_department_filter_is_exact(catalog: Engine) -> None:
    every = list_entries(catalog)
    by_text = page_entries(catalog, text="dept_a", limit=1000)  # the provider's name, any case, _ literal
    assert _codes(by_text.entries) == [e["code"] for e in every if e["provider"] == DEPARTMENTS[0]]
    assert page_entries(catalog, text="dept%", limit=1000).total == sum(e["provider"] == DEPARTMENTS[1] for e in every)
    one = page_entries(catalog, department=DEPARTMENTS[1], limit=1000)
    assert _codes(one.entries) == [e["code"] for e in every if e["provider"] == DEPARTMENTS[1]] and one.total > 0
    both = page_entries(catalog, department=DEPARTMENTS[2], text="ODD", limit=1000)
    assert _codes(both.entries) == list(ODD_NAMES)
    assert page_entries(catalog, department="测试局", limit=10).total == 0  # not a substring
    departments = catalog_departments(catalog)
    assert departments == sorted({e["provider"] for e in every}) and set(DEPARTMENTS) <= set(departments)


def test_one_entry_and_the_codes_among(catalog: Engine) -> None:
    every = {e["code"]: e for e in list_entries(catalog, include_withdrawn=True)}
    assert get_entry(catalog, "320700-ODD-0003") == every["320700-ODD-0003"]
    assert get_entry(catalog, WITHDRAWN) == every[WITHDRAWN] and every[WITHDRAWN]["withdrawn_at"]
    assert get_entry(catalog, "320700-NOPE-0001") is None
    assert get_entry(catalog, "x" * 300) is None
    assert catalogued_among(catalog, [WITHDRAWN, "320700-ODD-0001", None, "nope", WITHDRAWN]) == {
        WITHDRAWN, "320700-ODD-0001"}
    assert catalogued_among(catalog, []) == set()
    assert catalogued_among(catalog, list(every) + ["nope"]) == set(every)  # more than one IN list


def test_the_history_lists_a_few_changes_per_import(catalog: Engine) -> None:
    full = import_history(catalog)
    assert full[0]["added"] == len(full[0]["changes"]) > 3
    cut = import_history(catalog, changes_limit=3)
    assert [c["code"] for c in cut[0]["changes"]] == [c["code"] for c in full[0]["changes"][:3]]
    assert {k: v for k, v in cut[0].items() if k not in ("changes", "errors")} == {
        k: v for k, v in full[0].items() if k not in ("changes", "errors")}


# --- the pages ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Engine]]:
    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    tmp = tmp_path_factory.mktemp("catalog_web")
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    import_catalog(engine, city / "catalog.csv")
    _grow(engine)
    app = create_app(lambda: engine, lambda _c: None, lambda: tmp / "data_docs")
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("viewer", False)
    yield TestClient(app), engine
    engine.dispose()


def _rows(html: str) -> list[str]:
    table = html[html.index('id="entries"'):html.index("</table>", html.index('id="entries"'))]
    return re.findall(r'<tr data-code="([^"]+)"', table)


def _paging(html: str) -> tuple[int, int, int]:
    found = re.search(r'<span data-role="total">(\d+)</span> 条 entries · 第 <span data-role="page">(\d+)</span>/'
                      r'<span data-role="pages">(\d+)</span> 页', html)
    assert found, html[:2000]
    return int(found[1]), int(found[2]), int(found[3])


def test_the_catalog_page_is_one_page_of_the_catalog(client: tuple[TestClient, Engine]) -> None:
    web, engine = client
    every = _codes(list_entries(engine))
    pages = -(-len(every) // 100)
    assert pages >= 3
    seen: list[str] = []
    for number in range(1, pages + 1):
        reply = web.get("/catalog", params={"page": number})
        assert reply.status_code == 200
        assert _paging(reply.text) == (len(every), number, pages)
        assert f"{len(every)} entries, page {number} of {pages}" in reply.text
        assert ('id="next"' in reply.text) is (number < pages) and ('id="prev"' in reply.text) is (number > 1)
        seen += _rows(reply.text)
    assert seen == every
    past = web.get("/catalog", params={"page": pages + 5})
    assert past.status_code == 200 and _rows(past.text) == [] and 'id="no-entries"' in past.text
    assert _paging(past.text) == (len(every), pages + 5, pages)
    for bad in ("0", "-1", "x", "1000001"):
        assert web.get("/catalog", params={"page": bad}).status_code == 422
    withdrawn = web.get("/catalog", params={"all": "1", "page": pages})
    assert _paging(withdrawn.text)[0] == len(every) + 1
    assert 'href="?all=1&amp;page=' in withdrawn.text  # the pager keeps all=1


def test_the_catalog_page_filters(client: tuple[TestClient, Engine]) -> None:
    web, _engine = client
    reply = web.get("/catalog", params={"q": " 100%_ "})
    assert _rows(reply.text) == ["320700-ODD-0001"] and _paging(reply.text) == (1, 1, 1)
    assert 'name="q" value="100%_"' in reply.text
    quoted = web.get("/catalog", params={"q": 'O\'Brien "引号'})
    assert _rows(quoted.text) == ["320700-ODD-0003"]
    assert 'value="O&#39;Brien &#34;引号"' in quoted.text  # echoed escaped, never as markup
    hostile = web.get("/catalog", params={"q": '"><script>alert(1)</script>'})
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.text and _rows(hostile.text) == []
    assert "无匹配条目 no entry matches" in hostile.text
    one = web.get("/catalog", params={"department": DEPARTMENTS[1], "page": 1})
    rows = _rows(one.text)
    assert rows and all(re.search(rf'data-code="{c}"', one.text) for c in rows)
    assert _paging(one.text)[0] == len([i for i in range(GROWN) if i % 3 == 1 and i != 7])  # 7: withdrawn
    assert f'<option value="{DEPARTMENTS[1]}" selected>' in one.text
    both = web.get("/catalog", params={"department": DEPARTMENTS[2], "q": "odd"})
    assert _rows(both.text) == list(ODD_NAMES)
    paged = web.get("/catalog", params={"q": "page-"})
    assert _paging(paged.text) == (GROWN - 1, 1, 3)
    following = re.search(r'id="next" href="\?([^"]+)"', paged.text)
    assert following and following[1].replace("&amp;", "&") == "q=page-&page=2"  # the next page keeps the filter
    assert _rows(web.get(f"/catalog?{following[1].replace('&amp;', '&')}").text) == [
        f"320700-PAGE-{i:04d}" for i in range(101, 201)]  # page 1: 0..100 but the withdrawn 7


def test_the_entry_page_reads_one_entry(client: tuple[TestClient, Engine]) -> None:
    web, engine = client
    entry = get_entry(engine, "320700-ODD-0003")
    assert entry is not None
    reply = web.get("/catalog/320700-ODD-0003")
    assert reply.status_code == 200 and 'id="entry"' in reply.text and "O&#39;Brien" in reply.text
    assert 'href="/datasets/320700-ODD-0003"' in reply.text  # a stored entry has a scorecard page
    gone = web.get(f"/catalog/{WITHDRAWN}")
    assert gone.status_code == 200 and "已撤回 withdrawn" in gone.text
    for missing in ("320700-NOPE-0001", "100%_", "x" * 5000):
        reply = web.get(f"/catalog/{missing}")
        assert reply.status_code == 404 and 'id="error"' in reply.text and len(reply.text) < 20_000


def test_the_history_shows_a_few_changes_of_a_big_import(client: tuple[TestClient, Engine]) -> None:
    web, engine = client
    with engine.begin() as conn:  # the grown entries as one import that added them all
        import_id = conn.execute(sa.text(
            "INSERT INTO catalog_imports (file, file_sha256, encoding, source_label, imported_at, rows_total, accepted,"
            " rejected, added, changed, withdrawn, unchanged) VALUES ('/srv/big.csv', :sha, 'utf-8', 'big', :at,"
            " :n, :n, 0, :n, 0, 0, 0)"), {"sha": "0" * 64, "at": datetime.now(UTC), "n": GROWN}).lastrowid
        conn.execute(sa.insert(CatalogChange.__table__), [
            {"import_id": import_id, "entry_code": f"320700-PAGE-{i:04d}", "kind": "added", "diff": {}} for i in range(GROWN)])
    try:
        reply = web.get("/catalog")
        block = reply.text[reply.text.index(f'data-import="{import_id}"'):]
        block = block[:block.index("</details>")]
        assert block.count('data-change="added"') == 100
        assert f"{GROWN - 100} more changes" in block
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(CatalogChange.__table__).where(CatalogChange.import_id == import_id))
            conn.execute(sa.text("DELETE FROM catalog_imports WHERE id = :i"), {"i": import_id})

