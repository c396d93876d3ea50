"""Drafting a suite for a catalog entry from its data: the one path ``govern suites draft`` and
``govern city init`` share.

:func:`draft_suite` proposes the rules from the catalog entry and a profile of the data, for a steward to
edit: completeness for the primary key and complete columns, uniqueness of the key, identifier checks
for recognised ID numbers / credit codes / mobile numbers / card numbers, division codes, dates not in
the future, ID ↔ birth date / gender consistency where the data mostly agrees (each domain rule's own
heuristic, :mod:`citygov.quality.registry`), enumerations, non-negative numbers, fixed-length codes, and
referential integrity to related base-library (基础库) entries. How much of the data must already keep a
rule is the :class:`DraftPolicy`. :func:`draft_entry_suite` reads the profile the rules are proposed from
(a table of a database source, a file of a folder source, else only the catalog's 信息项) and says where
the draft came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from citygov.catalog.schema import CatalogEntry, ColumnType, Layer, Sensitivity
from citygov.identifiers import detect_kind
from citygov.quality import registry, rules
from citygov.quality.profile import MAX_ENUM, ColumnProfile, DatasetProfile
from citygov.quality.suites import dimension_of, register_expectations
from citygov.sources import ConnectionInfo, open_source


@dataclass(frozen=True)
class DraftedSuite:
    """A drafted (not yet written) suite and what it was drafted from."""

    code: str
    """The catalog entry's 信息资源代码."""
    suite: Any
    """The GX ``ExpectationSuite``."""
    rows: int
    """Rows of the profile the rules were proposed from (0 when drafted from the catalog only)."""
    unreadable: str | None = None
    """Why the data could not be read, when the draft comes from the catalog's 信息项 only."""

    @property
    def expectations(self) -> int:
        return len(self.suite.expectations)

    def note(self) -> str:
        """`` (data not readable: …; drafted from the catalog only)`` or nothing."""
        return f" (data not readable: {self.unreadable}; drafted from the catalog only)" if self.unreadable else ""


def draft_entry_suite(
    entry: CatalogEntry,
    resolve: Callable[[str], ConnectionInfo | None],
    *,
    catalog: Sequence[CatalogEntry],
    base_check: Any,
    policy: DraftPolicy | None = None,
    drafted_at: datetime | None = None,
) -> DraftedSuite:
    """Profile ``entry``'s data through its connection and draft its suite; an unreadable resource (no
    connection, no table, a file that does not parse) still gets a draft from its catalog entry, with why.
    ``policy`` (default: from the environment) and ``drafted_at`` go to
    :func:`draft_suite`."""
    from citygov.quality.profile import catalog_profile, profile_source
    conn = resolve(entry.conn_id)
    unreadable = None
    try:
        if conn is None:
            raise LookupError(f"connection {entry.conn_id!r} is not defined (pass --connections)")
        with open_source(conn) as source:
            profile = profile_source(source, entry.location)
    except Exception as exc:
        profile = catalog_profile([(c.name, c.dtype.value) for c in entry.columns])
        unreadable = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    suite = draft_suite(entry, profile, catalog=catalog, base_check=base_check, policy=policy, drafted_at=drafted_at)
    return DraftedSuite(entry.code, suite, profile.rows, unreadable)


_MASK_BY_KIND = {"ric": "ric", "mobile": "mobile", "name": "name", "uscc": "uscc", "plate": "plate", "bankcard": "bankcard"}

DRAFT_ENV_PREFIX = "CITYGOV_DRAFT_"
"""Environment variables ``CITYGOV_DRAFT_<FIELD>`` (e.g. ``CITYGOV_DRAFT_NOT_BLANK_MIN=0.9``) override
the :class:`DraftPolicy` defaults."""

BaseSampleCheck = Callable[[str, str, list[Any]], set[Any]]
"""``(base_entry, base_column, values) -> the values found there``, to test referential suggestions."""


