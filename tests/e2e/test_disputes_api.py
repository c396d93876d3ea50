"""The dispute queue's web API in a real Airflow api-server, over HTTP on a loopback port.

The api-server runs in a subprocess on the test session's Airflow home and metadata database, with the
real plugins folder and the SimpleAuthManager configured with fixed users and passwords (the passwords
file the manager reads is written before it starts, so it generates none):

| user     | Airflow role | on the queue                       |
|----------|--------------|------------------------------------|
| admin    | admin        | steward                            |
| clerk    | user         | officer of 连云港市公安局            |
| viewer   | viewer       | (not registered; read-only anyway) |
| stranger | op           | not registered                     |

Tokens come from ``POST /auth/token`` as any client would get them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.store import engine_for, upgrade
from tests.api_server import running_api_server
from tests.catalog_files import GOOD_ROWS, write_catalog

pytestmark = pytest.mark.airflow

GAJ = "连云港市公安局"
PERSON = "320700-GAJ-0001"
USERS = {"admin": "admin", "clerk": "user", "viewer": "viewer", "stranger": "op"}
PASSWORDS = {name: f"{name}-pw-{i}" for i, name in enumerate(USERS)}


RESIDENT = "32070619860101123X"
"""The disputed record's key: 人口基本信息 is keyed by the resident ID number."""


