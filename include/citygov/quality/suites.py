"""Expectation suites as reviewable files: one GX 1.x suite per catalog dataset in ``expectations/``.

A suite file is the JSON of a GX ``ExpectationSuite`` named after the catalog code
(``expectations/320700-GAJ-0001.json``), without GX's generated ids so diffs stay readable. Its
``meta.citygov`` block says which entry it belongs to and how each column's values are masked; each
expectation's ``meta`` carries its GB/T 36344 dimension and, when drafted, why it was suggested.

:func:`draft_suite` suggests a suite from the catalog entry and a profile of the data, for a steward to
edit: completeness for the primary key and complete columns, uniqueness of the key, identifier checks
for recognised ID numbers / credit codes / mobile numbers, division codes, dates not in the future,
ID ↔ birth date / gender consistency where the data mostly agrees, enumerations, non-negative numbers,
fixed-length codes, and referential integrity to related base-library (基础库) entries.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from citygov.catalog.schema import CatalogEntry, ColumnType, Layer, Sensitivity
from citygov.findings import Dimension
from citygov.identifiers import detect_kind
from citygov.quality import registry, rules
from citygov.quality.masking import result_columns, scrub
from citygov.quality.profile import MAX_ENUM, ColumnProfile, DatasetProfile
from citygov.settings import project_home

SUITES_DIR_ENV = "CITYGOV_SUITES_DIR"
"""Environment variable overriding where suite files live (default ``<project>/expectations``)."""

LOGICAL_DATE = {"$PARAMETER": "logical_date"}
"""Suite parameter every run supplies: the run's logical date (``YYYY-MM-DD``)."""

class SuiteFileError(ValueError):
    """A suite file that cannot be used: says which file, which expectation and what to fix."""


def suites_dir(explicit: Path | str | None = None) -> Path:
    """Where suite files live: ``explicit``, else ``$CITYGOV_SUITES_DIR``, else ``<project>/expectations``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(SUITES_DIR_ENV)
    return Path(env) if env else project_home() / "expectations"


def suite_path(code: str, directory: Path | str | None = None) -> Path:
    """The suite file of catalog entry ``code``."""
    return suites_dir(directory) / f"{code}.json"


def register_expectations() -> None:
    """Import the custom expectations so GX knows their types (idempotent)."""
    import citygov.quality.expectations  # noqa: F401


@cache
def gx_context() -> Any:
    """One ephemeral GX context per process, progress bars and analytics off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    register_expectations()
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars={"globally": False, "metric_calculations": False},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def dimension_of(expectation: Any) -> Dimension:
    """The GB/T 36344 dimension of an expectation (object or configuration): its ``meta.dimension`` when
    a steward set one, else its type's (its rule in :mod:`citygov.quality.registry`), else 规范性."""
    config = expectation.configuration if hasattr(expectation, "configuration") else expectation
    meta = config.meta or {}
    if meta.get("dimension"):
        return Dimension(meta["dimension"])
    rule = registry.rule_for(config.type)
    return rule.dimension if rule else Dimension.CONFORMITY


# --- files -----------------------------------------------------------------------------------------------


def load_suite(code: str, directory: Path | str | None = None) -> Any | None:
    """The GX suite of ``code`` from its file, or None when there is none.

    Raises :class:`SuiteFileError` naming the file and expectation when the file is not valid JSON or an
    expectation is unknown or misconfigured (GX itself would drop such an expectation with a log line).
    """
    path = suite_path(code, directory)
    if not path.is_file():
        return None
    return read_suite(path)


