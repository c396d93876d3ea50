"""PostgreSQL's fast backflow path (:mod:`citygov.backflow.pgfast`) loads and quarantines exactly what the
general path (staging table, per-record checks) does, row for row and reason for reason.

One batch with every kind of row fault (field counts, blank lines, whitespace-only and empty fields,
values that need canonical form, bad types, failing expectations, repeated keys within a block and
across blocks, long values) is loaded twice into fresh PostgreSQL targets: once by the fast path, with
tiny blocks so that every block boundary is crossed, and once with the fast path switched off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import copybin, ingest_landing, pgfast
from citygov.identifiers import make_ric
from tests.pg import scratch_database
from tests.store.test_backflow import sample_rows, to_csv, write_batch

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> dict[str, int]:
    """Wrap ``owner.name`` so that its calls are counted (in ``["n"]`` of the returned dict)."""
    calls = {"n": 0}
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture
def targets() -> Iterator[tuple[Engine, Engine]]:
    with scratch_database("citygov_fast") as fast_url, scratch_database("citygov_slow") as slow_url:
        fast, slow = sa.create_engine(fast_url), sa.create_engine(slow_url)
        yield fast, slow
        fast.dispose()
        slow.dispose()


def _batch(city: Path) -> tuple[bytes, int]:
    header, rows = sample_rows(city, 40)
    col = {name: i for i, name in enumerate(header)}
    rows = [list(r) for r in rows]
    rows[1] = [*rows[1], "surplus"]
    rows[2] = rows[2][:-1]
    rows[3][col["cbrq"]] = "2024-13-45"
    rows[4][col["sfzhm"]] = ""
    rows[5] = list(rows[0])  # a repeated key in the same block
    rows[6][col["cbrq"]] = "2024/01/05"  # good once canonical
    rows[7][col["tbsj"]] = "2026-11-26T02:53:02"
    rows[8][col["xm"]] = "   "  # whitespace only: NULL, then not blank fails
    rows[9][col["xzlx"]] = " 110"  # not in the value set
    rows[10][col["sfzhm"]] = rows[10][col["sfzhm"]][:17] + ("0" if rows[10][col["sfzhm"]][17] != "0" else "1")
    rows[11][col["cbdq"]] = "329999"
    rows[12][col["xm"]] = "名" * 40  # longer than the vectorized matrix
    rows[13][col["cbrq"]] = ""  # NULL date: not blank fails
    rows[14][col["tbsj"]] = "2026-11-26 02:53:02+00:00"
    rows[15][col["cbrq"]] = "2030-01-01"  # in the future
    rows[16][col["sfzhm"]] = make_ric("320706", __import__("datetime").date(1990, 1, 2), 7).lower()
    rows[38] = list(rows[20])  # a repeated key many blocks later
    rows[39][col["xzlx"]] = "210"
    lines = [",".join(r) for r in rows]
    lines.insert(18, "")  # a blank line and one of empty fields: not records
    lines.insert(25, ",,,,,")
    text = to_csv(header, []) + "\n".join(lines) + "\n"
    return text.encode("utf-8"), len(rows)


def _quarantine(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT line, reason_code, column_name, reason, record FROM backflow_quarantine ORDER BY line"
        )).all()
    return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def _table(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT * FROM "hl_sbcbxx"')).mappings().all()
    return sorted(tuple(str(v) for k, v in r.items() if k != "_batch_id") for r in rows)


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_fast_path_loads_and_quarantines_like_the_general_path(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    data, records = _batch(city)
    fast_target, slow_target = targets
    monkeypatch.setattr(pgfast, "BLOCK", 300)  # a few lines per block
    runs = count_calls(monkeypatch, pgfast.FastLoad, "run")
    write_batch(tmp_path / "fast", "FAST-001", data, declared=records, mode=mode)
    (fast,) = ingest_landing(governed, fast_target, tmp_path / "fast")
    assert runs["n"] == 1, "the batch took the fast path"

    monkeypatch.setattr(pgfast, "eligible", lambda *args: False)
    write_batch(tmp_path / "slow", "SLOW-001", data, declared=records, mode=mode)
    (slow,) = ingest_landing(governed, slow_target, tmp_path / "slow")
    assert runs["n"] == 1

    assert fast.status == slow.status == "loaded", (fast.reason, slow.reason)
    assert (fast.loaded_rows, fast.quarantined_rows) == (slow.loaded_rows, slow.quarantined_rows)
    assert fast.loaded_rows + fast.quarantined_rows == records
    assert fast.quarantined_rows == 12
    assert _quarantine(fast_target) == _quarantine(slow_target)
    assert _table(fast_target) == _table(slow_target)
    codes = {q[1] for q in _quarantine(fast_target)}
    assert {"field_count", "bad_value", "missing_key", "duplicate_key"} <= codes
    with fast_target.connect() as conn:  # the full load rebuilt the primary key it dropped for the COPY
        keys = sa.inspect(conn).get_pk_constraint("hl_sbcbxx")["constrained_columns"]
        collations = dict(conn.execute(sa.text(
            "SELECT column_name, collation_name FROM information_schema.columns WHERE table_name = 'hl_sbcbxx' "
            "AND data_type = 'text'"
        )).all())
    assert sorted(keys) == ["sfzhm", "xzlx"]
    assert collations["sfzhm"] == collations["xzlx"] == "C", "key text compares bytewise"
    assert collations["xm"] != "C"


def test_fast_path_reload_replaces_a_full_dataset(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path
) -> None:
    data, records = _batch(city)
    target = targets[0]
    write_batch(tmp_path / "landing", "FULL-001", data, declared=records, mode="full")
    write_batch(tmp_path / "landing", "FULL-002", data, declared=records, mode="full", logical_date="2026-11-30")
    results = ingest_landing(governed, target, tmp_path / "landing")
    assert [r.status for r in results] == ["loaded", "loaded"]
    with target.connect() as conn:
        held = dict(conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_sbcbxx" GROUP BY 1')).all())
    assert held == {"FULL-002": results[1].loaded_rows}


def _unique_batch(city: Path) -> tuple[bytes, int]:
    """The faulty batch without its two repeated keys."""
    data, records = _batch(city)
    lines = data.decode("utf-8").split("\n")
    # data lines 6 and 39 (rows 5 and 38) repeat rows 0 and 20: give them keys of rows not in the batch
    _header, more = sample_rows(city, 42)
    for at, extra in ((6, more[40]), (41, more[41])):  # the blank lines inserted at 18 and 25 shift line 39
        lines[at] = ",".join(extra)
    return "\n".join(lines).encode("utf-8"), records


@pytest.mark.parametrize(("build", "attempts"), [(_unique_batch, 1), (_batch, 2)])
def test_full_load_proves_keys_unique_with_the_rebuilt_primary_key(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    build: Any, attempts: int,
) -> None:
    """A full load skips the key hashes and lets the rebuilt primary key prove the keys unique; a repeated
    key rolls that attempt back and the batch goes again with the hashes, with the general path's result."""
    data, records = build(city)
    fast_target, slow_target = targets
    monkeypatch.setattr(pgfast, "BLOCK", 300)
    runs = count_calls(monkeypatch, pgfast.FastLoad, "_run")
    hashes = count_calls(monkeypatch, pgfast, "key_hashes")
    write_batch(tmp_path / "fast", "FAST-001", data, declared=records, mode="full")
    (fast,) = ingest_landing(governed, fast_target, tmp_path / "fast")
    assert runs["n"] == attempts
    assert (hashes["n"] > 0) is (attempts == 2), "key hashes only on the second attempt"

    monkeypatch.setattr(pgfast, "eligible", lambda *args: False)
    write_batch(tmp_path / "slow", "SLOW-001", data, declared=records, mode="full")
    (slow,) = ingest_landing(governed, slow_target, tmp_path / "slow")

    assert fast.status == slow.status == "loaded", (fast.reason, slow.reason)
    assert (fast.loaded_rows, fast.quarantined_rows) == (slow.loaded_rows, slow.quarantined_rows)
    assert fast.loaded_rows + fast.quarantined_rows == records
    assert _quarantine(fast_target) == _quarantine(slow_target)
    assert _table(fast_target) == _table(slow_target)
    repeats = [q for q in _quarantine(fast_target) if q[1] == "duplicate_key"]
    assert len(repeats) == (2 if attempts == 2 else 0)
    with fast_target.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM backflow_quarantine")).scalar() == fast.quarantined_rows
        keys = sa.inspect(conn).get_pk_constraint("hl_sbcbxx")["constrained_columns"]
    assert sorted(keys) == ["sfzhm", "xzlx"]


