"""The catalog (目录) contract: fields, headers, enumerations and the typed entry.

Field names follow GB/T 21063 and the national catalog compilation guide (see DOMAIN.md); each field
has one Chinese header, which is what a government office exports, and English aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Layer(StrEnum):
    """信息资源分类: which repository layer a resource belongs to."""

    BASE = "基础库"
    THEME = "主题库"
    TOPIC = "专题库"
    DEPARTMENT = "部门业务库"


class ResourceFormat(StrEnum):
    """信息资源格式."""

    DATABASE = "数据库"
    SPREADSHEET = "电子表格"
    DOCUMENT = "电子文件"
    IMAGE = "图形图像"
    STREAM = "流媒体"
    SELF_DESCRIBING = "自描述格式"
    OTHER = "其他"


class ShareType(StrEnum):
    """共享类型."""

    UNCONDITIONAL = "无条件共享"
    CONDITIONAL = "有条件共享"
    NOT_SHARED = "不予共享"


class OpenAttr(StrEnum):
    """开放属性."""

    UNCONDITIONAL = "无条件开放"
    CONDITIONAL = "有条件开放"
    NOT_OPEN = "不予开放"


class UpdateCycle(StrEnum):
    """更新周期."""

    REALTIME = "实时"
    DAILY = "每日"
    WEEKLY = "每周"
    MONTHLY = "每月"
    QUARTERLY = "每季度"
    HALF_YEARLY = "每半年"
    YEARLY = "每年"
    IRREGULAR = "不定时"


class Sensitivity(StrEnum):
    """Sensitivity grade after Zhejiang DB33/T 2350-2021: L1 不敏感 … L4 敏感."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


SENSITIVITY_LABELS: dict[Sensitivity, str] = {
    Sensitivity.L1: "不敏感",
    Sensitivity.L2: "低敏感",
    Sensitivity.L3: "较敏感",
    Sensitivity.L4: "敏感",
}


class SyncMode(StrEnum):
    """同步方式."""

    INCREMENTAL = "增量"
    FULL = "全量"


class Lifecycle(StrEnum):
    """状态: an entry's lifecycle."""

    DRAFT = "草稿"
    PUBLISHED = "已发布"
    RETIRED = "已下线"


class ColumnType(StrEnum):
    """Data type letter of a declared 信息项."""

    STRING = "C"
    NUMBER = "N"
    DATE = "D"
    DATETIME = "T"
    BINARY = "B"


@dataclass(frozen=True)
class CatalogField:
    """One column of the catalog file."""

    key: str
    """Attribute name on :class:`CatalogEntry`."""
    header: str
    """The Chinese header a government export uses."""
    aliases: tuple[str, ...]
    """English (and other accepted) spellings of the header, matched case-insensitively."""
    required: bool = False
    """Whether an empty value rejects the row."""


CATALOG_FIELDS: tuple[CatalogField, ...] = (
    CatalogField("code", "信息资源代码", ("code", "resource_code"), required=True),
    CatalogField("name", "信息资源名称", ("name", "resource_name"), required=True),
    CatalogField("provider", "信息资源提供方", ("provider", "department"), required=True),
    CatalogField("provider_code", "提供方代码", ("provider_code", "department_code")),
    CatalogField("layer", "信息资源分类", ("layer", "category", "classification"), required=True),
    CatalogField("summary", "信息资源摘要", ("summary", "abstract")),
    CatalogField("format", "信息资源格式", ("format", "resource_format")),
    CatalogField("columns", "信息项", ("columns", "items", "fields"), required=True),
    CatalogField("share_type", "共享类型", ("share_type",), required=True),
    CatalogField("share_condition", "共享条件", ("share_condition",)),
    CatalogField("share_basis", "不予共享依据", ("share_basis", "not_shared_basis", "legal_basis")),
    CatalogField("share_method", "共享方式", ("share_method",)),
    CatalogField("open_attr", "开放属性", ("open_attr", "open_type", "openness"), required=True),
    CatalogField("update_cycle", "更新周期", ("update_cycle", "update_frequency"), required=True),
    CatalogField("publish_date", "发布日期", ("publish_date", "published")),
    CatalogField("related_codes", "关联资源代码", ("related_codes", "related")),
    CatalogField("conn_id", "数据连接", ("conn_id", "connection", "connection_id"), required=True),
    CatalogField("location", "资源位置", ("location", "table", "path", "resource_location"), required=True),
    CatalogField("primary_key", "主键", ("primary_key", "pk")),
    CatalogField("update_time_column", "更新时间字段", ("update_time_column", "updated_at_column")),
    CatalogField("sensitivity", "敏感级别", ("sensitivity", "grade", "sensitivity_grade"), required=True),
    CatalogField("sync_mode", "同步方式", ("sync_mode",)),
    CatalogField("lifecycle", "状态", ("lifecycle", "status")),
)

CATALOG_HEADERS: tuple[str, ...] = tuple(f.header for f in CATALOG_FIELDS)
"""The headers in the order a catalog export writes them."""

# 信息项 element: a column name (no separators) and a type letter.
COLUMN_SPEC_RE = re.compile(r"^\s*(?P<name>[^:;：；\s][^:;：；]*?)\s*[:：]\s*(?P<type>[A-Za-z])\s*$")


@dataclass(frozen=True)
class DeclaredColumn:
    """One declared 信息项 of a catalog entry."""

    name: str
    """Column name as it appears in the source (e.g. ``sfzhm``)."""
    dtype: ColumnType
    """Declared type letter."""


@dataclass(frozen=True)
class CatalogEntry:
    """A validated catalog entry (目录条目): the contract every check runs against."""

    code: str
    """信息资源代码, unique."""
    name: str
    """信息资源名称."""
    provider: str
    """信息资源提供方: the accountable department."""
    layer: Layer
    """信息资源分类."""
    columns: tuple[DeclaredColumn, ...]
    """信息项 in declared order."""
    share_type: ShareType
    open_attr: OpenAttr
    update_cycle: UpdateCycle
    conn_id: str
    """Airflow connection id of the source that holds the resource."""
    location: str
    """Table name (database sources) or file path relative to the connection's folder."""
    sensitivity: Sensitivity
    provider_code: str | None = None
    summary: str | None = None
    format: ResourceFormat | None = None
    share_condition: str | None = None
    share_basis: str | None = None
    share_method: str | None = None
    publish_date: date | None = None
    related_codes: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    update_time_column: str | None = None
    sync_mode: SyncMode | None = None
    lifecycle: Lifecycle = Lifecycle.PUBLISHED
    extra: dict[str, str] = field(default_factory=dict)
    """Columns of the file that the catalog contract does not know, kept as they were."""

    def columns_spec(self) -> str:
        """The 信息项 in the catalog file syntax, ``xm:C;sfzhm:C``."""
        return format_columns(self.columns)


def format_columns(columns: tuple[DeclaredColumn, ...] | list[DeclaredColumn]) -> str:
    """Write declared columns in the catalog file syntax (``xm:C;sfzhm:C;csrq:D``)."""
    return ";".join(f"{c.name}:{c.dtype.value}" for c in columns)
