"""The metadata completeness policy: required fields are findings, recommended ones only shown."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from citygov.catalog.policy import MetadataPolicy
from citygov.catalog.schema import (
    CATALOG_FIELDS,
    CatalogEntry,
    ColumnType,
    DeclaredColumn,
    Layer,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    UpdateCycle,
)
from citygov.patrol import check_metadata

DAY = date(2026, 11, 28)


def _entry(**changes) -> CatalogEntry:  # type: ignore[no-untyped-def]
    """A published entry with every field the README lists filled in; ``changes`` empties some."""
    entry = CatalogEntry(
        code="E1", name="人口", provider="公安局", layer=Layer.BASE,
        columns=(DeclaredColumn("sfzhm", ColumnType.STRING),), share_type=ShareType.CONDITIONAL,
        open_attr=OpenAttr.NOT_OPEN, update_cycle=UpdateCycle.DAILY, conn_id="c", location="people",
        sensitivity=Sensitivity.L3, provider_code="GAJ", summary="户籍人口", format=ResourceFormat.DATABASE,
        share_condition="公安业务", share_method="接口", publish_date=date(2025, 1, 1),
    )
    return replace(entry, **changes)


def _incomplete(entry: CatalogEntry, policy: MetadataPolicy) -> list[list[str]]:
    return [f.evidence["missing"] for f in check_metadata(entry, set(), DAY, policy)
            if f.rule_id == "patrol.metadata.incomplete"]


def test_the_default_requires_the_starred_fields_and_recommends_the_rest_the_readme_lists() -> None:
    policy = MetadataPolicy.from_env({})
    assert policy.required == tuple(f.key for f in CATALOG_FIELDS if f.required)
    assert policy.labels()["recommended"] == ["提供方代码", "信息资源摘要", "信息资源格式", "共享方式", "发布日期"]


@pytest.mark.parametrize(
    ("empty", "gap"),
    [
        ({"summary": None}, "信息资源摘要"),
        ({"provider_code": None}, "提供方代码"),
        ({"format": None}, "信息资源格式"),
        ({"publish_date": None}, "发布日期"),
        ({"share_method": None}, "共享方式"),
    ],
)
def test_an_empty_recommended_field_is_shown_not_a_finding(empty, gap) -> None:  # type: ignore[no-untyped-def]
    policy = MetadataPolicy.from_env({})
    entry = _entry(**empty)
    assert policy.gaps(entry).recommended == (gap,)
    assert _incomplete(entry, policy) == []


def test_a_city_turns_a_recommended_field_into_a_dispute_by_requiring_it() -> None:
    policy = MetadataPolicy.from_env({"CITYGOV_METADATA_REQUIRED": "信息资源摘要, publish_date"})
    entry = _entry(summary="", publish_date=None, provider_code=None)
    assert _incomplete(entry, policy) == [["信息资源摘要", "发布日期"]]
    assert policy.gaps(entry).recommended == ("提供方代码",)
    assert "summary" not in policy.recommended


def test_a_complete_entry_has_no_gap_and_an_empty_setting_recommends_nothing() -> None:
    assert MetadataPolicy.from_env({}).gaps(_entry()).recommended == ()
    none = MetadataPolicy.from_env({"CITYGOV_METADATA_RECOMMENDED": ""})
    assert none.gaps(_entry(summary=None, provider_code=None)).recommended == ()


def test_share_method_is_asked_of_shared_entries_only() -> None:
    policy = MetadataPolicy.from_env({"CITYGOV_METADATA_REQUIRED": "共享方式"})
    not_shared = _entry(share_type=ShareType.NOT_SHARED, share_method=None, share_basis="法律规定")
    assert _incomplete(not_shared, policy) == []
    assert _incomplete(_entry(share_method=None), policy) == [["共享方式"]]


@pytest.mark.parametrize("var", ["CITYGOV_METADATA_REQUIRED", "CITYGOV_METADATA_RECOMMENDED"])
def test_an_unknown_field_name_is_refused_naming_the_setting(var: str) -> None:
    with pytest.raises(ValueError, match=rf"{var}='摘要x': '摘要x' is not a catalog field; known fields: 信息资源代码"):
        MetadataPolicy.from_env({var: "摘要x"})


def test_the_readme_catalog_table_marks_the_default_policy() -> None:
    """* = required, † = recommended: the README's catalog table and the patrol's default agree."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## The catalog file"):readme.index("## Run it on your own city")]
    marked: dict[str, set[str]] = {"*": set(), "†": set()}
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| header"):
            for match in re.finditer(r"([^\s,|()]+?)([*†])", line.split("|")[1]):
                marked[match.group(2)].add(match.group(1))
    policy = MetadataPolicy.from_env({})
    labels = policy.labels()
    assert marked["*"] == set(labels["required"])
    assert marked["†"] == set(labels["recommended"])
