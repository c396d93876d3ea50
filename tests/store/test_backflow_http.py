"""Pulling backflow batches over the provincial HTTP API (:mod:`citygov.backflow.http_pull`) from a local
server that plays the province (:mod:`tests.fake_province`), then ingesting what landed.

The demo city's landing folder is what the province serves: four good batches, one whose row count is
wrong (its sha256 matches, so it lands and ingestion rejects it) and one whose data no longer matches its
manifest's sha256 (it must never land).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import ingest_landing, list_batches
from citygov.backflow.http_pull import (
    ProvinceAPI,
    ProvinceAPIError,
    PullResult,
    pull_batches,
    record_refusals,
    summarize,
)
from citygov.catalog.importer import import_catalog
from citygov.findings import load_findings
from citygov.sources import ConnectionInfo
from tests.fake_province import FakeProvince

CORRUPT = "JSDSJ-20261128-002"
"""The demo batch whose data.csv no longer matches its manifest's sha256."""
SHORT = "JSDSJ-20261128-001"
"""The demo batch that declares 3 rows more than it holds (intact in transit)."""
GOOD = ["JSDSJ-20261126-001", "JSDSJ-20261126-002", "JSDSJ-20261127-001", "JSDSJ-20261127-002"]
FAST = {"attempts": 3, "backoff": 0.01}
"""Retries without waiting, so fault tests stay fast."""


@pytest.fixture
def province(city: Path) -> Iterator[FakeProvince]:
    with FakeProvince(slow_seconds=1.5) as server:
        server.add_landing(city / "landing")
        yield server


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "pulled" / "landing"


def by_id(results: list[PullResult]) -> dict[str, PullResult]:
    return {r.batch_id: r for r in results}


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_no_leftovers(landing: Path) -> None:
    staging = landing.parent / f".{landing.name}.incoming"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    assert not [p for p in landing.iterdir() if p.name.startswith(".")]


# --- the happy path and what ingestion makes of it -------------------------------------------------------


def test_pull_lands_intact_batches_and_never_the_corrupt_one(province: FakeProvince, city: Path, landing: Path) -> None:
    results = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))

    assert {i: r.status for i, r in results.items()} == {
        **dict.fromkeys([*GOOD, SHORT], "pulled"),
        CORRUPT: "failed",
    }
    corrupt = results[CORRUPT]
    assert corrupt.problem == "checksum_mismatch"
    assert "the manifest declares" in (corrupt.reason or "") and "not landed" in (corrupt.reason or "")
    # Landed batches are byte for byte what the province holds; the corrupt one left nothing behind.
    assert sorted(p.name for p in landing.iterdir()) == sorted([*GOOD, SHORT])
    for batch_id in [*GOOD, SHORT]:
        assert tree(landing / batch_id) == tree(city / "landing" / batch_id)
        meta = json.loads((city / "landing" / batch_id / "manifest.json").read_text(encoding="utf-8"))
        assert results[batch_id].sha256 == meta["sha256"]
        assert results[batch_id].logical_date == date.fromisoformat(meta["logical_date"])
        assert results[batch_id].data_bytes == (city / "landing" / batch_id / "data.csv").stat().st_size
        assert results[batch_id].attempts == 2  # manifest + data, no retry
    assert_no_leftovers(landing)
    assert summarize(list(results.values()))["failed"].keys() == {CORRUPT}


def test_pulled_batches_ingest_with_exact_reconciliation(
    province: FakeProvince, store: Engine, city: Path, landing: Path, tmp_path: Path
) -> None:
    import_catalog(store, city / "catalog.csv")
    pull_batches(ProvinceAPI(province.url), landing, **FAST)
    target = sa.create_engine(f"sqlite:///{tmp_path / 'backflow.db'}")
    try:
        results = {r.batch_id: r for r in ingest_landing(store, target, landing)}
        assert {i: r.status for i, r in results.items()} == {**dict.fromkeys(GOOD, "loaded"), SHORT: "rejected"}
        for batch_id in GOOD:
            r = results[batch_id]
            assert r.reconciled and r.declared_rows == r.loaded_rows + r.quarantined_rows > 0
        with target.connect() as conn:
            loads = dict(conn.execute(sa.text("SELECT batch_id, loaded_rows FROM backflow_loads")).all())
        assert loads == {i: results[i].loaded_rows for i in GOOD}
        # The corrupt batch never landed, so ingestion never saw it.
        assert CORRUPT not in {b["batch_id"] for b in list_batches(store)}
    finally:
        target.dispose()


