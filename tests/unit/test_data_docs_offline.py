"""Offline Data Docs (issue 20, item 1), without a browser: two dates of the demo's Data Docs built on a SQLite
store hold no URL outside the site, every file a page loads is in the site, the dates are browsable (index,
``latest``, each page's date bar), and the vendored files are the ones GX's templates ask for.
(tests/web/test_data_docs_offline_browser.py opens the same in Chromium with outside requests blocked.)"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.quality import docs_offline
from citygov.quality.docs import LATEST, build_data_docs, kept_dates
from citygov.quality.docs_offline import PACKAGES, OutsideAssetError, make_offline, outside_loads, vendor_dir
from citygov.quality.runner import inspect_batch
from citygov.sources import connections_from_file
from citygov.store import engine_for, upgrade

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "expectations"
CODES = ["320700-GAJ-0001", "320700-WJW-0001"]  # one failing (invalid ID numbers), one passing
DAYS = [DEFAULT_AS_OF - timedelta(days=1), DEFAULT_AS_OF]
GX_TEMPLATES = Path(__import__("great_expectations").__file__).parent / "render" / "view"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("offline_docs")
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine: Engine = engine_for(url)
    import_catalog(engine, city / "catalog.csv")
    conns = connections_from_file(city / "connections.json")
    out = tmp / "docs"
    for day in DAYS:
        inspect_batch(engine, CODES, conns.get, day, suites=SUITES)
        report = build_data_docs(engine, out, logical_date=day, suites=SUITES)
        assert report.validations == len(CODES)
    engine.dispose()
    return out


class _Refs(HTMLParser):
    """Every URL a page names in an attribute, with its tag."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href") and v]


def _pages(docs: Path) -> list[Path]:
    return sorted(p for p in docs.rglob("*.html") if "/static/vendor/" not in p.as_posix() and LATEST not in p.parts)


def test_the_built_site_names_no_url_outside_the_host(docs: Path) -> None:
    pages = _pages(docs)
    assert len(pages) >= 2 * (1 + 2 * len(CODES)), len(pages)  # per date: index, a suite and a validation per dataset
    found = {str(p.relative_to(docs)): re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", p.read_text(encoding="utf-8"))
             for p in pages}
    assert {page: urls for page, urls in found.items() if urls} == {}
    stylesheets = [p for p in docs.rglob("*.css") if "/static/vendor/" not in p.as_posix()]  # GX's own, e.g. its logo
    assert stylesheets and all(outside_loads(p.read_text(encoding="utf-8")) == [] for p in stylesheets)


def test_every_file_a_page_loads_is_in_the_site(docs: Path) -> None:
    loaded: set[Path] = set()
    for page in _pages(docs):
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, _attr, ref in parser.refs:
            parts = urlsplit(ref)
            if tag == "a" or parts.scheme or not parts.path:
                continue  # links a reader follows, anchors within the page
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), (str(page.relative_to(docs)), ref)
            loaded.add(target)
    names = {p.name for p in loaded}
    for vendored in PACKAGES:  # each vendored package is used, bootstrap's stylesheet and script among them
        assert {Path(f).name for f in vendored.urls.values()} <= names, vendored.package
    fonts = [p for p in (docs / DAYS[1].isoformat() / "static/vendor").rglob("*.woff2")]
    assert len(fonts) == 4  # what Font Awesome's stylesheet loads relatively (its ../webfonts/)


def test_the_dates_are_browsable_newest_first_and_latest_by_default(docs: Path) -> None:
    assert kept_dates(docs) == sorted(DAYS, reverse=True)
    latest = docs / LATEST
    assert latest.is_symlink() and latest.resolve() == (docs / DAYS[-1].isoformat()).resolve()
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<tr data-date="([\d-]+)">', index) == [d.isoformat() for d in sorted(DAYS, reverse=True)]
    assert index.index("最新 latest") > index.index(DAYS[-1].isoformat()) and index.count("最新 latest") == 1
    assert "保留期 retention 30 天 days" in index  # the default retention, said where the dates are listed
    for day in DAYS:
        site = docs / day.isoformat()
        validation = next((site / "validations" / CODES[0]).rglob("*.html"))
        for page in (site / "index.html", validation):
            text = page.read_text(encoding="utf-8")
            bar = re.search(r'<div id="citygov-date"[^>]*data-date="([\d-]+)".*?href="([^"]+)"', text)
            assert bar and bar.group(1) == day.isoformat(), page
            assert (page.parent / bar.group(2)).resolve() == (docs / "index.html").resolve()  # back to all dates
        assert all(f'validations/{c}/' in (site / "index.html").read_text(encoding="utf-8") for c in CODES)


def test_every_outside_file_in_gx_templates_is_vendored() -> None:
    """GX (pinned) writes these URLs into its pages; each must be vendored, else a page would load it."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in GX_TEMPLATES.rglob("*") if p.suffix in (".j2", ".css"))
    loads = set(outside_loads(text)) | set(re.findall(r"<script src=\"(https://[^\"]+)\"", text))
    assert len(loads) >= 14
    s3 = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
    assert {u for u in loads if not u.startswith(s3) and docs_offline.local_path(u) is None} == set()
    for vendored in PACKAGES:
        folder = vendor_dir() / vendored.folder
        assert all((folder / f).is_file() for f in vendored.urls.values()), vendored.package
        assert (folder / (vendored.license or "LICENSE")).is_file(), vendored.package


def test_a_page_left_loading_an_outside_file_fails_the_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js" integrity="sha384-x" crossorigin="anonymous"></script>'
        '</head><body><a href="https://example.org/">a link is not a load</a></body></html>', encoding="utf-8")
    report = make_offline(site)
    text = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"' in text
    assert '<script src="static/vendor/jquery-3.7.1/dist/jquery.min.js"></script>' in text  # no integrity/crossorigin
    assert report.pages == 1 and (site / "static/vendor/jquery-3.7.1/dist/jquery.min.js").is_file()
    (site / "other.html").write_text('<img src="https://cdn.example.org/x.png"><style>a{background:url(//cdn.example.org/y.png)}</style>',
                                     encoding="utf-8")
    with pytest.raises(OutsideAssetError, match=r"2 file\(s\) from outside.*cdn\.example\.org/x\.png"):
        make_offline(site)
