"""What the census and the patrol must find on the demo city, derived from its defects.json."""

from __future__ import annotations

import json
from pathlib import Path

# defect kind -> [(origin, rule_id, keep the defect's column?)]
KIND_RULES: dict[str, list[tuple[str, str, bool]]] = {
    "uncatalogued_resource": [("census", "census.uncatalogued", False)],
    # The census finds the entry's table missing; the patrol checks existence too.
    "catalog_entry_without_resource": [
        ("census", "census.resource_missing", False),
        ("patrol", "patrol.resource.missing", False),
    ],
    "schema_missing_column": [("patrol", "patrol.schema.missing_column", True)],
    "schema_unexpected_column": [("patrol", "patrol.schema.unexpected_column", True)],
    "schema_type_changed": [("patrol", "patrol.schema.type_changed", True)],
    "stale_resource": [("patrol", "patrol.timeliness.stale", False)],
    "empty_resource": [("patrol", "patrol.volume.empty", False)],
    "sensitive_open_unconditional": [("patrol", "patrol.grading.inconsistent", True)],
}

Key = tuple[str, str, str | None, str | None, str | None]
"""(origin, rule_id, entry_code, location, column)"""


def expected_findings(defects_path: Path, origin: str) -> set[Key]:
    """The findings ``origin`` must report on the demo city: exactly these, no more, no fewer."""
    defects = json.loads(defects_path.read_text(encoding="utf-8"))["defects"]
    out: set[Key] = set()
    for d in defects:
        for rule_origin, rule_id, keep_column in KIND_RULES.get(d["kind"], []):
            if rule_origin != origin:
                continue
            entry = d["entry_code"] if rule_id != "census.uncatalogued" else None
            out.add((origin, rule_id, entry, d["resource"], d["column"] if keep_column else None))
    return out


def found_keys(findings: list[dict]) -> set[Key]:
    return {(f["origin"], f["rule_id"], f["entry_code"], f["location"], f["column"]) for f in findings}
