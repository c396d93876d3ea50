"""``govern`` at its edges: a reader that closes the pipe early, ids outside what a store key can hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citygov.bounds import ID_MAX
from citygov.cli import EXIT_CLOSED_PIPE, main
from tests.catalog_files import GOOD_ROWS, write_catalog


def _closed_early(args: list[str], tmp_path: Path, *, buffered: bool) -> subprocess.CompletedProcess[str]:
    """Run ``govern args`` with its standard output a pipe whose reader is gone before it writes (what
    ``| head -1`` does to a long output), its output block-buffered (as usual) or not (``PYTHONUNBUFFERED``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update({"CITYGOV_DATA_DIR": str(tmp_path / "data"), **({} if buffered else {"PYTHONUNBUFFERED": "1"})})
    read, write = os.pipe()
    os.close(read)  # nobody will read: the first write the command makes fails with EPIPE
    try:
        process = subprocess.run(
            [sys.executable, "-m", "citygov.cli", *args], stdout=write, stderr=subprocess.PIPE, text=True,
            env=env, timeout=120, check=False,
        )
    finally:
        os.close(write)
    return process


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", ["json", "help"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, command: str, buffered: bool) -> None:
    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, GOOD_ROWS)
    args = ["catalog", "import", str(catalog), "--dry-run", "--json"] if command == "json" else ["disputes", "--help"]
    done = _closed_early(args, tmp_path, buffered=buffered)
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    # argparse drops a help text it cannot write (unbuffered, the write itself fails): then it exits 0
    assert done.returncode == EXIT_CLOSED_PIPE == 141 or (command, buffered) == ("help", False)


ID_COMMANDS = [
    ["disputes", "show", "{id}"],
    ["disputes", "transition", "{id}", "--to", "已受理", "--by", "admin", "--note", "x"],
    ["disputes", "reassign", "{id}", "--unit", "u", "--by", "admin", "--reason", "x"],
    ["disputes", "extend", "{id}", "--by", "admin", "--reason", "x"],
    ["disputes", "flag", "{id}", "--by", "admin", "--note", "x"],
    ["disputes", "locate", "{id}", "--by", "admin"],
    ["disputes", "export", "--id", "{id}"],
]


@pytest.mark.parametrize("value", [str(10**20), str(ID_MAX + 1), "-1", "0", "x", "9" * 5000])
@pytest.mark.parametrize("command", ID_COMMANDS, ids=[" ".join(c[:2]) for c in ID_COMMANDS])
def test_an_id_out_of_range_is_a_clear_error_before_the_store_is_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], value: str
) -> None:
    db = tmp_path / "governance.db"
    with pytest.raises(SystemExit) as exit_:
        main(["--db", f"sqlite:///{db}", *(value if part == "{id}" else part for part in command)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    expected = "is not an id (a whole number)" if value in ("x", "9" * 5000) else f"is out of range: an id is from 1 to {ID_MAX}"
    assert expected in err
    assert len(err) < 2000, "the input is quoted as a short excerpt"
    assert "Traceback" not in err
    assert not db.exists(), "refused before the store was opened"


def test_an_id_in_range_still_reaches_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", f"sqlite:///{tmp_path / 'governance.db'}", "disputes", "show", str(ID_MAX)]) == 2
    assert f"dispute {ID_MAX} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["quality", "docs"], ["quality", "run"]])
def test_a_bad_data_docs_retention_is_a_clear_error_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("CITYGOV_DATA_DOCS_KEEP_DAYS", "a month")
    db = tmp_path / "store.db"
    assert main(["--db", f"sqlite:///{db}", *command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: CITYGOV_DATA_DOCS_KEEP_DAYS='a month'") and "Traceback" not in err
    assert not db.exists()  # refused before the store was opened


def test_an_import_of_thousands_prints_the_first_codes_and_a_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [dict(GOOD_ROWS[0], 信息资源代码=f"320700-GAJ-{i:04d}", 信息资源名称=f"人口基本信息{i}") for i in range(1, 31)]
    write_catalog(tmp_path / "catalog.csv", rows)
    assert main(["--db", f"sqlite:///{tmp_path / 'g.db'}", "catalog", "import", str(tmp_path / "catalog.csv")]) == 0
    out = capsys.readouterr().out
    added = next(line for line in out.splitlines() if line.startswith("  added"))
    assert added.startswith("  added 30: 320700-GAJ-0001, ") and "320700-GAJ-0020" in added and "320700-GAJ-0021" not in added
    assert added.endswith("… and 10 more (--json lists them all)")


def test_catalog_list_searches_and_pages_like_the_catalog_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [dict(GOOD_ROWS[0], 信息资源代码=f"320700-GAJ-{i:04d}", 信息资源名称=f"人口基本信息{i}") for i in range(1, 31)]
    rows.append(dict(GOOD_ROWS[0], 信息资源代码="320700-GAJ-0100", 信息资源名称="100%_完成率"))
    write_catalog(tmp_path / "catalog.csv", rows)
    db = ["--db", f"sqlite:///{tmp_path / 'g.db'}"]
    assert main([*db, "catalog", "import", str(tmp_path / "catalog.csv")]) == 0
    capsys.readouterr()
    assert main([*db, "catalog", "list", "--search", "%_完", "--json"]) == 0
    assert [e["code"] for e in json.loads(capsys.readouterr().out)] == ["320700-GAJ-0100"]  # % and _ taken literally
    assert main([*db, "catalog", "list", "--limit", "5", "--offset", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "5 of 31 catalog entries" and out[1].split()[0] == "320700-GAJ-0011" and len(out) == 6
    assert main([*db, "catalog", "list", "--limit", "0"]) == 2
    assert main([*db, "catalog", "list"]) == 0 and capsys.readouterr().out.startswith("31 catalog entries")
