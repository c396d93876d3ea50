"""Build small catalog files for tests."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from citygov.catalog.schema import CATALOG_HEADERS

GOOD_ROWS: list[dict[str, str]] = [
    {
        "信息资源代码": "320700-GAJ-0001",
        "信息资源名称": "人口基本信息",
        "信息资源提供方": "连云港市公安局",
        "提供方代码": "GAJ",
        "信息资源分类": "基础库",
        "信息资源摘要": "全市户籍人口基本信息",
        "信息资源格式": "数据库",
        "信息项": "xm:C;sfzhm:C;csrq:D;gxsj:T",
        "共享类型": "有条件共享",
        "共享条件": "仅用于政务服务身份核验",
        "不予共享依据": "",
        "共享方式": "接口",
        "开放属性": "不予开放",
        "更新周期": "每日",
        "发布日期": "2023-05-10",
        "关联资源代码": "",
        "数据连接": "dept_gaj",
        "资源位置": "rkjbxx",
        "主键": "sfzhm",
        "更新时间字段": "gxsj",
        "敏感级别": "L4",
        "同步方式": "增量",
        "状态": "已发布",
    },
    {
        "信息资源代码": "320700-SCJG-0001",
        "信息资源名称": "企业登记信息",
        "信息资源提供方": "连云港市市场监督管理局",
        "提供方代码": "SCJG",
        "信息资源分类": "基础库",
        "信息资源摘要": "",
        "信息资源格式": "数据库",
        "信息项": "tyshxydm:C;qymc:C;zczb:N;clrq:D",
        "共享类型": "无条件共享",
        "共享条件": "",
        "不予共享依据": "",
        "共享方式": "数据库",
        "开放属性": "无条件开放",
        "更新周期": "每周",
        "发布日期": "",
        "关联资源代码": "",
        "数据连接": "dept_scjg",
        "资源位置": "qydjxx",
        "主键": "tyshxydm",
        "更新时间字段": "",
        "敏感级别": "L1",
        "同步方式": "全量",
        "状态": "已发布",
    },
    {
        "信息资源代码": "320700-MZJ-0001",
        "信息资源名称": "婚姻登记信息",
        "信息资源提供方": "连云港市民政局",
        "提供方代码": "MZJ",
        "信息资源分类": "部门业务库",
        "信息资源摘要": "",
        "信息资源格式": "数据库",
        "信息项": "djbh:C;nfsfzhm:C;nvfsfzhm:C;djrq:D",
        "共享类型": "不予共享",
        "共享条件": "",
        "不予共享依据": "《婚姻登记档案管理办法》第十六条",
        "共享方式": "",
        "开放属性": "不予开放",
        "更新周期": "每月",
        "发布日期": "2023-06-01",
        "关联资源代码": "320700-GAJ-0001",
        "数据连接": "dept_mzj",
        "资源位置": "hydjxx",
        "主键": "djbh",
        "更新时间字段": "djrq",
        "敏感级别": "L3",
        "同步方式": "",
        "状态": "已发布",
    },
]


def row(**changes: str) -> dict[str, str]:
    """A good row (a copy of the first) with some cells changed; keys are Chinese headers."""
    base = dict(GOOD_ROWS[0])
    base.update(changes)
    return base


def write_catalog(
    path: Path,
    rows: list[dict[str, str]],
    *,
    encoding: str = "utf-8",
    headers: tuple[str, ...] | list[str] = CATALOG_HEADERS,
) -> Path:
    """Write rows as a catalog CSV in ``encoding``; returns the path."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for r in rows:
        writer.writerow([r.get(h, "") for h in CATALOG_HEADERS][: len(headers)])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path
