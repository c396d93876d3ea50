"""Data Docs built batch by batch (issue 19, the 10,000-entry night): each quality batch writes its datasets'
pages as soon as their results are stored (:func:`build_pages`), and the night's last task only writes the
date's index (``build_data_docs(pages=False)``). The index links every page, a page is written once, the
pages of results the date no longer holds are removed, and a batch whose pages would show an unmasked
identifier publishes none of them. Also: the adaptive batch sizes of the mapped tasks."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine, delete, select

from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.quality.docs import UnmaskedDataError, build_data_docs, build_pages
from citygov.quality.runner import inspect_batch
from citygov.sources import connections_from_file
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import QualityRun
from citygov_airflow.pools import BatchSizes, split_by_shard

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "expectations"
CODES = ["320700-GAJ-0001", "320700-WJW-0001", "320700-RSJ-0005"]
DAY = DEFAULT_AS_OF


@pytest.fixture()
def inspected(tmp_path: Path) -> Engine:
    city = create_demo_city(tmp_path / "city").root
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    import_catalog(engine, city / "catalog.csv")
    inspect_batch(engine, CODES, connections_from_file(city / "connections.json").get, DAY, suites=SUITES)
    yield engine
    engine.dispose()


def _paths(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return dict(session.execute(select(QualityRun.entry_code, QualityRun.data_docs_path).where(QualityRun.logical_date == DAY)).all())


def _index_links(site: Path) -> set[str]:
    text = (site / "index.html").read_text(encoding="utf-8")
    return {unquote(h) for h in re.findall(r"""((?:validations|expectations)/[^"'\\\s]+\.html)""", text)}


