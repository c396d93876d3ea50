"""A small city that is not the demo, for onboarding tests: two departments of 灌云县, SQLite sources, a
catalog CSV and a connections file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.catalog_files import row, write_catalog

EDUCATION = "灌云县教育局"
TRANSPORT = "灌云县交通运输局"


def entry(code: str, name: str, provider: str, provider_code: str, conn_id: str, location: str,
          columns: str, primary_key: str) -> dict[str, str]:
    return row(**{
        "信息资源代码": code, "信息资源名称": name, "信息资源提供方": provider, "提供方代码": provider_code,
        "信息资源分类": "部门业务库", "信息项": columns, "数据连接": conn_id, "资源位置": location,
        "主键": primary_key, "更新时间字段": "", "关联资源代码": "", "敏感级别": "L2",
        "共享类型": "无条件共享", "共享条件": "", "开放属性": "不予开放",
    })


CATALOG = [
    entry("320723-JYJ-0001", "学生学籍信息", EDUCATION, "JYJ", "gy_jyj", "xsxj", "xh:C;xm:C;rxrq:D", "xh"),
    entry("320723-JYJ-0002", "学校名录", EDUCATION, "JYJ", "gy_jyj", "xxml", "xxdm:C;xxmc:C", ""),
    entry("320723-JTJ-0001", "营运车辆信息", TRANSPORT, "JTJ", "gy_jtj", "yycl", "cph:C;clxh:C;djrq:D", "cph"),
]


def build_city(root: Path, *, connections: dict | None = None, catalog: list[dict[str, str]] | None = None) -> tuple[Path, Path]:
    """Write the sources, catalog.csv and connections.json of the city into ``root``; returns
    (catalog file, connections file). ``connections`` replaces the good connections."""
    root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(root / "jyj.db") as db:
        # 2 of 60 students have no name: a defect the drafted not-blank rule finds.
        db.execute("create table xsxj (xh text, xm text, rxrq date)")
        db.executemany("insert into xsxj values (?, ?, ?)",
                       [(f"G{i:05d}", f"学生{i}" if i % 30 else "", f"2022-09-{1 + i % 28:02d}") for i in range(60)])
        db.execute("create table xxml (xxdm text, xxmc text)")
        db.executemany("insert into xxml values (?, ?)", [(f"S{i:03d}", f"学校{i}") for i in range(8)])
        # Not in the catalog: the census lists it as 应编未编 of 灌云县教育局.
        db.execute("create table jsxx (jsbh text, xm text)")
        db.execute("insert into jsxx values ('T001', '教师1')")
    with sqlite3.connect(root / "jtj.db") as db:
        db.execute("create table yycl (cph text, clxh text, djrq date)")
        db.executemany("insert into yycl values (?, ?, ?)",
                       [(f"苏G{i:05d}", "客车", f"2021-03-{1 + i % 28:02d}") for i in range(40)])
    if connections is None:
        connections = {
            "gy_jyj": {"conn_type": "sqlite", "host": str(root / "jyj.db"), "extra": {"citygov_department": EDUCATION}},
            "gy_jtj": {"conn_type": "sqlite", "host": str(root / "jtj.db"), "extra": {"citygov_department": TRANSPORT}},
        }
    conn_file = root / "connections.json"
    conn_file.write_text(json.dumps(connections, ensure_ascii=False), encoding="utf-8")
    return write_catalog(root / "catalog.csv", CATALOG if catalog is None else catalog), conn_file
