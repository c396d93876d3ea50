"""Record keys under 可用不可见: a disputed record's key is kept as a keyed hash and a masked form, never
as typed; the responsible unit's officer locates the record in their own source; the secret rotates;
stores from before are migrated."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.cli import main as govern
from citygov.disputes.locate import locate_record
from citygov.disputes.recordkeys import PREVIOUS_ENV, SECRET_ENV, RecordKeySecretError, keyring, protect
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo
from citygov.store import engine_for, upgrade
from tests.catalog_files import GOOD_ROWS, write_catalog
from tests.db_text import every_row
from tests.pg import scratch_database
from tests.store.test_disputes_queue import _prepare  # the same small city and people

GAJ, MZJ = "连云港市公安局", "连云港市民政局"
PERSON = "320700-GAJ-0001"  # 人口基本信息 in dept_gaj.rkjbxx, primary key sfzhm (mask kind ric)
ID = "32070619860101123X"
SECRET_A, SECRET_B = "a" * 20 + "-first-secret", "b" * 20 + "-second-secret"
NOW = datetime(2026, 12, 1, 10, tzinfo=CITY_TZ)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET_A)
    monkeypatch.delenv(PREVIOUS_ENV, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    _prepare(url, tmp_path)
    engine = engine_for(url)
    yield engine
    engine.dispose()


def raise_key(engine: Engine, key: str, by: str = "citizen") -> dq.RaiseResult:
    return dq.raise_dispute(engine, dataset=PERSON, by=by, claim=f"记录 {key} 的出生日期有误", record_key=key, now=NOW)


def test_a_raw_id_number_is_nowhere_a_reader_looks(store: Engine) -> None:
    result = raise_key(store, ID.lower() + " ")
    item = result.dispute
    assert item.record_key == "320706********123X"
    dq.transition(store, item.id, "已受理", by="wang", note="受理", now=NOW)
    seen = [
        every_row(store),
        json.dumps(dq.get_dispute(store, item.id).to_dict(), ensure_ascii=False),
        json.dumps([f.to_dict() for f in dq.list_flags(store)], ensure_ascii=False),
        dq.export_audit(store, "csv"),
        dq.export_audit(store, "json"),
    ]
    for text in seen:
        assert ID not in text.upper(), text
        assert "19860101123" not in text
    hashed = [d for d in every_row(store).splitlines() if d.startswith("disputes:")]
    assert any(keyring().key_id(SECRET_A.encode()) + ":" in line for line in hashed)


def test_the_same_key_typed_differently_joins_one_item(store: Engine) -> None:
    first = raise_key(store, ID)
    again = raise_key(store, f"  {ID.lower()}", by="wang")
    other = raise_key(store, "320706198601011246")
    assert again.deduplicated and again.dispute.id == first.dispute.id and again.dispute.reporters == 2
    assert not other.deduplicated and other.dispute.id != first.dispute.id


def test_rotating_the_secret_keeps_old_items_findable(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    old = raise_key(store, ID).dispute
    monkeypatch.setenv(SECRET_ENV, SECRET_B)
    monkeypatch.setenv(PREVIOUS_ENV, SECRET_A)
    assert raise_key(store, ID).dispute.id == old.id  # matched under the previous secret
    new = raise_key(store, "320706198601011246").dispute
    with store.connect() as conn:
        hashes = dict(conn.execute(sa.text("SELECT id, record_key_hash FROM disputes WHERE record_key_hash IS NOT NULL")).all())
    ring = keyring()
    assert hashes[old.id].startswith(ring.key_id(SECRET_A.encode()) + ":")
    assert hashes[new.id].startswith(ring.key_id(SECRET_B.encode()) + ":")
    monkeypatch.delenv(PREVIOUS_ENV)  # the old secret retired for good: its items no longer match
    assert raise_key(store, ID).dispute.id not in {old.id, new.id}


def test_a_short_secret_is_refused_with_where_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(RecordKeySecretError, match=f"{SECRET_ENV} is 5 characters long; use at least 16"):
        protect(ID)


def test_without_a_setting_a_secret_file_is_made_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv("CITYGOV_RECORD_KEY_SECRET_FILE", str(tmp_path / "secret"))
    first = protect(ID)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert protect(ID) == first


def test_masked_forms_by_kind() -> None:
    assert protect(ID, kinds=["ric"]).display == "320706********123X"  # type: ignore[union-attr]
    assert protect("13812345678").display == "138****5678"  # type: ignore[union-attr]
    assert protect("GZ-2024-01", kinds=["none"]).display == "GZ-2024-01"  # type: ignore[union-attr]
    assert protect("苏G12345", kinds=["none"]).display == "苏G****5"  # identifiers masked even so  # type: ignore[union-attr]
    assert protect("HZ-000123").display == "H*******3"  # type: ignore[union-attr]
    assert protect(f"{ID}, 02", kinds=["ric", "none"]).display == "320706********123X, 02"  # type: ignore[union-attr]
    assert protect("JSDSJ-20261127-001:bad_row", generated=True).display == "JSDSJ-20261127-001:bad_row"  # type: ignore[union-attr]


# --- the record locator ------------------------------------------------------------------------------------


@pytest.fixture
def gaj_source(tmp_path: Path) -> dict[str, ConnectionInfo]:
    path = tmp_path / "gaj.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE rkjbxx (xm TEXT, sfzhm TEXT PRIMARY KEY, csrq TEXT, gxsj TEXT)")
        db.executemany("INSERT INTO rkjbxx VALUES (?, ?, ?, ?)", [
            ("张三", ID, "1986-01-01", "2026-11-30 08:00:00"),
            ("李四", "320706198601011246", "1986-01-01", "2026-11-30 08:00:00"),
        ])
    return {"dept_gaj": ConnectionInfo("dept_gaj", "sqlite", host=str(path))}


def test_the_responsible_officer_locates_the_record(store: Engine, gaj_source: dict[str, ConnectionInfo]) -> None:
    item = raise_key(store, ID.lower()).dispute
    found = locate_record(store, item.id, by="li", connections=gaj_source)
    assert found.matches == [{"key": {"sfzhm": ID}}] and found.scanned == 2
    (event,) = [e for e in dq.get_dispute(store, item.id).events or [] if e.action == "locate"]
    assert event.actor == "li" and event.details == {"matches": 1, "scanned": 2}
    assert ID not in every_row(store)
    for other in ("wang", "zhao", "citizen"):  # the steward, another unit's officer, a consumer
        with pytest.raises(dq.NotPermitted, match=f"only an officer of {GAJ}"):
            locate_record(store, item.id, by=other, connections=gaj_source)


def test_the_locator_reads_a_file_source(store: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "gaj"
    folder.mkdir()
    with (folder / "rkjbxx.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["xm", "sfzhm"], ["王五", "320706198601011246"], ["张三", ID]])
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_entries SET location = 'rkjbxx.csv' WHERE code = :c"), {"c": PERSON})
    item = raise_key(store, ID).dispute
    conns = {"dept_gaj": ConnectionInfo("dept_gaj", "fs", extra={"path": str(folder)})}
    assert locate_record(store, item.id, by="li", connections=conns).matches == [{"key": {"sfzhm": ID}, "row": 2}]
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_entries SET location = '../outside.csv' WHERE code = :c"), {"c": PERSON})
    with pytest.raises(dq.InvalidInput, match="not a file inside the folder"):
        locate_record(store, item.id, by="li", connections=conns)


def test_a_retired_secret_says_how_to_locate_again(
    store: Engine, gaj_source: dict[str, ConnectionInfo], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = raise_key(store, ID).dispute
    monkeypatch.setenv(SECRET_ENV, SECRET_B)
    with pytest.raises(dq.InvalidInput, match=PREVIOUS_ENV):
        locate_record(store, item.id, by="li", connections=gaj_source)
    monkeypatch.setenv(PREVIOUS_ENV, SECRET_A)
    assert len(locate_record(store, item.id, by="li", connections=gaj_source).matches) == 1


def test_govern_disputes_locate(store: Engine, gaj_source: dict[str, ConnectionInfo], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    item = raise_key(store, ID).dispute
    conns = tmp_path / "conns.json"
    conns.write_text(json.dumps({"dept_gaj": gaj_source["dept_gaj"].to_airflow_json()}), encoding="utf-8")
    url = str(store.url.render_as_string(hide_password=False))
    assert govern(["--db", url, "disputes", "locate", str(item.id), "--by", "li", "--connections", str(conns)]) == 0
    assert f"dept_gaj/rkjbxx: sfzhm={ID}" in capsys.readouterr().out
    assert govern(["--db", url, "disputes", "locate", str(item.id), "--by", "wang", "--connections", str(conns)]) == 2
    assert "only an officer of" in capsys.readouterr().err


# --- migrating a store that holds raw keys -----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_existing_raw_keys_are_migrated(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        _check_migration(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)
        return
    with scratch_database("citygov_keys") as url:
        _check_migration(url, tmp_path)


def _check_migration(url: str, tmp: Path) -> None:
    upgrade(url, "0005")
    engine = engine_for(url)
    catalog = tmp / "catalog.csv"
    write_catalog(catalog, GOOD_ROWS)
    import_catalog(engine, catalog)  # the catalog tables are as 0005 left them
    with engine.begin() as conn:  # what 0005's code stored: the key as typed, in the title and the event
        conn.execute(sa.text(
            "INSERT INTO disputes (id, version, fingerprint, origin, entry_code, record_key, rule_id, title, "
            "responsible_unit, status, raised_by, reporters, occurrences, first_seen, last_seen, latest_evidence, "
            "created_at, status_changed_at, due_provisional, extended, escalation_level, reopen_count, flagged) "
            "VALUES (1, 1, 'old', 'consumer', :c, :k, 'consumer.claim', :title, :p, '待受理', 'citizen', 1, 1, "
            ":d, :d, '{}', :t, :t, false, false, 0, 0, false)"
        ), {"c": PERSON, "k": ID, "title": f"异议 dispute: 人口基本信息 ({PERSON}) · record {ID}", "p": GAJ,
            "d": date(2026, 12, 1), "t": NOW})
        conn.execute(sa.text(
            "INSERT INTO dispute_events (dispute_id, at, actor, action, to_status, note, details) "
            "VALUES (1, :t, 'citizen', 'raise', '待受理', '出生日期有误', :details)"
        ), {"t": NOW, "details": json.dumps({"record_key": ID, "column": None})})
    engine.dispose()
    upgrade(url)
    engine = engine_for(url)
    try:
        text = every_row(engine)
        assert ID not in text and "320706********123X" in text
        dq.register_actor(engine, "citizen", "consumer")
        assert raise_key(engine, ID).dispute.id == 1  # the migrated item is found by the key's hash
    finally:
        engine.dispose()