def test_full_load_into_a_table_without_its_key_still_finds_repeats(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path
) -> None:
    """No primary key to prove the keys unique (a table made elsewhere): the key hashes find the repeats."""
    target = targets[0]
    data, records = _unique_batch(city)
    write_batch(tmp_path / "landing", "FULL-001", data, declared=records, mode="full")
    ingest_landing(governed, target, tmp_path / "landing")
    with target.begin() as conn:
        conn.exec_driver_sql('ALTER TABLE "hl_sbcbxx" DROP CONSTRAINT "hl_sbcbxx_pkey"')
    data, records = _batch(city)
    write_batch(tmp_path / "next", "FULL-002", data, declared=records, mode="full", logical_date="2026-11-30")
    (result,) = ingest_landing(governed, target, tmp_path / "next")
    assert result.status == "loaded", result.reason
    assert result.loaded_rows + result.quarantined_rows == records
    with target.connect() as conn:
        repeats = conn.execute(sa.text(
            "SELECT line, reason FROM backflow_quarantine WHERE batch_id = 'FULL-002' AND reason_code = 'duplicate_key' "
            "ORDER BY line"
        )).all()
        held = conn.execute(sa.text('SELECT count(*), count(DISTINCT (sfzhm, xzlx)) FROM "hl_sbcbxx"')).one()
    assert len(repeats) == 2 and all("repeats line" in reason for _line, reason in repeats)
    assert held[0] == held[1] == result.loaded_rows


