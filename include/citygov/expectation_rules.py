"""The expectation types citygov uses, as rules: GB/T 36344 dimension, titles and how to fix.

A failed expectation is stored as a finding whose rule id is its expectation type
(``expect_column_values_to_be_valid_ric``). Each type is defined once, in its module of the rule registry
(:mod:`citygov.quality.registry`: the custom expectations and GX's built-in ones, which GX does not
describe in Chinese); this module is the registry's words as rules, for :mod:`citygov.rulebook`.
No GX import: pages and the dispute queue read it.

A quality finding's severity depends on how many rows fail (:data:`HIGH_SHARE`), so these rules have none.
"""

from __future__ import annotations

from citygov.findings import Rule
from citygov.quality.registry import HIGH_SHARE, all_rules

__all__ = ["EXPECTATION_RULES", "HIGH_SHARE"]

EXPECTATION_RULES: dict[str, Rule] = {r.type: r.rule for r in all_rules()}
"""Every expectation type a suite may use, with its words. An unknown type still validates (GX knows it);
its findings are then titled by the type and counted under 规范性."""