def read_suite(path: Path) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    register_expectations()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteFileError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not data.get("name"):
        raise SuiteFileError(f"{path}: a suite file is a JSON object with a name and a list of expectations")
    expectations = []
    for number, item in enumerate(data.get("expectations") or [], start=1):
        try:
            config = ExpectationConfiguration(
                type=item["type"], kwargs=item.get("kwargs") or {}, meta=item.get("meta") or {}, notes=item.get("notes")
            )
            expectations.append(config.to_domain_obj())
        except Exception as exc:
            what = item.get("type") if isinstance(item, dict) else item
            raise SuiteFileError(
                f"{path}: expectation {number} ({what}): {str(exc).strip().splitlines()[0]}; fix or remove it"
            ) from exc
    return gx.ExpectationSuite(
        name=data["name"], expectations=expectations, meta=data.get("meta") or {}, notes=data.get("notes")
    )


def suite_to_dict(suite: Any) -> dict[str, Any]:
    """A suite as the reviewable JSON structure of a suite file (no generated ids)."""
    items = []
    for e in suite.expectations:
        config = e.configuration
        item: dict[str, Any] = {"type": config.type, "kwargs": dict(config.kwargs)}
        if config.meta:
            item["meta"] = config.meta
        if config.notes:
            item["notes"] = config.notes
        items.append(item)
    meta = {k: v for k, v in (suite.meta or {}).items() if k != "great_expectations_version"}
    out: dict[str, Any] = {"name": suite.name, "expectations": items, "meta": meta}
    if suite.notes:
        out["notes"] = suite.notes
    return out


