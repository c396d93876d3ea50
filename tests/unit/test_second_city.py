"""The second city's generator (``tests/second_city.py``) is deterministic and its manifest tells the truth: each
planted quality count is what the rule itself finds in the data written, and the traps are there."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from stdnum.cn import ric as stdnum_ric

from citygov.quality import rules
from tests.second_city import AS_OF, PERSON, SecondCity, build_second_city


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SecondCity:
    return build_second_city(tmp_path_factory.mktemp("dh"))


def _column(city: SecondCity, location: str, column: str) -> list:
    folder = city.root / "sources"
    if location.endswith(".csv"):
        return pd.read_csv(folder / "zjj" / location, dtype=str, keep_default_na=False)[column].tolist()
    db = {"czrk": "gaj", "yljg": "wjw", "mzjz": "wjw", "sczt": "scjg", "dlysc": "jtj"}[location]
    with sqlite3.connect(folder / f"{db}.db") as conn:
        return [r[0] for r in conn.execute(f"select {column} from {location}")]


def _dump(root: Path) -> dict[str, object]:
    out: dict[str, object] = {p.name: p.read_bytes() for p in root.rglob("*.csv")}
    for db in (root / "sources").glob("*.db"):
        with sqlite3.connect(db) as conn:
            out[db.name] = list(conn.iterdump())
    return out


def test_the_same_seed_writes_the_same_city(city: SecondCity, tmp_path: Path) -> None:
    again = build_second_city(tmp_path / "again")
    assert _dump(again.root) == _dump(city.root)
    assert again.manifest() == city.manifest()
    assert _dump(build_second_city(tmp_path / "other", seed=1).root) != _dump(city.root)


def test_each_planted_count_is_what_the_rule_finds_in_the_data(city: SecondCity) -> None:
    single = {
        "missing_value": rules.not_blank_problem,
        "invalid_id_number": lambda v: rules.ric_problem(v, as_of=AS_OF),
        "invalid_credit_code": rules.uscc_problem,
        "invalid_mobile": rules.mobile_problem,
        "invalid_plate": rules.plate_problem,
        "unknown_division_code": rules.division_problem,
        "future_date": lambda v: rules.future_date_problem(v, reference_date=AS_OF),
    }
    quality = [d for d in city.defects if d.origin == "quality"]
    assert len(quality) == 10 and len({(d.entry_code, d.column) for d in quality}) == 10
    for d in quality:
        values = _column(city, d.location, d.column)
        if d.kind in single:
            found = sum(1 for v in values if single[d.kind](v) is not None)
        elif d.kind == "duplicate_key":
            found = sum(n for n in Counter(values).values() if n > 1)
        elif d.kind == "id_birthdate_mismatch":
            ids = _column(city, d.location, "gmsfhm")
            found = sum(1 for a, b in zip(ids, values, strict=True) if rules.id_birth_problem(a, b))
        else:  # missing_reference
            base = set(_column(city, "czrk", "gmsfhm"))
            found = sum(1 for v in values if v not in base)
        assert found == d.count, d


def test_the_traps_are_there(city: SecondCity) -> None:
    """Valid old IDs python-stdnum refuses (320703 born before 1983, 15 digits) sit in the people base and among
    legal representatives, where no rule may flag them."""
    for location, column in (("czrk", "gmsfhm"), ("sczt", "fddbrsfzh")):
        values = _column(city, location, column)
        old = [v for v in values if v.startswith("320703") and len(v) == 18 and v[6:10] < "1983"]
        assert len(old) >= 20 and all(rules.ric_problem(v, as_of=AS_OF) is None for v in old)
        assert not any(stdnum_ric.is_valid(v) for v in old)
    fifteen = [v for v in _column(city, "czrk", "gmsfhm") if len(v) == 15]
    assert len(fifteen) == 20 and all(rules.ric_problem(v) is None for v in fifteen)
    assert {d.entry_code for d in city.defects if d.kind == "id_birthdate_mismatch"} == {PERSON}
