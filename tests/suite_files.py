"""Suite files for tests: a reviewed suite turned back into a draft, as ``govern suites draft`` marks one."""

from __future__ import annotations

import json
from pathlib import Path


def mark_draft(folder: Path, code: str, *, satisfied: int = 97, of: int = 100) -> Path:
    """Mark ``code``'s suite file in ``folder`` a draft: the suite's ``meta.citygov.draft`` and every rule's
    ``draft``, ``drafted`` and ``support`` (``satisfied`` of ``of`` sampled rows)."""
    path = folder / f"{code}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["meta"].setdefault("citygov", {})["draft"] = {"how": "marked a draft by a test", "drafted_at": "2026-12-01T00:00:00"}
    support = {"satisfied": satisfied, "of": of, "share": round(satisfied / of, 4)}
    for e in data["expectations"]:
        e["meta"] = {**(e.get("meta") or {}), "draft": True, "drafted": "test", "support": support}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
