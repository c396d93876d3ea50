"""Backflow reads only regular files inside the landing area.

A batch folder that is a link, or holding a link (to a file outside the landing area, to a system file,
to another batch's file), a directory, a FIFO or anything else that is not a regular file, is rejected
whole with a reason naming the entry; nothing of it is loaded and no byte of a refused file reaches a
reason, a finding, a dispute item or any table. A file swapped for a link after verification is refused
when the load opens it (on the general path and on PostgreSQL's fast path). A hard link is a regular
file: it is read like any other (it names the same file as its other names; Linux's protected_hardlinks
lets a sender link only files they own).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import ingest_landing, pgfast, scan_landing, verify
from citygov.backflow import stage as backflow_stage
from citygov.disputes.routing import route_findings
from citygov.findings import load_findings
from tests.db_text import every_row
from tests.pg import scratch_database
from tests.store.test_backflow import _date, sample_rows, to_csv, write_batch

DAY = "2026-11-29"
ONLY_REGULAR = "only regular files inside the landing area are read"


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail instead of hanging (a reader blocked on a FIFO waits for a writer forever)."""

    def timeout(*_: Any) -> None:
        raise TimeoutError("the ingestion hung")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def good_csv(city: Path, n: int = 6) -> bytes:
    header, rows = sample_rows(city, n)
    return to_csv(header, rows).encode()


def loaded(target: Engine, batch_id: str) -> int:
    with target.connect() as conn:
        if not sa.inspect(conn).has_table("hl_sbcbxx"):
            return 0
        return conn.execute(sa.text('SELECT count(*) FROM "hl_sbcbxx" WHERE "_batch_id" = :b'), {"b": batch_id}).scalar()


# --- what a landing folder may hold ----------------------------------------------------------------------


def _data_link_outside(landing: Path, outside: Path, data: bytes) -> None:
    (outside / "data.csv").write_bytes(data)
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "data.csv").unlink()
    (folder / "data.csv").symlink_to(outside / "data.csv")


def _data_link_inside(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "data.csv").unlink()
    (folder / "data.csv").symlink_to(landing / "GOOD-001" / "data.csv")


def _manifest_link(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "manifest.json").rename(outside / "manifest.json")
    (folder / "manifest.json").symlink_to(outside / "manifest.json")


def _folder_link(landing: Path, outside: Path, data: bytes) -> None:
    real = write_batch(outside, "BAD-001", data, declared=6)
    (landing / "BAD-001").symlink_to(real, target_is_directory=True)


