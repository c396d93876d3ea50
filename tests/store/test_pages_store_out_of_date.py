"""Pages and the dispute API over a store left at an older schema revision (a release deployed, `govern store
upgrade` not yet run): 503 with what to do, the store's address kept out of the reply, nothing migrated."""

from __future__ import annotations

import typing
from pathlib import Path

from fastapi.testclient import TestClient

from citygov.store import StoreOutOfDate, current_revisions, engine_for, ensure_store
from tests.old_store import make_store_one_revision_behind


def _old_store(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'secret-host-name.db'}"
    return url, make_store_one_revision_behind(url)


def test_the_pages_answer_503_with_the_command_to_run(tmp_path: Path) -> None:
    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    url, before = _old_store(tmp_path)
    app = create_app(lambda: ensure_store(url), lambda _c: None, lambda: tmp_path / "docs")
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("wang", True)
    client = TestClient(app)
    for path in ("/", "/disputes", "/datasets"):
        page = client.get(path)
        assert page.status_code == 503, (path, page.status_code)
        assert "govern store upgrade" in page.text and "secret-host-name" not in page.text
    assert current_revisions(engine_for(url)) == {before}


def test_the_api_answers_503_with_a_problem_code(tmp_path: Path) -> None:
    from citygov_web import api

    url, before = _old_store(tmp_path)
    app = api.create_api(lambda: ensure_store(url), lambda _c: None, "/citygov/api")
    reader = typing.get_args(api.Reader)[1].dependency
    app.dependency_overrides[reader] = lambda: object()
    reply = TestClient(app).get("/disputes")
    assert reply.status_code == 503
    body = reply.json()
    assert body["code"] == "store_out_of_date" and "govern store upgrade" in body["detail"]
    assert "secret-host-name" not in reply.text
    assert current_revisions(engine_for(url)) == {before}


def test_the_store_itself_names_its_address_for_the_operator(tmp_path: Path) -> None:
    url, _ = _old_store(tmp_path)
    try:
        ensure_store(url)
    except StoreOutOfDate as exc:
        assert "secret-host-name" in str(exc) and "govern store upgrade" in str(exc)
    else:
        raise AssertionError("an old store was opened")