def test_a_refused_pull_becomes_a_rejected_batch_for_the_sender_until_a_good_one_arrives(
    province: FakeProvince, store: Engine, city: Path, landing: Path, tmp_path: Path
) -> None:
    import_catalog(store, city / "catalog.csv")
    target = sa.create_engine(f"sqlite:///{tmp_path / 'backflow.db'}")
    try:
        results = pull_batches(ProvinceAPI(province.url), landing, **FAST)
        assert record_refusals(store, target, results) == [CORRUPT]  # not the transport, not SHORT (landed)
        (batch,) = [b for b in list_batches(store) if b["batch_id"] == CORRUPT]
        assert batch["status"] == "rejected" and "refused" in batch["reason"] and "sha256" in batch["reason"]
        assert batch["sender"] == "江苏省大数据管理中心" and batch["logical_date"] == "2026-11-28"
        assert [(d["status"], d["attempts"]) for d in batch["deliveries"]] == [("rejected", 1)]
        findings = load_findings(store, origin="backflow")
        assert [(f["rule_id"], f["location"], f["department"]) for f in findings if f["location"] == CORRUPT] == [
            ("backflow.batch.rejected", CORRUPT, "江苏省大数据管理中心")
        ]

        # The province resends the batch intact: it lands, loads, and its rejection is gone from the findings.
        manifest = json.loads((city / "landing" / CORRUPT / "manifest.json").read_text(encoding="utf-8"))
        manifest["sha256"] = hashlib.sha256((city / "landing" / CORRUPT / "data.csv").read_bytes()).hexdigest()
        manifest["declared_rows"] = sum(1 for _ in (city / "landing" / CORRUPT / "data.csv").open()) - 1
        (city / "landing" / CORRUPT / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        province.add_batch(city / "landing" / CORRUPT)
        assert by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[CORRUPT].status == "pulled"
        assert by_id(ingest_landing(store, target, landing))[CORRUPT].status == "loaded"
        assert not [f for f in load_findings(store, origin="backflow") if f["location"] == CORRUPT]
    finally:
        target.dispose()


def test_a_second_pull_downloads_nothing_again(province: FakeProvince, landing: Path) -> None:
    pull_batches(ProvinceAPI(province.url), landing, **FAST)
    before = tree(landing)
    data_hits = {i: province.hits(f"batches/{i}/data.csv") for i in GOOD}

    results = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))

    assert {results[i].status for i in [*GOOD, SHORT]} == {"already_landed"}
    assert all(results[i].data_bytes == 0 and results[i].attempts == 1 for i in GOOD)
    assert {i: province.hits(f"batches/{i}/data.csv") for i in GOOD} == data_hits
    assert results[CORRUPT].status == "failed"  # still offered, still wrong, still not landed
    assert tree(landing) == before


def test_date_filter_asks_the_province_for_one_day(province: FakeProvince, landing: Path) -> None:
    results = pull_batches(ProvinceAPI(province.url), landing, logical_date=date(2026, 11, 26), **FAST)
    assert sorted(r.batch_id for r in results) == GOOD[:2]
    assert "/api/batches?date=2026-11-26" in province.requests
    assert sorted(p.name for p in landing.iterdir()) == GOOD[:2]


# --- transient and final HTTP faults ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "503", "reset", "truncate"])
def test_transient_faults_are_retried_and_recover(province: FakeProvince, city: Path, landing: Path, fault: str) -> None:
    batch_id = GOOD[0]
    province.fault(f"batches/{batch_id}/data.csv", fault, times=2)
    province.fault("batches", "500")

    results = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))

    assert results[batch_id].status == "pulled"
    assert results[batch_id].attempts == 4  # manifest once, data three times
    assert province.hits("batches") == 2
    assert tree(landing / batch_id) == tree(city / "landing" / batch_id)
    assert_no_leftovers(landing)