def _other_entry_link(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (outside / "notes.txt").write_text("a note\n")
    (folder / "notes.txt").symlink_to(outside / "notes.txt")


def _fifo(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "data.csv").unlink()
    os.mkfifo(folder / "data.csv")


def _directory(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "data.csv").unlink()
    (folder / "data.csv").mkdir()
    (folder / "data.csv" / "x").write_bytes(data)


def _subfolder(landing: Path, outside: Path, data: bytes) -> None:
    folder = write_batch(landing, "BAD-001", data, declared=6)
    (folder / "extra").mkdir()


REFUSED: dict[str, tuple[Callable[[Path, Path, bytes], None], str]] = {
    "data_link_outside": (_data_link_outside, "BAD-001/data.csv is a symbolic link"),
    "data_link_inside": (_data_link_inside, "BAD-001/data.csv is a symbolic link"),
    "manifest_link": (_manifest_link, "BAD-001/manifest.json is a symbolic link"),
    "folder_link": (_folder_link, "BAD-001 is a symbolic link"),
    "other_entry_link": (_other_entry_link, "BAD-001/notes.txt is a symbolic link"),
    "fifo": (_fifo, "BAD-001/data.csv is a named pipe (FIFO)"),
    "directory": (_directory, "BAD-001/data.csv is a directory"),
    "subfolder": (_subfolder, "BAD-001/extra is a directory"),
}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_anything_but_a_regular_file_refuses_the_batch_whole(
    governed: Engine, target: Engine, city: Path, tmp_path: Path, no_hang: None, case: str
) -> None:
    build, words = REFUSED[case]
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    outside.mkdir()
    header, rows = sample_rows(city, 12)
    write_batch(landing, "GOOD-001", to_csv(header, rows[6:]).encode(), declared=6)
    build(landing, outside, to_csv(header, rows[:6]).encode())

    results = {r.batch_id: r for r in ingest_landing(governed, target, landing, logical_date=_date(DAY))}
    assert results["GOOD-001"].status == "loaded" and loaded(target, "GOOD-001") == 6
    bad = results["BAD-001"]
    assert bad.status == "rejected", bad.reason
    assert {p.code for p in bad.problems} == {"not_regular_file"}
    assert f"{words}; {ONLY_REGULAR}" in (bad.reason or "")
    assert loaded(target, "BAD-001") == 0 and bad.loaded_rows == 0
    findings = load_findings(governed, origin="backflow")
    assert [(f["rule_id"], f["record_key"]) for f in findings] == [("backflow.batch.rejected", "BAD-001")]


SECRET = "root:SECRET-7f3a9c-do-not-copy:0:0:root:/root:/bin/bash"


def _secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n", encoding="utf-8")
    return path


def _system_file(tmp_path: Path) -> Path:
    path = Path("/etc/passwd")
    if not os.access(path, os.R_OK):
        pytest.skip("no readable /etc/passwd")
    return path


@pytest.mark.parametrize("linked", [_secret_file, _system_file], ids=["secret_file", "etc_passwd"])
def test_a_link_to_a_system_file_is_never_read(
    governed: Engine, target: Engine, city: Path, tmp_path: Path, linked: Callable[[Path], Path]
) -> None:
    secret_path = linked(tmp_path)
    secret = secret_path.read_bytes()
    lines = [line for line in secret.decode("utf-8", "replace").splitlines()[:3] if line]
    landing = tmp_path / "landing"
    # The manifest matches the linked file, so only the link itself can refuse it.
    folder = write_batch(landing, "BAD-001", secret, declared=2)
    (folder / "data.csv").unlink()
    (folder / "data.csv").symlink_to(secret_path)

    (result,) = ingest_landing(governed, target, landing)
    assert result.status == "rejected"
    assert f"BAD-001/data.csv is a symbolic link; {ONLY_REGULAR}" in (result.reason or "")
    route_findings(governed, origin="backflow", logical_date=_date(DAY))
    findings = load_findings(governed, origin="backflow")
    assert [f["rule_id"] for f in findings] == ["backflow.batch.rejected"]
    everything = "\n".join([every_row(governed), every_row(target), json.dumps(findings, ensure_ascii=False, default=str)])
    assert "is a symbolic link" in everything  # the dump holds the reason (and the dispute item)
    for line in lines:
        assert line not in everything


def test_a_hard_link_inside_the_landing_area_is_a_regular_file(
    governed: Engine, target: Engine, city: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    data = good_csv(city)
    first = write_batch(landing, "HARD-001", data, declared=6)
    second = write_batch(landing, "HARD-002", data, declared=6)
    (second / "data.csv").unlink()
    os.link(first / "data.csv", second / "data.csv")
    results = {r.batch_id: r for r in ingest_landing(governed, target, landing)}
    assert {b: (r.status, r.loaded_rows) for b, r in results.items()} == {
        "HARD-001": ("loaded", 6), "HARD-002": ("loaded", 6)
    }


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_scan_and_verify_never_follow_a_link(governed: Engine, city: Path, tmp_path: Path) -> None:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    real = write_batch(outside, "LINKED-001", good_csv(city), declared=6)
    landing.mkdir()
    (landing / "LINKED-001").symlink_to(real, target_is_directory=True)
    (batch,) = scan_landing(landing)
    assert batch.batch_id == "LINKED-001" and batch.manifest is None
    assert f"LINKED-001 is a symbolic link; {ONLY_REGULAR}" in (batch.manifest_error or "")
    assert [p.code for p in verify(batch, None)] == ["not_regular_file"]


# --- a file swapped for a link after its verification ----------------------------------------------------


def _swap_for_link(folder: Path, outside: Path) -> None:
    """Replace the batch's data.csv with a link to a copy outside the landing area (same bytes)."""
    shutil.copyfile(folder / "data.csv", outside / "data.csv")
    (folder / "data.csv").unlink()
    (folder / "data.csv").symlink_to(outside / "data.csv")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_link_swapped_in_after_verification_is_refused_on_the_general_path(
    governed: Engine, city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    outside.mkdir()
    folder = write_batch(landing, "SWAP-001", good_csv(city), declared=6)
    real = backflow_stage.create_stage

    def swapping(*args: Any, **kwargs: Any) -> Any:
        _swap_for_link(folder, outside)
        return real(*args, **kwargs)

    monkeypatch.setattr(backflow_stage, "create_stage", swapping)
    target = sa.create_engine(f"sqlite:///{tmp_path / 'backflow.db'}")
    try:
        (result,) = ingest_landing(governed, target, landing)
        assert result.status == "rejected", result.reason
        assert f"SWAP-001/data.csv is a symbolic link; {ONLY_REGULAR}" in (result.reason or "")
        assert loaded(target, "SWAP-001") == 0
    finally:
        target.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_link_swapped_in_after_verification_is_refused_on_the_fast_path(
    governed: Engine, city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    outside.mkdir()
    folder = write_batch(landing, "SWAP-001", good_csv(city), declared=6, mode=mode)
    real = pgfast.FastLoad.run
    runs = []

    def swapping(self: pgfast.FastLoad) -> Any:
        runs.append(mode)
        _swap_for_link(folder, outside)
        return real(self)

    monkeypatch.setattr(pgfast.FastLoad, "run", swapping)
    with scratch_database("citygov_links") as url:
        target = sa.create_engine(url)
        try:
            (result,) = ingest_landing(governed, target, landing)
            assert runs == [mode], "the batch took the fast path"
            assert result.status == "rejected", result.reason
            assert f"SWAP-001/data.csv is a symbolic link; {ONLY_REGULAR}" in (result.reason or "")
            assert loaded(target, "SWAP-001") == 0
        finally:
            target.dispose()


def test_manifest_digest_of_a_refused_file_is_not_recomputed(tmp_path: Path) -> None:
    """The reason quotes the manifest's declared sha256 at most, never one computed over a refused file."""
    secret = _secret_file(tmp_path)
    landing = tmp_path / "landing"
    folder = write_batch(landing, "BAD-001", b"x", declared=1)
    (folder / "data.csv").unlink()
    (folder / "data.csv").symlink_to(secret)
    (batch,) = scan_landing(landing)
    problems = verify(batch, None)
    assert hashlib.sha256(secret.read_bytes()).hexdigest()[:12] not in json.dumps([p.to_dict() for p in problems])