@pytest.fixture(scope="module")
def gaj_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The 公安局's own database, holding the disputed record (connection dept_gaj)."""
    path = tmp_path_factory.mktemp("gaj") / "gaj.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE rkjbxx (xm TEXT, sfzhm TEXT PRIMARY KEY, csrq TEXT, gxsj TEXT)")
        db.executemany("INSERT INTO rkjbxx VALUES (?, ?, '1986-01-01', '2026-11-30 08:00:00')",
                       [("张三", RESIDENT), ("李四", "320706198601011246")])
    return str(path)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("api_store")
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    write_catalog(tmp / "catalog.csv", GOOD_ROWS)
    import_catalog(engine, tmp / "catalog.csv")
    dq.register_actor(engine, "admin", "steward")
    dq.register_actor(engine, "clerk", "officer", department=GAJ)
    dq.register_actor(engine, "citizen", "consumer")
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def server(airflow_db, store_url: str, gaj_source: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``airflow api-server`` (core app only) on a free loopback port; its base URL."""
    env = {
        "AIRFLOW__API_AUTH__JWT_SECRET": "citygov-test-secret",
        "AIRFLOW_CONN_GOVERNANCE_DB": json.dumps({"conn_type": "sqlite", "host": store_url.split("///", 1)[1]}),
        "AIRFLOW_CONN_DEPT_GAJ": json.dumps({"conn_type": "sqlite", "host": gaj_source}),
    }
    with running_api_server(
        tmp_path_factory.mktemp("api_server"), users=USERS, passwords=PASSWORDS, env=env, args=("--apps", "core")
    ) as base:
        yield base


@pytest.fixture(scope="module")
def tokens(server: str) -> dict[str, str]:
    out = {}
    for user, password in PASSWORDS.items():
        response = httpx.post(
            f"{server}/auth/token", json={"username": user, "password": password}, timeout=10
        )
        assert response.status_code in (200, 201), response.text
        out[user] = response.json()["access_token"]
    return out


@pytest.fixture(scope="module")
def api(server: str, tokens: dict[str, str]):  # type: ignore[no-untyped-def]
    """``api(user)``: a client for the dispute API, authenticated as ``user`` (None: anonymous)."""
    clients: list[httpx.Client] = []

    def client(user: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
        c = httpx.Client(base_url=f"{server}/citygov/api", headers=headers, timeout=30)
        clients.append(c)
        return c

    yield client
    for c in clients:
        c.close()


@pytest.fixture(scope="module")
def item(store_url: str) -> int:
    engine = engine_for(store_url)
    dispute = dq.raise_dispute(
        engine, dataset=PERSON, by="citizen", claim="出生日期有误", record_key=RESIDENT
    ).dispute
    engine.dispose()
    return dispute.id


ROUTES = [
    ("GET", "/disputes", None),
    ("GET", "/disputes/{id}", None),
    ("GET", "/flags", None),
    ("GET", "/kpis", None),
    ("GET", "/audit?format=csv", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("POST", "/disputes", {"dataset": PERSON, "claim": "x"}),
    ("POST", "/disputes/{id}/transitions", {"to": "已受理", "note": "受理"}),
    ("POST", "/disputes/{id}/reassign", {"unit": "连云港市民政局", "reason": "x"}),
    ("POST", "/disputes/{id}/extend", {"reason": "x"}),
    ("POST", "/disputes/{id}/flag", {"flagged": True, "note": "x"}),
    ("POST", "/disputes/{id}/locate", None),
    ("POST", "/disputes/bulk", {"items": [{"id": 1}], "action": "accept", "note": "受理"}),
    ("POST", "/disputes/{id}/assignee", {"assignee": "clerk"}),
    ("POST", "/disputes/{id}/comments", {"note": "x"}),
    ("POST", "/disputes/{id}/recheck", {}),
]


def test_every_route_refuses_anonymous_and_forged_requests(api, item: int) -> None:  # type: ignore[no-untyped-def]
    anonymous = api(None)
    for method, path, body in ROUTES:
        response = anonymous.request(method, path.format(id=item), json=body)
        assert response.status_code == 401, (method, path, response.text)
    forged = httpx.Client(
        base_url=anonymous.base_url, headers={"Authorization": "Bearer not-a-jwt"}, timeout=30
    )
    with forged:
        for method, path, body in ROUTES:
            assert forged.request(method, path.format(id=item), json=body).status_code in (401, 403), (
                method,
                path,
            )


def test_a_read_only_user_reads_but_cannot_change_anything(api, item: int) -> None:  # type: ignore[no-untyped-def]
    viewer = api("viewer")
    before = viewer.get(f"/disputes/{item}").json()
    assert before["status"] == "待受理" and before["events"][0]["action"] == "raise"
    assert [d["id"] for d in viewer.get("/disputes", params={"dataset": PERSON}).json()] == [item]
    for method, path, body in ROUTES:
        response = viewer.request(method, path.format(id=item), json=body)
        if method == "GET":
            assert response.status_code == 200, (path, response.text)
        else:
            assert response.status_code == 403, (path, response.text)
            assert "lacks write (edit on the dispute_sla DAG) access" in response.json()["detail"]
    assert viewer.get(f"/disputes/{item}").json() == before


def test_writers_must_be_registered_and_act_within_their_role(api, item: int) -> None:  # type: ignore[no-untyped-def]
    response = api("stranger").post(f"/disputes/{item}/transitions", json={"to": "已受理", "note": "受理"})
    assert response.status_code == 403 and response.json()["code"] == "unknown_user"
    assert "unknown user 'stranger'" in response.json()["detail"]
    response = api("clerk").post(f"/disputes/{item}/transitions", json={"to": "已受理", "note": "受理"})
    assert response.status_code == 403 and response.json()["code"] == "not_permitted"
    assert api("viewer").get(f"/disputes/{item}").json()["status"] == "待受理"


def test_the_workflow_over_http_with_clear_4xx_refusals(api, item: int) -> None:  # type: ignore[no-untyped-def]
    admin, clerk = api("admin"), api("clerk")
    version = admin.get(f"/disputes/{item}").json()["version"]

    refusals = [
        (
            admin.post("/disputes/4242/transitions", json={"to": "已受理", "note": "x"}),
            404,
            "dispute 4242 does not exist",
        ),
        (
            admin.post(f"/disputes/{item}/transitions", json={"to": "已核验", "note": "x"}),
            409,
            "illegal transition 待受理 → 已核验; allowed: 已受理, 驳回",
        ),
        (
            admin.post(f"/disputes/{item}/transitions", json={"to": "done", "note": "x"}),
            422,
            "unknown state 'done'",
        ),
        (
            admin.post(f"/disputes/{item}/transitions", json={"to": "已受理", "note": "  "}),
            422,
            "note must not be empty",
        ),
        (
            admin.post(f"/disputes/{item}/transitions", json={"to": "已受理", "note": "长" * 2001}),
            422,
            "note is 2001 characters long",
        ),
        (
            admin.post(
                f"/disputes/{item}/transitions",
                json={"to": "已受理", "note": "x", "expected_version": version + 5},
            ),
            409,
            f"is at version {version}, not {version + 5}",
        ),
        (
            admin.post(
                f"/disputes/{item}/transitions",
                content=b'{"to": "\xe5\xb7\xb2',
                headers={"content-type": "application/json"},
            ),
            422,
            "JSON decode error",
        ),
        (admin.post(f"/disputes/{item}/transitions", json={"note": "x"}), 422, "Field required"),
    ]
    for response, code, message in refusals:
        assert response.status_code == code, response.text
        assert message in response.text, response.text
    assert admin.get(f"/disputes/{item}").json()["version"] == version  # nothing changed

    accepted = admin.post(
        f"/disputes/{item}/transitions", json={"to": "accepted", "note": "受理", "expected_version": version}
    )
    assert (
        accepted.status_code == 200 and accepted.json()["status"] == "已受理" and accepted.json()["flagged"]
    )
    moved = clerk.post(f"/disputes/{item}/transitions", json={"to": "核实中", "note": "核实"})
    assert moved.status_code == 200 and moved.json()["allowed_transitions"] == [
        "已更正",
        "维持原数据",
        "驳回",
    ]
    extended = clerk.post(f"/disputes/{item}/extend", json={"reason": "需调取档案"})
    assert extended.status_code == 200 and extended.json()["extended"] is True
    again = clerk.post(f"/disputes/{item}/extend", json={"reason": "再延"})
    assert again.status_code == 409 and "already extended once" in again.json()["detail"]

    flags = api("viewer").get("/flags", params={"dataset": PERSON}).json()
    assert [(f["dispute_id"], f["record_key"]) for f in flags] == [(item, "320706********123X")]
    audit = api("viewer").get("/audit", params={"format": "csv", "dispute_id": item})
    assert audit.status_code == 200 and audit.headers["content-type"].startswith("text/csv")
    lines = audit.text.strip().splitlines()
    assert lines[0].startswith("dispute_id,event_id,at,actor,action") and len(lines) == 1 + 4
    assert ",clerk,extend," in audit.text
    kpis = api("viewer").get("/kpis").json()
    assert kpis["open_by_department"][GAJ] >= 1


def test_raising_over_http_dedups(api) -> None:  # type: ignore[no-untyped-def]
    clerk = api("clerk")
    first = clerk.post(
        "/disputes",
        json={
            "dataset": "320700-MZJ-0001",
            "claim": "登记日期错误",
            "evidence": "证件 320706199001011230",
            "record_key": "HY-9",
        },
    )
    assert first.status_code == 201 and first.json()["deduplicated"] is False
    body = first.json()["dispute"]
    assert body["responsible_unit"] == "连云港市民政局" and body["latest_evidence"] == {
        "text": "证件 320706********1230"
    }
    second = api("admin").post(
        "/disputes", json={"dataset": "320700-MZJ-0001", "claim": "同一问题", "record_key": "HY-9"}
    )
    assert second.status_code == 200 and second.json()["deduplicated"] is True
    assert second.json()["dispute"]["id"] == body["id"] and second.json()["dispute"]["reporters"] == 2
    unknown = clerk.post("/disputes", json={"dataset": "320700-NONE-0001", "claim": "x"})
    assert unknown.status_code == 422 and "unknown dataset" in unknown.json()["detail"]


def test_the_openapi_schema_documents_every_route(api) -> None:  # type: ignore[no-untyped-def]
    schema = api("viewer").get("/openapi.json").json()
    assert schema["info"]["title"] == "citygov dispute queue (异议处置)"
    assert set(schema["paths"]) == {
        "/disputes",
        "/disputes/{dispute_id}",
        "/disputes/{dispute_id}/transitions",
        "/disputes/{dispute_id}/reassign",
        "/disputes/{dispute_id}/extend",
        "/disputes/{dispute_id}/flag",
        "/disputes/{dispute_id}/locate",
        "/disputes/bulk",
        "/disputes/{dispute_id}/assignee",
        "/disputes/{dispute_id}/comments",
        "/disputes/{dispute_id}/recheck",
        "/flags",
        "/kpis",
        "/audit",
    }
    transition = schema["paths"]["/disputes/{dispute_id}/transitions"]["post"]
    assert "TransitionBody" in json.dumps(transition["requestBody"])
    assert "expected_version" in json.dumps(schema["components"]["schemas"]["TransitionBody"])
    assert api("viewer").get("/docs").status_code == 200


def test_the_responsible_officer_locates_the_record_and_nobody_else(api, item: int) -> None:  # type: ignore[no-untyped-def]
    shown = api("viewer").get(f"/disputes/{item}").json()
    assert shown["record_key"] == "320706********123X" and RESIDENT not in json.dumps(shown)
    found = api("clerk").post(f"/disputes/{item}/locate")
    assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
    assert found.json()["matches"] == [{"key": {"sfzhm": RESIDENT}}] and found.json()["scanned"] == 2
    for user, code in (("admin", "not_permitted"), ("viewer", "forbidden"), ("stranger", "unknown_user")):
        refused = api(user).post(f"/disputes/{item}/locate")
        assert (refused.status_code, refused.json()["code"]) == (403, code), (user, refused.text)
    audit = api("viewer").get("/audit", params={"format": "json", "dispute_id": item}).text
    assert '"locate"' in audit and RESIDENT not in audit


# --- cross-site requests ----------------------------------------------------------------------------------


def test_a_cookie_authenticated_change_must_come_from_this_site(server: str, tokens: dict[str, str], store_url: str) -> None:
    """Whether the session cookie came along decides the check, not which other headers the request carries."""
    engine = engine_for(store_url)
    item = dq.raise_dispute(engine, dataset=PERSON, by="citizen", claim="户籍地址有误").dispute.id
    engine.dispose()
    url = f"{server}/citygov/api/disputes/{item}/flag"
    cookie, bearer = {"_token": tokens["admin"]}, {"Authorization": f"Bearer {tokens['admin']}"}
    foreign, own = {"Origin": "http://evil.example"}, {"Origin": server}

    def post(headers: dict[str, str], cookies: dict[str, str] | None, flagged: bool) -> httpx.Response:
        with httpx.Client(cookies=cookies, timeout=30) as client:
            return client.post(url, json={"flagged": flagged, "note": "x"}, headers=headers)

    refused = [
        post({**foreign, "Authorization": "Basic eDp4"}, cookie, True),  # not Bearer: the cookie authenticates
        post({"Authorization": "Basic eDp4"}, cookie, True),  # no Origin at all
        post({"Referer": "http://evil.example/page"}, cookie, True),
        post({**foreign, **bearer}, cookie, True),  # Bearer, but the cookie rides along
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "cross_site" and "another site" in response.json()["detail"]
    assert api_view(server, tokens, item)["flagged"] is False  # nothing moved

    assert post(own, cookie, True).status_code == 200  # the UI's own page
    assert post({"Referer": f"{server}/citygov/web/disputes/{item}"}, cookie, False).status_code == 200
    assert post({**foreign, **bearer}, None, True).status_code == 200  # a script with a token, no cookie
    assert api_view(server, tokens, item)["flagged"] is True


def api_view(server: str, tokens: dict[str, str], item: int) -> dict:  # type: ignore[type-arg]
    response = httpx.get(f"{server}/citygov/api/disputes/{item}", headers={"Authorization": f"Bearer {tokens['viewer']}"},
                         timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# --- the contract: one error model, bounds, documented statuses -------------------------------------------


ID_ROUTES = [
    ("GET", "/disputes/{id}", None),
    ("POST", "/disputes/{id}/transitions", {"to": "已受理", "note": "x"}),
    ("POST", "/disputes/{id}/reassign", {"unit": "连云港市民政局", "reason": "x"}),
    ("POST", "/disputes/{id}/extend", {"reason": "x"}),
    ("POST", "/disputes/{id}/flag", {"flagged": True, "note": "x"}),
    ("POST", "/disputes/{id}/locate", None),
    ("GET", "/audit?dispute_id={id}", None),
]


@pytest.mark.parametrize("dispute_id", ["0", "-1", "9223372036854775808", "99999999999999999999"])
def test_an_id_out_of_range_is_a_documented_422_never_a_500(api, dispute_id: str) -> None:  # type: ignore[no-untyped-def]
    admin = api("admin")
    for method, path, body in ID_ROUTES:
        response = admin.request(method, path.format(id=dispute_id), json=body)
        assert response.status_code == 422, (path, response.text)
        reply = response.json()
        assert reply["code"] == "invalid_request" and reply["errors"][0]["loc"][-1] == "dispute_id", reply
    assert admin.get("/disputes/9223372036854775807").status_code == 404  # the largest id: in range, unknown


def test_every_refusal_is_one_model_and_quotes_only_an_excerpt(api, item: int) -> None:  # type: ignore[no-untyped-def]
    admin = api("admin")
    huge = "长" * 5_000_000
    replies = {
        "anonymous": api(None).get("/disputes"),
        "forged": httpx.get(str(admin.base_url).rstrip("/") + "/disputes", headers={"Authorization": "Bearer not-a-jwt"}, timeout=30),
        "viewer-writes": api("viewer").post("/disputes", json={"dataset": PERSON, "claim": "x"}),
        "unknown-path": admin.get("/nowhere"),
        "unreadable-body": admin.post("/disputes", content=b"{\"claim\": \"\xff\"}", headers={"content-type": "application/json"}),
        "huge-int": admin.post(f"/disputes/{item}/transitions", json={"to": "已受理", "note": "x", "expected_version": huge}),
        "huge-missing": admin.post(f"/disputes/{item}/transitions", json={"note": huge}),
        "huge-state": admin.post(f"/disputes/{item}/transitions", json={"to": huge, "note": "x"}),
        "huge-filter": admin.get("/disputes", params={"dataset": "x" * 1000}),  # a URL is at most ~16 KB anyway
        "nul-filter": admin.get("/flags", params={"dataset": "a\x00"}),  # PostgreSQL could not even compare it
        "nul-body": admin.post("/disputes", json={"dataset": PERSON, "claim": "a\x00b"}),
    }
    expected = {"anonymous": (401, "not_authenticated"), "forged": (403, "forbidden"),
                "viewer-writes": (403, "forbidden"), "unknown-path": (404, "not_found"),
                "unreadable-body": (400, "bad_request"), "huge-int": (422, "invalid_request"),
                "huge-missing": (422, "invalid_request"), "huge-state": (422, "invalid_input"),
                "huge-filter": (422, "invalid_request"), "nul-filter": (422, "invalid_request"),
                "nul-body": (422, "invalid_input")}
    for case, response in replies.items():
        assert (response.status_code, response.json()["code"]) == expected[case], (case, response.text[:500])
        assert set(response.json()) <= {"code", "detail", "errors"} and response.json()["detail"], case
        assert len(response.content) < 2000, (case, len(response.content))  # an excerpt, not the 5 MB
    assert "(5000000 characters)" in replies["huge-state"].json()["detail"]


def test_a_405_names_every_method_of_the_path(api) -> None:  # type: ignore[no-untyped-def]
    admin = api("admin")
    for method, path, allow in [("DELETE", "/disputes", "GET, POST"), ("PUT", "/disputes/1", "GET"),
                                ("GET", "/disputes/1/flag", "POST"), ("PATCH", "/kpis", "GET")]:
        response = admin.request(method, path)
        assert response.status_code == 405 and response.headers["allow"] == allow, (method, path, response.headers)
        assert response.json()["code"] == "method_not_allowed"


def test_the_openapi_document_states_every_status_bound_and_the_error_model(api) -> None:  # type: ignore[no-untyped-def]
    schema = api("viewer").get("/openapi.json").json()
    statuses = {
        ("/disputes", "get"): {"200", "401", "403", "422"},
        ("/disputes", "post"): {"200", "201", "400", "401", "403", "409", "422"},
        ("/disputes/{dispute_id}", "get"): {"200", "401", "403", "404", "422"},
        ("/disputes/{dispute_id}/transitions", "post"): {"200", "400", "401", "403", "404", "409", "422"},
        ("/kpis", "get"): {"200", "401", "403"},
        ("/audit", "get"): {"200", "401", "403", "404", "422"},
    }
    for (path, method), documented in statuses.items():
        responses = schema["paths"][path][method]["responses"]
        assert set(responses) == documented, (path, method, sorted(responses))
        for code in documented - {"200", "201"}:
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorReply", (path, method, code)
    assert set(schema["components"]["schemas"]["ErrorReply"]["required"]) == {"code", "detail"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    (id_param,) = schema["paths"]["/disputes/{dispute_id}"]["get"]["parameters"]
    assert (id_param["schema"]["minimum"], id_param["schema"]["maximum"]) == (1, 2**63 - 1)
    audit = {p["name"]: p["schema"] for p in schema["paths"]["/audit"]["get"]["parameters"]}
    assert audit["dispute_id"]["anyOf"][0]["maximum"] == 2**63 - 1
    note = schema["components"]["schemas"]["TransitionBody"]["properties"]["note"]
    assert (note["minLength"], note["maxLength"]) == (1, 2000)


# --- the queue as a work list ------------------------------------------------------------------------------


def test_a_selection_is_acted_on_item_by_item_through_the_api(api, store_url: str) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(store_url)
    ids = [dq.raise_dispute(engine, dataset=PERSON, by="citizen", claim="住址有误", record_key=f"BULK-{n}").dispute.id
           for n in range(3)]
    engine.dispose()
    body = {"items": [{"id": i} for i in ids] + [{"id": 987654}], "action": "accept", "note": "批量受理"}
    refused = api("clerk").post("/disputes/bulk", json=body)  # an officer may not accept: each item says so
    assert refused.status_code == 200 and refused.json()["done"] == []
    assert [(f["id"], f["code"]) for f in refused.json()["failed"]] == [
        *[(i, "not_permitted") for i in ids], (987654, "not_found")]
    done = api("admin").post("/disputes/bulk", json=body).json()
    assert done["done"] == ids and "3 项已办理 done" in done["message"]
    for i in ids:
        events = api("viewer").get(f"/disputes/{i}").json()["events"]
        assert [(e["actor"], e["to_status"]) for e in events if e["action"] == "transition"] == [("admin", "已受理")]
    assert api("admin").post("/disputes/bulk", json={**body, "note": " "}).status_code == 422  # nothing done
    assigned = api("clerk").post(f"/disputes/{ids[0]}/assignee", json={"assignee": "clerk", "note": "我来办"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "clerk"
    listed = api("viewer").get("/disputes", params={"assignee": "clerk", "sort": "age", "order": "desc"}).json()
    assert [d["id"] for d in listed] == [ids[0]]
    wrong = api("admin").post(f"/disputes/{ids[1]}/assignee", json={"assignee": "citizen"})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_input")
    claim = api("admin").post(f"/disputes/{ids[1]}/recheck", json={})  # a claim is not one rule's failure
    assert (claim.status_code, claim.json()["code"]) == (422, "invalid_input")