@pytest.mark.parametrize(
    ("fault", "problem", "words", "attempts"),
    [
        ("404", "http_error", "answered 404 Not Found", 1),  # final at once, not retried
        ("500", "http_error", "answered 500", 3),
        ("truncate", "unreachable", "broke off mid-response", 3),
        ("slow", "unreachable", "timed out", 3),
    ],
)
def test_a_batch_that_cannot_be_downloaded_is_reported_and_not_landed(
    province: FakeProvince, landing: Path, fault: str, problem: str, words: str, attempts: int
) -> None:
    batch_id = GOOD[1]
    province.fault(f"batches/{batch_id}/data.csv", fault, times=None)

    started = time.monotonic()
    results = by_id(pull_batches(ProvinceAPI(province.url, timeout=0.3), landing, **FAST))

    failed = results[batch_id]
    assert (failed.status, failed.problem, failed.attempts - 1) == ("failed", problem, attempts)
    assert words in (failed.reason or "") and f"batches/{batch_id}/data.csv" in (failed.reason or "")
    assert not (landing / batch_id).exists()
    assert all(results[i].status == "pulled" for i in GOOD if i != batch_id)  # the others still land
    assert_no_leftovers(landing)
    assert time.monotonic() - started < 10


def test_a_missing_manifest_is_reported(province: FakeProvince, landing: Path) -> None:
    province.fault(f"batches/{GOOD[0]}/manifest.json", "404", times=None)
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert (result.status, result.problem, result.attempts) == ("failed", "http_error", 1)
    assert "manifest.json answered 404" in (result.reason or "")


@pytest.mark.parametrize("fault", ["503", "slow", "404"])
def test_an_unreachable_listing_raises_and_pulls_nothing(province: FakeProvince, landing: Path, fault: str) -> None:
    province.fault("batches", fault, times=None)
    with pytest.raises(ProvinceAPIError, match="cannot list the province's batches") as info:
        pull_batches(ProvinceAPI(province.url, timeout=0.3), landing, **FAST)
    assert "/api/batches" in str(info.value)
    assert not any(landing.iterdir())
    assert province.hits("batches") == (1 if fault == "404" else 3)


def test_a_listing_that_is_not_a_list_raises(province: FakeProvince, landing: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"batches": []})

    with pytest.raises(ProvinceAPIError, match="expects a list"):
        pull_batches(ProvinceAPI("http://province.test/api"), landing, transport=httpx.MockTransport(handler))


# --- what the province must not be able to do ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "problem", "words"),
    [
        ("just a string", "bad_listing_entry", "not an object"),
        ({"batch_id": "../escape", "manifest_url": "m", "data_url": "d"}, "bad_listing_entry", "not a usable folder"),
        ({"batch_id": ".hidden", "manifest_url": "m", "data_url": "d"}, "bad_listing_entry", "not a usable folder"),
        ({"batch_id": "B-1", "data_url": "d"}, "bad_listing_entry", "has no manifest_url"),
        ({"batch_id": "B-3", "manifest_url": "m", "data_url": 7}, "bad_listing_entry", "has no data_url"),
        (
            {"batch_id": "B-2", "manifest_url": "http://evil.example/m", "data_url": "d"},
            "outside_api",
            "points outside the provincial API",
        ),
    ],
)
def test_malformed_listing_entries_are_reported_one_by_one(
    province: FakeProvince, landing: Path, entry: object, problem: str, words: str
) -> None:
    province.extra_entries.append(entry)
    results = pull_batches(ProvinceAPI(province.url), landing, **FAST)
    bad = results[-1]
    assert (bad.status, bad.problem) == ("failed", problem)
    assert words in (bad.reason or "")
    assert sum(r.status == "pulled" for r in results) == 5  # the good ones still land
    assert not (landing.parent / "escape").exists()


def test_a_manifest_for_another_batch_is_refused(province: FakeProvince, landing: Path) -> None:
    province.batches[GOOD[0]].manifest = province.batches[GOOD[1]].manifest
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert (result.status, result.problem) == ("failed", "manifest_invalid")
    assert f"is for batch {GOOD[1]}" in (result.reason or "")
    assert not (landing / GOOD[0]).exists()


def test_an_unusable_manifest_is_refused(province: FakeProvince, landing: Path) -> None:
    province.batches[GOOD[0]].manifest = b'{"batch_id": "JSDSJ-20261126-001"}'
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert (result.status, result.problem) == ("failed", "manifest_invalid")
    assert "missing field(s)" in (result.reason or "")