def test_full_load_into_a_referenced_table_finds_repeats_during_the_copy(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table other tables reference keeps its primary key through the load: a repeat fails the COPY
    itself, and the batch goes again with the key hashes."""
    target = targets[0]
    data, records = _unique_batch(city)
    write_batch(tmp_path / "landing", "FULL-001", data, declared=records, mode="full")
    ingest_landing(governed, target, tmp_path / "landing")
    with target.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "claims" (sfzhm text, xzlx text, '
                             'FOREIGN KEY (sfzhm, xzlx) REFERENCES "hl_sbcbxx" (sfzhm, xzlx))')
    data, records = _batch(city)
    attempts = count_calls(monkeypatch, pgfast.FastLoad, "_run")
    write_batch(tmp_path / "next", "FULL-002", data, declared=records, mode="full", logical_date="2026-11-30")
    (result,) = ingest_landing(governed, target, tmp_path / "next")
    assert result.status == "loaded", result.reason
    assert attempts["n"] == 2
    assert result.loaded_rows + result.quarantined_rows == records
    with target.connect() as conn:
        repeats = conn.execute(sa.text(
            "SELECT count(*) FROM backflow_quarantine WHERE batch_id = 'FULL-002' AND reason_code = 'duplicate_key'"
        )).scalar()
        held = conn.execute(sa.text('SELECT count(*), min("_batch_id") FROM "hl_sbcbxx"')).one()
    assert repeats == 2
    assert tuple(held) == (result.loaded_rows, "FULL-002")


def _heap_keys(engine: Engine) -> list[tuple[str, str]]:
    """The key of each row of the resource table in the order the rows lie in the heap (as COPYed)."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text('SELECT sfzhm, xzlx FROM "hl_sbcbxx" ORDER BY ctid')).all()]


def _bytewise(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(keys, key=lambda k: tuple(v.encode("utf-8") for v in k))


def test_a_full_load_sends_its_rows_in_key_order(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows go in the byte order of the primary key (the rebuilt key then finds them sorted), over many
    blocks; in file order when that needs more memory than SORT_MEMORY or the key is not collated "C"."""
    target = targets[0]
    header, rows = sample_rows(city, 60)
    monkeypatch.setattr(pgfast, "BLOCK", 300)
    write_batch(tmp_path / "sample", "SAMPLE", to_csv(header, rows).encode("utf-8"), declared=len(rows), mode="full")
    ingest_landing(governed, target, tmp_path / "sample")
    with target.connect() as conn:  # the demo city planted faults in the sample: keep the rows that load
        refused = set(conn.execute(sa.text("SELECT line - 2 FROM backflow_quarantine")).scalars())
    rows = [r for i, r in enumerate(rows) if i not in refused]
    col = {name: i for i, name in enumerate(header)}
    file_order = [(r[col["sfzhm"]], r[col["xzlx"]]) for r in rows]
    assert file_order != _bytewise(file_order), "the sample must not be sorted already"
    data = to_csv(header, rows).encode("utf-8")

    def load(batch_id: str, day: str) -> list[tuple[str, str]]:
        write_batch(tmp_path / batch_id, batch_id, data, declared=len(rows), mode="full", logical_date=day)
        (result,) = ingest_landing(governed, target, tmp_path / batch_id)
        assert (result.status, result.loaded_rows) == ("loaded", len(rows)), result.reason
        return _heap_keys(target)

    assert load("ORDER-001", "2026-11-27") == _bytewise(file_order)
    needs = len(data) + len(rows) * copybin.KEY_BYTES_PER_LINE
    monkeypatch.setattr(pgfast, "SORT_MEMORY", needs - 1)
    assert load("ORDER-002", "2026-11-28") == file_order
    monkeypatch.setattr(pgfast, "SORT_MEMORY", needs)
    assert load("ORDER-003", "2026-11-29") == _bytewise(file_order)
    monkeypatch.setenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", "0")  # the admin's setting: off
    assert load("ORDER-0031", "2026-11-29") == file_order
    monkeypatch.setenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", "1")
    assert load("ORDER-0032", "2026-11-29") == _bytewise(file_order)
    monkeypatch.delenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB")
    with target.begin() as conn:  # a key collated otherwise sorts otherwise: the bytes' order would not help
        conn.exec_driver_sql('ALTER TABLE "hl_sbcbxx" ALTER COLUMN sfzhm TYPE text COLLATE "und-x-icu"')
    assert load("ORDER-004", "2026-11-30") == file_order


def _append_half_a_line(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"320706199001020077,half a line")


def _rewrite_same_size(path: Path) -> None:
    """One digit of a timestamp changed in place: same size, same shape, every line still valid."""
    data = bytearray(path.read_bytes())
    at = data.rindex(b":") - 1
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("change", [_append_half_a_line, _rewrite_same_size], ids=["appended", "same-size"])
@pytest.mark.parametrize("sort_memory", [pgfast.SORT_MEMORY, 0], ids=["key-order", "file-order"])
def test_a_data_file_changed_after_its_verification_is_rejected_whole(
    governed: Engine, targets: tuple[Engine, Engine], city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    sort_memory: int, change: Any,
) -> None:
    """The sender rewrites the file between the checks and the load: the load hashes what it reads, refuses
    the file with a clear reason, rolls back, and nothing of it lands."""
    target = targets[0]
    data, records = _unique_batch(city)
    folder = write_batch(tmp_path / "landing", "CHANGED-001", data, declared=records, mode="full")
    monkeypatch.setattr(pgfast, "SORT_MEMORY", sort_memory)
    real_eligible = pgfast.eligible

    def eligible_then_changed(*args: Any) -> bool:
        verdict = real_eligible(*args)
        change(folder / "data.csv")
        return verdict

    monkeypatch.setattr(pgfast, "eligible", eligible_then_changed)
    (result,) = ingest_landing(governed, target, tmp_path / "landing")
    assert result.status == "rejected"
    assert "changed while it was being loaded" in (result.reason or "")
    with target.connect() as conn:
        assert not sa.inspect(conn).has_table("hl_sbcbxx") or conn.execute(
            sa.text('SELECT count(*) FROM "hl_sbcbxx"')).scalar() == 0
