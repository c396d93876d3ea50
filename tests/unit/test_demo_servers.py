"""Placing the demo's database departments on engines (``govern demo create --engines``), without servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from citygov.demo import DEPARTMENTS, PROVINCE, create_demo_city
from citygov.demo.servers import check_prefix, parse_engines, place_departments


def test_engines_are_parsed_in_order_with_aliases() -> None:
    assert parse_engines("sqlite, PostgreSQL,mariadb") == ("sqlite", "postgresql", "mysql")
    assert parse_engines(["pg", "sqlite", "sqlite"]) == ("postgresql", "sqlite", "sqlite")
    for bad in ("oracle", "", "sqlite,,mysql"):
        with pytest.raises(ValueError, match="engine"):
            parse_engines(bad)


def test_departments_are_dealt_round_robin_in_department_order() -> None:
    placement = place_departments((*DEPARTMENTS, PROVINCE), ("sqlite", "postgresql", "mysql"))
    assert placement == {
        "gaj": "sqlite", "scjgj": "postgresql", "rsj": "mysql", "mzj": "sqlite",
        "wjw": "postgresql", "zrzyj": "mysql", "sdsj": "sqlite",
    }
    assert set(place_departments((*DEPARTMENTS, PROVINCE), ("sqlite",)).values()) == {"sqlite"}


@pytest.mark.parametrize("prefix", ["citygov_demo", "x1"])
def test_plain_prefixes_are_accepted(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "Demo", "1demo", 'x"; DROP DATABASE y; --', "a" * 42])
def test_other_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        check_prefix(prefix)


def test_an_unreachable_server_stops_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "city"
    with pytest.raises(ConnectionError, match="5999.*scjgj"):
        create_demo_city(
            out,
            engines="sqlite,postgresql",
            server_urls={"postgresql": "postgresql+psycopg://postgres@127.0.0.1:5999/postgres"},
        )
    assert not out.exists()


def test_the_default_city_is_all_sqlite(tmp_path: Path) -> None:
    city = create_demo_city(tmp_path / "city")
    assert set(city.placement.values()) == {"sqlite"}
    assert all((city.sources_dir / f"{key}.db").is_file() for key in city.placement)