def test_batches_write_the_pages_and_the_last_task_only_the_index(inspected: Engine, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    first = build_pages(inspected, out, logical_date=DAY, codes=CODES[:2], suites=SUITES)
    second = build_pages(inspected, out, logical_date=DAY, codes=CODES[2:], suites=SUITES)
    assert (first.validations, first.suites, second.validations, second.suites) == (2, 2, 1, 1)
    paths = _paths(inspected)
    assert all(paths[c] and Path(paths[c]).is_file() for c in CODES)
    assert not (out / "index.html").exists()  # nothing is listed before the last task
    written = {c: Path(paths[c]).stat().st_mtime_ns for c in CODES}

    report = build_data_docs(inspected, out, logical_date=DAY, suites=SUITES, pages=False)
    site = out / DAY.isoformat()
    assert report.validations == len(CODES) and report.site == site and (out / "latest").resolve() == site.resolve()
    assert {c: Path(paths[c]).stat().st_mtime_ns for c in CODES} == written  # no page rendered twice
    links = _index_links(site)
    assert {str(Path(paths[c]).relative_to(site)) for c in CODES} <= links
    assert all((site / link).is_file() for link in links), links
    assert {f"expectations/{c}.html" for c in CODES} <= links
    assert (site / "static" / "styles").is_dir() and (site / "static" / "vendor").is_dir()
    page = Path(paths[CODES[0]]).read_text(encoding="utf-8")
    assert f'data-date="{DAY.isoformat()}"' in page and "static/vendor/" in page and "cdn.jsdelivr" not in page


def test_a_page_the_batches_left_unwritten_is_written_by_the_last_task(inspected: Engine, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    build_pages(inspected, out, logical_date=DAY, codes=CODES[:1], suites=SUITES)  # the other batches died
    build_data_docs(inspected, out, logical_date=DAY, suites=SUITES, pages=False)
    paths = _paths(inspected)
    assert all(paths[c] and Path(paths[c]).is_file() for c in CODES)
    assert len(_index_links(out / DAY.isoformat())) == 2 * len(CODES)


def test_the_pages_of_results_the_date_no_longer_holds_are_removed(inspected: Engine, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    build_data_docs(inspected, out, logical_date=DAY, suites=SUITES)
    gone = Path(_paths(inspected)[CODES[1]])
    assert gone.is_file()
    with session_scope(inspected) as session:  # the date rerun without that dataset (withdrawn)
        session.execute(delete(QualityRun).where(QualityRun.entry_code == CODES[1]))
    build_data_docs(inspected, out, logical_date=DAY, suites=SUITES, pages=False)
    site = out / DAY.isoformat()
    assert not gone.exists() and not (site / f"expectations/{CODES[1]}.html").exists()
    assert CODES[1] not in (site / "index.html").read_text(encoding="utf-8")
    assert Path(_paths(inspected)[CODES[0]]).is_file()


def test_a_batch_whose_pages_would_show_an_unmasked_identifier_publishes_none(inspected: Engine, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    raw = "320706198001011234"
    with session_scope(inspected) as session:  # a table named after a person's ID number: shown on its page
        run = session.scalars(select(QualityRun).where(QualityRun.entry_code == CODES[1])).one()
        run.location = f"t_{raw}"
    with pytest.raises(UnmaskedDataError, match="nothing was published"):
        build_pages(inspected, out, logical_date=DAY, codes=CODES, suites=SUITES)
    assert set(_paths(inspected).values()) == {None}
    assert not any(raw in p.read_text(encoding="utf-8") for p in out.rglob("*.html"))
    with pytest.raises(UnmaskedDataError):  # and the night's last task fails rather than publish it
        build_data_docs(inspected, out, logical_date=DAY, suites=SUITES, pages=False)
    assert not (out / DAY.isoformat() / "index.html").exists()


def test_batch_sizes_follow_the_shard_within_their_bounds() -> None:
    sizes = BatchSizes(smallest=50, largest=500, tasks=8)
    assert [sizes.for_entries(n) for n in (0, 8, 400, 401, 2500, 10_000)] == [50, 50, 50, 51, 313, 500]
    conn_of = {f"e{i}": "dept_a" for i in range(1000)}
    batches = split_by_shard([list(conn_of)], conn_of, 0, sizes)
    assert [len(b) for b in batches] == [125] * 8 and sum(batches, []) == list(conn_of)
    assert split_by_shard([list(conn_of)], conn_of, 0, 300) == [list(conn_of)[i : i + 300] for i in range(0, 1000, 300)]


def test_a_suite_unchanged_since_the_day_before_is_not_rendered_again(
    inspected: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import shutil
    from datetime import timedelta

    from citygov.quality import docs as docs_module

    out, before = tmp_path / "docs", DAY - timedelta(days=1)
    with session_scope(inspected) as session:  # the same results stored for the day before too
        for run in session.scalars(select(QualityRun).where(QualityRun.logical_date == DAY)).all():
            session.add(QualityRun(**{c: getattr(run, c) for c in ("entry_code", "suite_name", "status", "location", "conn_id",
                                                                   "started_at", "validation_result")}, logical_date=before))
    build_data_docs(inspected, out, logical_date=before, suites=SUITES)
    rendered: list[str] = []
    original = docs_module._Gx.suite_page
    monkeypatch.setattr(docs_module._Gx, "suite_page", lambda self, name, suite: rendered.append(name) or original(self, name, suite))
    build_data_docs(inspected, out, logical_date=DAY, suites=SUITES)
    assert rendered == []  # the three suites, unchanged, taken from the day before
    page = (out / DAY.isoformat() / f"expectations/{CODES[0]}.html").read_text(encoding="utf-8")
    assert page.count('id="citygov-date"') == 1 and f'data-date="{DAY.isoformat()}"' in page
    assert page.replace(DAY.isoformat(), "D") == (out / before.isoformat() / f"expectations/{CODES[0]}.html").read_text(
        encoding="utf-8").replace(before.isoformat(), "D")

    edited = tmp_path / "suites"  # a steward edits one suite: that page is rendered anew
    shutil.copytree(SUITES, edited)
    suite = json.loads((edited / f"{CODES[1]}.json").read_text(encoding="utf-8"))
    suite.setdefault("meta", {})["notes"] = "reviewed again"
    (edited / f"{CODES[1]}.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    build_data_docs(inspected, out, logical_date=DAY, suites=edited)
    assert rendered == [CODES[1]]


def test_pages_built_into_another_folder_are_not_this_sites(inspected: Engine, tmp_path: Path) -> None:
    build_data_docs(inspected, tmp_path / "elsewhere", logical_date=DAY, suites=SUITES)  # govern quality docs --out
    out = tmp_path / "docs"
    build_data_docs(inspected, out, logical_date=DAY, suites=SUITES, pages=False)  # the DAG's last task
    site = out / DAY.isoformat()
    assert all(Path(p).is_relative_to(site) and Path(p).is_file() for p in _paths(inspected).values())
    assert all((site / link).is_file() for link in _index_links(site)) and len(_index_links(site)) == 2 * len(CODES)