def write_suite(suite: Any, directory: Path | str | None = None, *, path: Path | None = None) -> Path:
    """Write ``suite`` as ``<directory>/<name>.json`` (or ``path``), UTF-8, indented, Chinese readable."""
    target = path or suite_path(suite.name, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(suite_to_dict(suite), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def column_masks(suite: Any) -> dict[str, str]:
    """Column → mask kind from the suite's ``meta.citygov.columns``."""
    columns = ((suite.meta or {}).get("citygov") or {}).get("columns") or {}
    return {name: (info or {}).get("mask", "none") for name, info in columns.items()}


def suite_masks(code: str, directory: Path | str | None = None) -> dict[str, str]:
    """Column → mask kind of ``code``'s suite, read from its file without Great Expectations (all the
    dispute queue needs to mask a record key); {} when there is no suite or it cannot be read."""
    path = suite_path(code, directory)
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("meta") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    columns = (meta.get("citygov") or {}).get("columns") or {}
    return {str(n): (info or {}).get("mask", "none") for n, info in columns.items() if isinstance(info, dict | None)}


# --- review: drafts until a steward accepts them ------------------------------------------------------------


def is_draft(suite: Any) -> bool:
    """Whether ``suite`` is a draft not yet accepted by a steward (``meta.citygov.draft`` is set)."""
    return bool(((suite.meta or {}).get("citygov") or {}).get("draft"))


def draft_rules(suite: Any) -> list[int]:
    """Positions (1-based) of the rules still marked ``draft`` in their meta."""
    return [i for i, e in enumerate(suite.expectations, start=1) if (e.configuration.meta or {}).get("draft")]


def rule_label(expectation: Any) -> str:
    """``type:column`` of a rule (``type:a,b`` for column pairs and lists), how a steward names it."""
    kwargs = expectation.configuration.kwargs
    columns = kwargs.get("column_list") or [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    return f"{expectation.expectation_type}:{','.join(columns)}" if columns else expectation.expectation_type


def find_rule(suite: Any, rule: str) -> int:
    """The 0-based position of the rule ``rule`` names: its 1-based number, its type (when only one rule
    has it) or ``type:column`` (see :func:`rule_label`). Raises LookupError listing the rules."""
    labels = [rule_label(e) for e in suite.expectations]
    if rule.isdigit() and 1 <= int(rule) <= len(labels):
        return int(rule) - 1
    matches = [i for i, label in enumerate(labels) if rule in (label, label.split(":", 1)[0])]
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(f"{i} {label}" for i, label in enumerate(labels, start=1))
    what = "names several rules" if matches else "names no rule"
    raise LookupError(f"{rule!r} {what} of suite {suite.name}; give a number or type:column ({listed})")


def accept_suite(suite: Any, *, by: str | None = None, accepted_at: datetime | None = None) -> Any:
    """``suite`` accepted by a steward: the suite's and every rule's draft marker cleared (the evidence
    stays), ``meta.citygov.accepted`` saying by whom and when."""
    citygov = dict((suite.meta or {}).get("citygov") or {})
    citygov.pop("draft", None)
    accepted = {k: v for k, v in (("by", by), ("at", accepted_at.isoformat(timespec="seconds") if accepted_at else None)) if v}
    citygov["accepted"] = accepted or True
    suite.meta = {**(suite.meta or {}), "citygov": citygov}
    suite.expectations = [
        _with_config(e, meta={k: v for k, v in (e.configuration.meta or {}).items() if k != "draft"})
        for e in suite.expectations
    ]
    return suite


def drop_rule(suite: Any, rule: str) -> str:
    """Remove the rule ``rule`` names (see :func:`find_rule`) from ``suite``; returns its label."""
    position = find_rule(suite, rule)
    label = rule_label(suite.expectations[position])
    suite.expectations = [e for i, e in enumerate(suite.expectations) if i != position]
    return label


def set_mostly(suite: Any, rule: str, mostly: float | None) -> str:
    """Loosen (``mostly`` < 1: that share of rows must pass) or tighten (None or 1: every row) the rule
    ``rule`` names; returns its label. Raises ValueError for a rule type without ``mostly``."""
    if mostly is not None and not 0 < mostly <= 1:
        raise ValueError(f"mostly must be a share above 0 and at most 1, got {mostly}")
    position = find_rule(suite, rule)
    e = suite.expectations[position]
    kwargs = {k: v for k, v in e.configuration.kwargs.items() if k != "mostly"}
    if mostly is not None and mostly < 1:
        if "mostly" not in getattr(e, "success_keys", ()):
            raise ValueError(f"{rule_label(e)} has no threshold (mostly) to set")
        kwargs["mostly"] = mostly
    suite.expectations[position] = _with_config(e, kwargs=kwargs)
    return rule_label(e)


def _with_config(expectation: Any, *, kwargs: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    config = expectation.configuration
    return ExpectationConfiguration(
        type=config.type,
        kwargs=dict(config.kwargs) if kwargs is None else kwargs,
        meta=config.meta if meta is None else meta,
        notes=config.notes,
    ).to_domain_obj()


@dataclass(frozen=True)
class SuiteEdit:
    """What a steward's review changed in a suite file (:func:`review_suite`)."""

    code: str
    path: Path
    message: str
    """What was done, as the command line prints it and the pages show it."""
    rule: str | None = None
    """The label (``type:column``) of the rule dropped or set; None for accepting the whole suite."""


def review_suite(
    code: str,
    action: str,
    *,
    rule: str | None = None,
    expected_label: str | None = None,
    mostly: float | None = None,
    by: str | None = None,
    at: datetime | None = None,
    directory: Path | str | None = None,
) -> SuiteEdit:
    """Apply one review step to ``code``'s suite file and write it back: ``accept`` the suite (by ``by``,
    at ``at``), ``drop`` the rule ``rule`` names, or ``set`` its threshold (``mostly`` < 1 loosens, None
    or 1 makes it strict). ``govern suites accept/drop/set``, the scorecard page and dropping a draft rule
    from a dispute item all come here.

    ``expected_label`` (a page's form sends the label it showed beside the rule's number) refuses the
    step when the file changed since, rather than dropping another rule. Raises LookupError when there is
    no suite file or no such rule, :class:`SuiteFileError` for an unreadable file and ValueError for a
    threshold that cannot be set; nothing is written then.
    """
    path = suite_path(code, directory)
    suite = load_suite(code, directory)
    if suite is None:
        raise LookupError(f"no suite file {path} (govern suites draft {code} drafts one)")
    if action == "accept":
        accept_suite(suite, by=by, accepted_at=at)
        done = SuiteEdit(code, path, f"accepted {code}: {len(suite.expectations)} rules, no longer a draft")
    elif action in ("drop", "set"):
        if not rule:
            raise LookupError(f"name the rule of suite {code} to {action}")
        label = rule_label(suite.expectations[find_rule(suite, rule)])
        if expected_label is not None and label != expected_label:
            raise LookupError(
                f"rule {rule} of suite {code} is now {label}, not {expected_label}: the file changed; reload and retry"
            )
        if action == "drop":
            drop_rule(suite, rule)
            done = SuiteEdit(code, path, f"dropped {label} from {code}; {len(suite.expectations)} rules left", label)
        else:
            set_mostly(suite, rule, mostly)
            loose = mostly is not None and mostly < 1
            how = f"{mostly:.0%} of rows must pass" if loose else "every row must pass"
            done = SuiteEdit(code, path, f"{label} of {code}: {how}", label)
    else:
        raise ValueError(f"unknown review step {action!r}: accept, drop or set")
    write_suite(suite, path=path)
    return done


@dataclass(frozen=True)
class RuleReview:
    """One rule of a suite as a steward reviews it."""

    number: int
    """1-based position, how ``govern suites drop CODE N`` names it."""
    label: str
    """``type:column`` (:func:`rule_label`)."""
    expectation: str
    column: str | None
    """The column its findings name (:func:`finding_column`)."""
    dimension: str
    draft: bool
    """Still marked ``draft`` (drafted and not yet accepted)."""
    drafted: str | None
    """Why it was suggested."""
    satisfied: int | None
    """Evidence: sampled rows (or values) that satisfied it when drafted …"""
    sampled: int | None
    """… of this many."""
    mostly: float | None
    """Its threshold; None: every row must pass."""
    can_loosen: bool
    """Whether it takes a threshold (``mostly``)."""


@dataclass(frozen=True)
class SuiteReview:
    """A suite file as the scorecard page shows it for review."""

    code: str
    draft: bool
    drafted_at: str | None
    accepted: dict[str, Any] | None
    rules: list[RuleReview]
    error: str | None = None
    """Why the file cannot be read (then ``rules`` is empty)."""


def suite_review(code: str, directory: Path | str | None = None) -> SuiteReview | None:
    """The review view of ``code``'s suite: whether it is a draft and each rule with its draft mark and
    evidence; None when there is no suite file."""
    try:
        suite = load_suite(code, directory)
    except SuiteFileError as exc:
        return SuiteReview(code, False, None, None, [], error=str(exc))
    if suite is None:
        return None
    citygov = (suite.meta or {}).get("citygov") or {}
    rules_: list[RuleReview] = []
    for number, e in enumerate(suite.expectations, start=1):
        meta = e.configuration.meta or {}
        support = meta.get("support") or {}
        rules_.append(
            RuleReview(
                number=number, label=rule_label(e), expectation=e.expectation_type,
                column=finding_column(e.expectation_type, result_columns(e.configuration.kwargs)),
                dimension=dimension_of(e).value, draft=bool(meta.get("draft")), drafted=meta.get("drafted"),
                satisfied=support.get("satisfied"), sampled=support.get("of"),
                mostly=e.configuration.kwargs.get("mostly"), can_loosen="mostly" in getattr(e, "success_keys", ()),
            )
        )
    draft = citygov.get("draft")
    accepted = citygov.get("accepted")
    return SuiteReview(
        code=code, draft=bool(draft), drafted_at=draft.get("drafted_at") if isinstance(draft, dict) else None,
        accepted=accepted if isinstance(accepted, dict) else ({} if accepted else None), rules=rules_,
    )


def finding_column(expectation: str, columns: Sequence[str | None]) -> str | None:
    """The column a quality finding names for an expectation over ``columns``: the checked column; for
    ID-consistency pairs the column that disagrees with the ID (column_B); for compound keys the columns
    joined by commas."""
    columns = [c for c in columns if c]
    if not columns:
        return None
    if "pair_values" in expectation and len(columns) == 2:
        return columns[1]
    return ",".join(columns)


def draft_rule_of_finding(suite: Any, expectation: str, column: str | None) -> int | None:
    """The 1-based number of the draft rule of ``suite`` a quality finding (rule id ``expectation``,
    ``column``) comes from, or None when that rule is not (or no longer) a draft rule of the suite."""
    for number, e in enumerate(suite.expectations, start=1):
        if e.expectation_type != expectation or not (e.configuration.meta or {}).get("draft"):
            continue
        if finding_column(expectation, result_columns(e.configuration.kwargs)) == column:
            return number
    return None


# --- drafting ----------------------------------------------------------------------------------------------

_PERIOD = re.compile(r"^[0-9]{4}([-/年][0-9]{1,2}月?)?$")
"""Years and months (统计期 2026-10): an enumeration of those only holds until next month."""
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
            plain = registry.PlainColumn(name, letter, present, policy.kind_min)
            for rule in registry.plain_drafters():
                proposal = rule.draft_plain(plain)  # type: ignore[misc]
                if proposal is not None:
                    add(_expectation_of(rule.type, column=name, **proposal.kwargs), proposal.why, proposal.support)
                    break
            else:
                if present:
                    _draft_plain(name, p, letter, present, profile.rows, policy, add)
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


def _draft_plain(
    name: str,
    p: ColumnProfile,
    letter: ColumnType,
    present: list[Any],
    rows: int,
    policy: DraftPolicy,
    add: Callable[..., None],
) -> None:
    """The built-in rule of a column that holds no identifier kind and that no rule's own heuristic took:
    non-negative numbers, value sets or fixed-length codes, the first that most of its values keep."""
    import great_expectations as gx

    numbers = [n for n in (_number(v) for v in present) if n is not None]
    if letter is ColumnType.NUMBER and present and len(numbers) / len(present) >= policy.kind_min:
        support = (sum(1 for n in numbers if n >= 0), len(present))
        if _share(support) >= policy.kind_min:
            add(gx.expectations.ExpectColumnValuesToBeBetween(column=name, min_value=0), f"非负数 {support[0]} of {support[1]} sampled non-negative numbers", support)
        return
    counts = p.enum_counts or ({v: 0 for v in p.enum_values} if p.enum_values else {})
    if (
        letter is ColumnType.STRING and 2 <= len(counts) <= policy.value_set_max_distinct
        and rows >= 5 * len(counts) and not any(_PERIOD.match(v) for v in counts)
    ):
        total = sum(counts.values())
        # a blank is the not-blank rule's to judge, not the value set's
        kept = sorted(v for v, n in counts.items() if not total or not v.strip() or n >= policy.value_set_rare * total)
        support = (sum(counts[v] for v in kept), total) if total else (0, 0)
        left = len(counts) - len(kept)
        why = f"枚举 {len(kept)} values hold {support[0]} of {support[1]} rows" + (f"; {left} rare value(s) left out" if left else "")
        add(gx.expectations.ExpectColumnValuesToBeInSet(column=name, value_set=scrub(kept)), why, support if total else None)
        return
    lengths = Counter(len(rules.text(v)) for v in present)
    # A blank (spaces) value would break the length rule as well as not-blank: one defect counted twice.
    if letter is ColumnType.STRING and lengths and p.blanks == 0 and p.distinct > 1 and all(rules.text(v).isascii() for v in present):
        length, n = lengths.most_common(1)[0]
        if length >= 2 and n / len(present) >= policy.kind_min:
            add(
                gx.expectations.ExpectColumnValueLengthsToBeBetween(column=name, min_value=length, max_value=length),
                f"定长编码 {n} of {len(present)} sampled values have {length} characters",
                (n, len(present)),
            )


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


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