@dataclass(frozen=True)
class DraftPolicy:
    """How much of the profiled data must already keep a rule before :func:`draft_suite` proposes it.

    A proposed rule is strict (no ``mostly``): the data *mostly* satisfying it is the evidence that it is
    the column's rule, and the rows that break it are the findings. Shares are of the non-empty sampled
    values unless said otherwise; every drafted rule records its own support in ``meta.support``.
    """

    not_blank_min: float = 0.95
    """Share of all rows filled (not NULL, not blank) for a not-blank rule (key columns always get one)."""
    kind_min: float = 0.8
    """Share of values that look like one kind (ID number, credit code, mobile, division code, date,
    number, fixed-length code) for that kind's rule."""
    pair_min: float = 0.9
    """Share of sampled rows whose birth date / gender agree with the ID number for the consistency rule."""
    reference_min: float = 0.9
    """Share of sampled values found in a 基础库 entry's key for a reference to it."""
    value_set_max_distinct: int = 12
    """At most this many distinct values (whole table) make a text column a code column with a value set
    (no more than the profile lists, :data:`citygov.quality.profile.MAX_ENUM`)."""
    value_set_rare: float = 0.01
    """A value held by fewer than this share of rows is left out of a value set: its rows become findings."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or not 1 <= value <= MAX_ENUM):
                raise ValueError(f"draft policy {f.name} must be a whole number from 1 to {MAX_ENUM}, got {value!r}")
            if f.type == "float" and not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ValueError(f"draft policy {f.name} must be a share between 0 and 1, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> DraftPolicy:
        """The defaults, then ``CITYGOV_DRAFT_<FIELD>`` variables, then ``overrides`` (None values ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(DRAFT_ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip():
                try:
                    values[f.name] = int(raw) if f.type == "int" else float(raw)
                except ValueError:
                    raise ValueError(f"{DRAFT_ENV_PREFIX}{f.name.upper()}={raw!r} is not a number") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _share(support: tuple[int, int]) -> float:
    return support[0] / support[1] if support[1] else 0.0


def draft_suite(
    entry: CatalogEntry,
    profile: DatasetProfile,
    *,
    catalog: Sequence[CatalogEntry] = (),
    base_check: BaseSampleCheck | None = None,
    policy: DraftPolicy | None = None,
    drafted_at: datetime | None = None,
) -> Any:
    """Suggest a GX suite for ``entry`` from its catalog 信息项 and a ``profile`` of its data.

    Like Deequ's constraint suggestion, but a rule is proposed when the data *mostly* keeps it (the
    shares of ``policy``, :class:`DraftPolicy`, by default from the environment) and proposed strict, so a draft does not learn the
    defects: 2 % empty names still get a not-blank rule and the 2 % are findings. Proposed: not-blank
    for key columns and nearly always filled ones, uniqueness of the key, ID numbers / credit codes /
    mobile numbers / number plates / bank card numbers (each identifier rule's own heuristic) / division codes recognised by shape (old 15-digit IDs and retired division codes
    pass the rules), dates not in the future, ID ↔ birth date / gender, non-negative numbers, fixed-length
    codes, value sets of code columns without their rare values, and references to 基础库 entries (the
    related ones first, then any in ``catalog``) where ``base_check`` finds most values.

    The suite is a draft until a steward accepts it (:func:`accept_suite`): ``meta.citygov.draft`` says
    when (``drafted_at``) and with which policy, and each rule's meta carries ``draft: true``, why it was
    suggested (``drafted``) and its evidence (``support``: satisfied of sampled). Save it with
    :func:`write_suite`.
    """
    import great_expectations as gx

    from citygov.quality import expectations as ce

    register_expectations()
    policy = policy or DraftPolicy.from_env()
    declared = {c.name: c.dtype for c in entry.columns}
    names = [c.name for c in entry.columns if c.name in profile.columns] or list(profile.columns)
    cols = profile.columns
    sensitive = entry.sensitivity in (Sensitivity.L3, Sensitivity.L4)
    items: list[Any] = []
    masks: dict[str, dict[str, str]] = {}
    kinds: dict[str, str | None] = {}

    def add(expectation: Any, why: str, support: tuple[int, int] | None = None) -> None:
        meta: dict[str, Any] = {"dimension": dimension_of(expectation).value, "drafted": why, "draft": True}
        if support is not None:
            meta["support"] = {"satisfied": support[0], "of": support[1], "share": round(_share(support), 4)}
        expectation.meta = meta
        items.append(expectation)

    def filled(name: str) -> tuple[int, int]:
        p = cols[name]
        return max(profile.rows - p.nulls - p.blanks, 0), profile.rows

    pk = [c for c in entry.primary_key if c in cols]
    for name in pk:
        add(ce.ExpectColumnValuesToNotBeBlank(column=name), "主键必填 primary-key column", filled(name))
    if len(pk) == 1:
        add(gx.expectations.ExpectColumnValuesToBeUnique(column=pk[0]), "主键唯一 primary key", (cols[pk[0]].distinct, profile.rows - cols[pk[0]].nulls))
    elif len(pk) > 1:
        add(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=pk), "联合主键唯一 compound primary key")

    for name in names:
        p = cols[name]
        letter = declared.get(name, ColumnType(p.letter) if p.letter else ColumnType.STRING)
        present = [v for v in p.sample if v is not None and rules.text(v) != ""]
        kind = detect_kind(present, threshold=policy.kind_min) if present else None
        kinds[name] = kind
        if name not in pk and profile.rows:
            support = filled(name)
            if _share(support) >= policy.not_blank_min:
                add(ce.ExpectColumnValuesToNotBeBlank(column=name), f"完整 {support[0]} of {support[1]} rows filled", support)
        mask = _MASK_BY_KIND.get(kind or "", "none")
        for rule in registry.all_rules():  # the identifier kinds' rules draft themselves
            proposal = rule.draft(present) if kind is not None and rule.draft_kind == kind and rule.draft else None
            if proposal is not None:
                add(_expectation_of(rule.type, column=name, **proposal.kwargs), proposal.why, proposal.support)
        if kind is None:
            # the rules' own heuristics first (division codes, dates; with no data, by name and type only)
            plain = registry.PlainColumn(
                name, letter, present, policy.kind_min, rows=profile.rows, distinct=p.distinct, blanks=p.blanks,
                enum_counts=p.enum_counts or ({v: 0 for v in p.enum_values} if p.enum_values else {}),
                value_set_max_distinct=policy.value_set_max_distinct, value_set_rare=policy.value_set_rare,
            )
            for rule in registry.plain_drafters():  # the domain rules' heuristics, then the built-in types'
                proposal = rule.draft_plain(plain)  # type: ignore[misc]
                if proposal is not None:
                    add(_expectation_of(rule.type, column=name, **proposal.kwargs), proposal.why, proposal.support)
                    break
            if present and sensitive and letter is ColumnType.STRING and name not in pk and not any(
                getattr(e, "column", None) == name and e.expectation_type != "expect_column_values_to_not_be_blank" for e in items
            ):
                mask = "redact"
        masks[name] = {"kind": kind or "", "mask": mask}

    for ric in [n for n in names if kinds.get(n) == "ric"]:
        for name in names:
            if name == ric or kinds.get(name) is not None:
                continue
            pair = registry.IdPair(ric, cols[ric].sample, name, cols[name].sample, policy.pair_min)
            for rule in registry.pair_drafters():  # the consistency rules' own heuristics
                proposal = rule.draft_pair(pair)  # type: ignore[misc]
                if proposal is not None:
                    add(_expectation_of(rule.type, **proposal.kwargs), proposal.why, proposal.support)
                    if sensitive and proposal.other_mask:
                        masks[name]["mask"] = proposal.other_mask

    if catalog and base_check is not None:
        for name, base, key, support in _references(entry, names, cols, kinds, catalog, base_check, policy):
            add(
                ce.ExpectColumnValuesToExistInBaseTable(column=name, base_entry=base, base_column=key),
                f"关联基础库 {base}.{key}: {support[0]} of {support[1]} sampled values found",
                support,
            )

    draft: dict[str, Any] = {"how": "drafted from a profile of the data (govern suites draft)", "policy": asdict(policy)}
    if drafted_at is not None:
        draft["drafted_at"] = drafted_at.isoformat(timespec="seconds")
    meta = {
        "citygov": {
            "entry_code": entry.code,
            "entry_name": entry.name,
            "provider": entry.provider,
            "location": entry.location,
            "sensitivity": entry.sensitivity.value,
            "columns": masks,
            "drafted_from": {"rows": profile.rows, "sampled_rows": profile.sampled_rows},
            "draft": draft,
        }
    }
    return gx.ExpectationSuite(name=entry.code, expectations=items, meta=meta)


def _expectation_of(expectation_type: str, **kwargs: Any) -> Any:
    """A GX expectation of a registered type (the custom classes are generated from the registry)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return ExpectationConfiguration(type=expectation_type, kwargs=kwargs).to_domain_obj()


def _references(
    entry: CatalogEntry,
    names: Sequence[str],
    cols: Mapping[str, ColumnProfile],
    kinds: Mapping[str, str | None],
    catalog: Sequence[CatalogEntry],
    base_check: BaseSampleCheck,
    policy: DraftPolicy,
) -> list[tuple[str, str, str, tuple[int, int]]]:
    """(column, base entry, base key, support) of each ID-number or credit-code column that most values
    tie to one 基础库 entry: the entry's related bases are tried first, then every other base."""
    bases = [e for e in catalog if e.layer is Layer.BASE and len(e.primary_key) == 1 and e.code != entry.code]
    related = [e for code in entry.related_codes for e in bases if e.code == code]
    ordered = related + [e for e in bases if e not in related]
    out = []
    for name in names:
        if kinds.get(name) not in ("ric", "uscc"):
            continue
        present = [rules.text(v) for v in cols[name].sample if v is not None and rules.text(v)]
        values = sorted(set(present))[:1000]
        if not values:
            continue
        for base in ordered:
            try:
                found = {rules.text(v) for v in base_check(base.code, base.primary_key[0], values)}
            except Exception:  # a base we cannot read is no suggestion
                continue
            support = (sum(1 for v in present if v in found), len(present))
            if _share(support) >= policy.reference_min:
                out.append((name, base.code, base.primary_key[0], support))
                break
    return out
