"""The dispute queue end to end on the demo city (SQLite and PostgreSQL), through the core and the CLI.

After the catalog import, the census and the patrol of the demo's date, the queue holds one item per
planted defect those checks detect, each with the right responsible department. Fixing a defect in its
source and patrolling again verifies its item; breaking it again reopens it; claiming a fix that was not
made reopens the item at the next patrol; the audit export shows every step.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.census import register_sources, run_census
from citygov.cli import main as govern
from citygov.demo import DEFAULT_AS_OF
from citygov.patrol import patrol_batch, plan_batches
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo, connections_from_file
from tests.demo_expectations import KIND_RULES

RSJ = "连云港市人力资源和社会保障局"
PROBLEM = {"census.resource_missing": "resource.missing", "patrol.resource.missing": "resource.missing"}


def nightly(engine: Engine, conns: dict[str, ConnectionInfo], day, *, census: bool = False) -> dq.RoutingReport:  # type: ignore[no-untyped-def]
    """The night's checks, then the dispute_routing pass (at 03:00 Beijing time)."""
    if census:
        run_census(engine, conns.get, day)
    for batch in plan_batches(engine, 7):
        patrol_batch(engine, batch, conns.get, day)
    return dq.route_findings(engine, now=datetime.combine(day, time(3), tzinfo=CITY_TZ))


def planted(city: Path) -> set[tuple[str, str | None, str | None, str | None, str]]:
    """(problem, dataset, resource, column, responsible unit) of every defect the catalog import, the
    census and the patrol detect, from defects.json, the catalog file and the connections."""
    defects = json.loads((city / "defects.json").read_text(encoding="utf-8"))["defects"]
    rows = list(csv.DictReader(io.StringIO((city / "catalog.csv").read_bytes().decode("gbk"))))
    provider = {r["信息资源代码"]: r["信息资源提供方"] for r in rows}
    department = {c.conn_id: c.department for c in connections_from_file(city / "connections.json").values()}
    out = set()
    for d in defects:
        if d["kind"] == "catalog_row_rejected":
            out.add(("catalog.row_rejected", d["entry_code"], None, d["column"], provider[d["entry_code"]]))
            continue
        for _origin, rule, keep_column in KIND_RULES.get(d["kind"], [])[:1]:
            if rule == "census.uncatalogued":
                out.add((rule, None, d["resource"], None, department[d["conn_id"]]))
            else:
                column = d["column"] if keep_column else None
                out.add((PROBLEM.get(rule, rule), d["entry_code"], d["resource"], column, provider[d["entry_code"]]))
    return out


def test_demo_city_defects_flow_through_the_queue(store: Engine, store_url: str, city: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    conns = connections_from_file(city / "connections.json")
    import_catalog(store, city / "catalog.csv")
    register_sources(store, [(c.conn_id, c.department, "folder" if c.is_folder else "database")
                             for c in conns.values() if c.department])
    dq.register_actor(store, "wang", "steward")
    dq.register_actor(store, "zhou", "officer", department=RSJ)
    day = DEFAULT_AS_OF

    nightly(store, conns, day, census=True)
    items = dq.list_disputes(store)
    found = {(i.rule_id, i.entry_code, i.location, i.column, i.responsible_unit) for i in items}
    expected = planted(city)
    assert len(expected) == 11  # 3 uncatalogued, 1 missing (census and patrol: one item), 6 patrol, 1 catalog row
    assert found == expected
    assert all(i.status == "待受理" and i.occurrences == 1 for i in items)

    by_key = {(i.entry_code, i.rule_id): i for i in items}
    missing_column = by_key[("320700-RSJ-0002", "patrol.schema.missing_column")]  # zyjnzs lacks fzjg
    empty = by_key[("320700-RSJ-0004", "patrol.volume.empty")]  # syrydj has no rows
    for item in (missing_column, empty):
        dq.transition(store, item.id, "已受理", by="wang", note="受理，转人社局")
        dq.transition(store, item.id, "核实中", by="zhou", note="核实中")
    # The officer fixes the missing column for real, but only claims to have filled the empty table.
    with sqlite3.connect(city / "sources" / "rsj.db") as db:
        db.execute("ALTER TABLE zyjnzs ADD COLUMN fzjg TEXT")
    dq.transition(store, missing_column.id, "已更正", by="zhou", note="已补充发证机关字段")
    dq.transition(store, empty.id, "已更正", by="zhou", note="已补录失业登记数据")

    report = nightly(store, conns, day + timedelta(days=1))
    assert report.verified == [missing_column.id] and report.reopened == [empty.id] and report.opened == []
    assert dq.get_dispute(store, missing_column.id).status == "已核验"
    assert not dq.get_dispute(store, missing_column.id).flagged
    assert (dq.get_dispute(store, empty.id).status, dq.get_dispute(store, empty.id).reopen_count) == ("待受理", 1)

    with sqlite3.connect(city / "sources" / "rsj.db") as db:  # broken again
        db.execute("ALTER TABLE zyjnzs DROP COLUMN fzjg")
    report = nightly(store, conns, day + timedelta(days=2))
    assert missing_column.id in report.reopened
    again = dq.get_dispute(store, missing_column.id)
    assert (again.status, again.reopen_count, again.occurrences) == ("待受理", 1, 2)

    # The audit trail, exported through the command line, shows every step of the item.
    assert govern(["--db", store_url, "disputes", "export", "--format", "csv", "--id", str(missing_column.id)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["actor"], r["action"], r["from_status"], r["to_status"]) for r in rows] == [
        ("system:patrol", "open", "", "待受理"),
        ("wang", "transition", "待受理", "已受理"),
        ("zhou", "transition", "已受理", "核实中"),
        ("zhou", "transition", "核实中", "已更正"),
        ("system:patrol", "auto_verify", "已更正", "已核验"),
        ("system:patrol", "reopen", "已核验", "待受理"),
    ]
    assert {r["responsible_unit"] for r in rows} == {RSJ}

    # The other commands over the same store.
    assert govern(["--db", store_url, "disputes", "list", "--json", "--department", RSJ,
                   "--dataset", "320700-RSJ-0004"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["status"], listed["reopen_count"]) == (empty.id, "待受理", 1)
    assert govern(["--db", store_url, "disputes", "show", str(empty.id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in shown["events"]][-1] == "reopen"
    assert govern(["--db", store_url, "disputes", "kpis", "--json"]) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert kpis["city"]["total"] == len(dq.list_disputes(store)) and kpis["open_by_department"][RSJ] >= 2
    assert kpis["city"]["resolved"] == 2  # the two 已更正 claims (one later disproved by the patrol)

    assert govern(["--db", store_url, "disputes", "transition", str(empty.id), "--to", "已核验", "--by", "wang",
                   "--note", "x"]) == 2
    assert "error: illegal transition 待受理 → 已核验; allowed: 已受理, 驳回" in capsys.readouterr().err
    assert govern(["--db", store_url, "disputes", "raise", "--dataset", "320700-RSJ-0004", "--by", "wang",
                   "--claim", "失业登记表为空", "--json"]) == 0
    raised = json.loads(capsys.readouterr().out)
    assert raised["deduplicated"] is False and raised["dispute"]["responsible_unit"] == RSJ
