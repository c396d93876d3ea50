"""``govern kpis`` reads the served city's connections without ``--connections``: with no city active and
the embedded store, the demo city's (``data/demo``, what ``make demo`` writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citygov.commands import main as govern
from citygov.demo import DEFAULT_AS_OF, create_demo_city


def _kpis(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, dict]:
    assert govern(["kpis", "--json", "--date", DEFAULT_AS_OF.isoformat(), *extra]) == 0
    return json.loads(capsys.readouterr().out)["kpis"]


def test_kpis_read_the_demo_citys_connections_untold(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYGOV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITYGOV_CITY_ENV", "")  # no active city: the embedded store, the demo's
    for name in ("GOVERNANCE_DB_URL", "CITYGOV_CONNECTIONS_FILE", "CITYGOV_CITY_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    city = create_demo_city(tmp_path / "data" / "demo").root

    untold = _kpis(capsys)
    told = _kpis(capsys, "--connections", str(city / "connections.json"))
    assert untold == told
    assert not [k for k in untold.values() if "connection" in str(k.get("error") or "")], untold

    # Without the demo city there is nothing to read, and the KPIs say which connection is missing.
    (city / "connections.json").unlink()
    missing = [k for k in _kpis(capsys).values() if "connection" in str(k.get("error") or "")]
    assert len(missing) == 2, missing