def test_a_landed_batch_with_other_content_is_left_alone(province: FakeProvince, landing: Path) -> None:
    mine = landing / GOOD[0]
    mine.mkdir(parents=True)
    (mine / "data.csv").write_bytes(b"a,b\n1,2\n")
    (mine / "manifest.json").write_text(
        json.dumps({**json.loads(province.batches[GOOD[0]].manifest), "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest()})
    )
    before = tree(mine)
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert (result.status, result.problem) == ("failed", "conflict")
    assert "new batch id" in (result.reason or "")
    assert tree(mine) == before


def test_an_incomplete_landed_folder_is_replaced_whole(province: FakeProvince, city: Path, landing: Path) -> None:
    broken = landing / GOOD[0]
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_bytes(province.batches[GOOD[0]].manifest)  # no data.csv
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert result.status == "pulled"
    assert tree(broken) == tree(city / "landing" / GOOD[0])
    assert_no_leftovers(landing)


@pytest.mark.parametrize("linked", ["folder", "data"])
def test_a_landed_link_is_replaced_whole_and_what_it_points_to_left_alone(
    province: FakeProvince, city: Path, landing: Path, tmp_path: Path, linked: str
) -> None:
    elsewhere = tmp_path / "elsewhere" / GOOD[0]
    shutil.copytree(city / "landing" / GOOD[0], elsewhere)  # the same batch, outside the landing area
    landing.mkdir(parents=True)
    if linked == "folder":
        (landing / GOOD[0]).symlink_to(elsewhere, target_is_directory=True)
    else:
        (landing / GOOD[0]).mkdir()
        shutil.copyfile(elsewhere / "manifest.json", landing / GOOD[0] / "manifest.json")
        (landing / GOOD[0] / "data.csv").symlink_to(elsewhere / "data.csv")
    before = tree(elsewhere)
    result = by_id(pull_batches(ProvinceAPI(province.url), landing, **FAST))[GOOD[0]]
    assert result.status == "pulled", "a link is not a landed batch (ingestion would refuse it unread)"
    assert not (landing / GOOD[0]).is_symlink() and not (landing / GOOD[0] / "data.csv").is_symlink()
    assert tree(landing / GOOD[0]) == tree(city / "landing" / GOOD[0])
    assert tree(elsewhere) == before
    assert_no_leftovers(landing)


# --- credentials, connections, memory --------------------------------------------------------------------


def test_bearer_token_and_basic_auth(city: Path, landing: Path) -> None:
    with FakeProvince(token="s3cret") as province:
        province.add_batch(city / "landing" / GOOD[0])
        with pytest.raises(ProvinceAPIError, match="401"):
            pull_batches(ProvinceAPI(province.url, token="wrong"), landing, **FAST)
        assert province.hits("batches") == 1  # a 401 is final
        assert [r.status for r in pull_batches(ProvinceAPI(province.url, token="s3cret"), landing, **FAST)] == ["pulled"]
    with FakeProvince(basic=("city", "pw")) as province:
        province.add_batch(city / "landing" / GOOD[1])
        api = ProvinceAPI(province.url, login="city", password="pw")
        assert [r.status for r in pull_batches(api, landing, **FAST)] == ["pulled"]


@pytest.mark.parametrize(
    ("conn", "base"),
    [
        (ConnectionInfo("p", "http", host="data.js.gov.cn", schema="https", port=8443, extra={"base_path": "/backflow/v1/"}),
         "https://data.js.gov.cn:8443/backflow/v1"),
        (ConnectionInfo("p", "http", host="http://127.0.0.1/api", port=9000), "http://127.0.0.1:9000/api"),
        (ConnectionInfo("p", "http", host="province.local"), "http://province.local"),
    ],
)
def test_api_from_an_airflow_http_connection(conn: ConnectionInfo, base: str) -> None:
    api = ProvinceAPI.from_connection(conn)
    assert api.base_url.rstrip("/") == base
    assert str(api.listing_url) == f"{base}/batches"


def test_connection_extras_and_errors() -> None:
    api = ProvinceAPI.from_connection(
        ConnectionInfo(
            "p", "http", host="h", login="u", password="pw",
            extra={"token": "t", "timeout": "5", "verify": "false", "headers": {"X-Caller": "320700"},
                   "attempts": 2, "backoff": 0},
        )
    )
    assert (api.token, api.login, api.password, api.timeout, api.verify, api.headers, api.attempts, api.backoff) == (
        "t", "u", "pw", 5.0, False, {"X-Caller": "320700"}, 2, 0.0
    )
    assert "pw" not in repr(api) and "'t'" not in repr(api)
    with pytest.raises(ValueError, match="has no host"):
        ProvinceAPI.from_connection(ConnectionInfo("p", "http"))


def test_downloads_stream_to_disk_in_bounded_memory(tmp_path: Path, landing: Path) -> None:
    source = tmp_path / "big" / "BIG-1"
    source.mkdir(parents=True)
    line = b"320706199001011234,\xe5\xbc\xa0\xe4\xb8\x89,2026-11-26\n"
    with (source / "data.csv").open("wb") as out:
        out.write(b"sfzhm,xm,cbrq\n")
        for _ in range(30):
            out.write(line * 20_000)  # 22 MB
    digest = hashlib.sha256((source / "data.csv").read_bytes()).hexdigest()
    (source / "manifest.json").write_text(
        json.dumps({"batch_id": "BIG-1", "resource_code": "X", "logical_date": "2026-11-26", "mode": "full",
                    "declared_rows": 600_000, "sha256": digest})
    )
    with FakeProvince() as province:
        province.add_batch(source)
        tracemalloc.start()
        try:
            results = pull_batches(ProvinceAPI(province.url), landing, **FAST)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert [r.status for r in results] == ["pulled"]
    size = (source / "data.csv").stat().st_size
    assert results[0].data_bytes == size > 20 * 2**20
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB while pulling a {size / 2**20:.0f} MiB file"


# --- the command line ------------------------------------------------------------------------------------


def test_govern_backflow_pull(province: FakeProvince, landing: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from citygov.cli import main

    code = main(["backflow", "pull", "--url", province.url, "--landing", str(landing), "--date", "2026-11-28", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # a batch failed
    assert {r["batch_id"]: r["status"] for r in out} == {SHORT: "pulled", CORRUPT: "failed"}
    assert out[1]["problem"] == "checksum_mismatch" and out[0]["logical_date"] == "2026-11-28"

    assert main(["backflow", "pull", "--url", province.url, "--landing", str(landing), "--date", "2026-11-26"]) == 0
    text = capsys.readouterr().out
    assert f"{GOOD[0]}  pulled" in text and f"{GOOD[1]}  pulled" in text


def test_govern_backflow_pull_through_a_connection(
    province: FakeProvince, landing: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from citygov.cli import main

    monkeypatch.setenv(
        "AIRFLOW_CONN_PROVINCE_BACKFLOW_API",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": province.port, "extra": {"base_path": "api"}}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_BACKFLOW_LANDING", json.dumps({"conn_type": "fs", "extra": {"path": str(landing)}}))
    assert main(["backflow", "pull", "--date", "2026-11-27"]) == 0
    assert sorted(p.name for p in landing.iterdir()) == GOOD[2:]
    capsys.readouterr()

    monkeypatch.delenv("AIRFLOW_CONN_PROVINCE_BACKFLOW_API")
    assert main(["backflow", "pull"]) == 2
    assert "connection 'province_backflow_api' is not defined" in capsys.readouterr().out
    province.fault("batches", "404", times=None)
    assert main(["backflow", "pull", "--url", province.url]) == 2
    assert "cannot list the province's batches" in capsys.readouterr().out


def test_a_json_lines_batch_lands_under_the_name_its_manifest_implies(tmp_path: Path, landing: Path) -> None:
    source = tmp_path / "offer" / "JL-1"
    source.mkdir(parents=True)
    data = '{"sfzhm": "320706199001011234", "xm": "张三"}\n'.encode()
    (source / "data.jsonl").write_bytes(data)
    (source / "manifest.json").write_text(
        json.dumps({"batch_id": "JL-1", "resource_code": "X", "logical_date": "2026-11-26", "mode": "incremental",
                    "declared_rows": 1, "sha256": hashlib.sha256(data).hexdigest(), "format": "jsonl"})
    )
    with FakeProvince() as province:
        province.add_batch(source)
        assert [r.status for r in pull_batches(ProvinceAPI(province.url), landing, **FAST)] == ["pulled"]
    assert tree(landing / "JL-1") == tree(source)
