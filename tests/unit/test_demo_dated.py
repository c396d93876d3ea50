"""The demo city `make demo` and `make up` serve is dated today (`govern demo create --as-of today`), and
`make up` says on start whether the scheduler's day agrees with the city's (`govern demo dated`)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from citygov.commands import main as govern
from citygov.demo import DEFAULT_AS_OF
from citygov.settings import CITY_TZ


def test_the_demo_city_dated_today_and_what_make_up_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    today = datetime.now(CITY_TZ).date()
    assert govern(["demo", "create", "--out", str(tmp_path / "today"), "--as-of", "today"]) == 0
    assert json.loads((tmp_path / "today" / "defects.json").read_text(encoding="utf-8"))["as_of"] == today.isoformat()
    capsys.readouterr()
    assert govern(["demo", "dated", "--dir", str(tmp_path / "today")]) == 0
    assert capsys.readouterr().out.startswith(f"demo city dated {today.isoformat()} (today)")

    assert govern(["demo", "create", "--out", str(tmp_path / "fixed")]) == 0  # the tests' fixed day
    capsys.readouterr()
    assert govern(["demo", "dated", "--dir", str(tmp_path / "fixed")]) == 0
    said = capsys.readouterr().out
    assert f"demo city dated {DEFAULT_AS_OF.isoformat()}, today is {today.isoformat()}" in said
    assert "run make demo again" in said
