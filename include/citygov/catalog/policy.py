"""Metadata completeness policy: which catalog fields a published entry must fill, and which it should.

A **required** field left empty is a ``patrol.metadata.incomplete`` finding, so a dispute item for the
entry's provider. A **recommended** field left empty is only shown: the patrol counts it in its summary and
the dataset's scorecard lists it. A city that wants disputes for a recommended field makes it required.

The fields marked * in the catalog file (:data:`~citygov.catalog.schema.CATALOG_FIELDS` with
``required=True``) are always required: the import already refuses a row without them. Settings, the same
for every component (the patrol's worker and the web server must agree), each a comma-separated list of
field names (the Chinese header, the attribute name or an English alias, e.g. ``信息资源摘要`` or ``summary``):

- ``CITYGOV_METADATA_REQUIRED``: fields required on top of the * fields (default: none);
- ``CITYGOV_METADATA_RECOMMENDED``: the recommended fields (default :data:`DEFAULT_RECOMMENDED`: 提供方代码,
  信息资源摘要, 信息资源格式, 共享方式, 发布日期); set it empty for none. A field listed in both is required.

共享方式 is asked of shared entries only, 共享条件 of 有条件共享 ones and 不予共享依据 of 不予共享 ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from citygov.catalog.schema import CATALOG_FIELDS, CatalogEntry, CatalogField, ShareType

REQUIRED_ENV = "CITYGOV_METADATA_REQUIRED"
RECOMMENDED_ENV = "CITYGOV_METADATA_RECOMMENDED"

DEFAULT_RECOMMENDED: tuple[str, ...] = ("provider_code", "summary", "format", "share_method", "publish_date")
"""Fields a published entry should fill, by attribute name; the README's catalog table lists them unmarked."""

_APPLIES: dict[str, Callable[[CatalogEntry], bool]] = {
    "share_method": lambda e: e.share_type is not ShareType.NOT_SHARED,
    "share_condition": lambda e: e.share_type is ShareType.CONDITIONAL,
    "share_basis": lambda e: e.share_type is ShareType.NOT_SHARED,
}
"""Fields asked of some entries only; every other field is asked of every entry."""

_BY_KEY: dict[str, CatalogField] = {f.key: f for f in CATALOG_FIELDS}
_CONTRACT_REQUIRED: tuple[str, ...] = tuple(f.key for f in CATALOG_FIELDS if f.required)


@dataclass(frozen=True)
class MetadataGaps:
    """The fields one entry leaves empty, by the policy's two levels (Chinese headers, in catalog order)."""

    required: tuple[str, ...] = ()
    """Required fields left empty: a finding."""
    recommended: tuple[str, ...] = ()
    """Recommended fields left empty: shown, not disputed."""


@dataclass(frozen=True)
class MetadataPolicy:
    """Which catalog fields are required and which recommended (attribute names of :class:`CatalogEntry`)."""

    required: tuple[str, ...] = _CONTRACT_REQUIRED
    """Always includes the * fields of the catalog file."""
    recommended: tuple[str, ...] = DEFAULT_RECOMMENDED
    """Never includes a required field."""

    def __post_init__(self) -> None:
        required = _ordered({*_CONTRACT_REQUIRED, *(_field_key(n) for n in self.required)})
        recommended = _ordered({_field_key(n) for n in self.recommended} - set(required))
        object.__setattr__(self, "required", required)
        object.__setattr__(self, "recommended", recommended)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MetadataPolicy:
        """The policy of this deployment, from ``CITYGOV_METADATA_REQUIRED`` and
        ``CITYGOV_METADATA_RECOMMENDED`` (see the module docstring); raises ValueError naming the setting
        and the unknown field."""
        env = os.environ if environ is None else environ
        values: dict[str, tuple[str, ...]] = {}
        for name, var in (("required", REQUIRED_ENV), ("recommended", RECOMMENDED_ENV)):
            raw = env.get(var)
            if raw is None:
                continue
            names = tuple(n.strip() for n in raw.replace("，", ",").split(",") if n.strip())
            try:
                values[name] = tuple(_field_key(n) for n in names)
            except ValueError as exc:
                raise ValueError(f"{var}={raw!r}: {exc}") from None
        return cls(**values)

    def gaps(self, entry: CatalogEntry) -> MetadataGaps:
        """The required and recommended fields ``entry`` leaves empty (those that apply to it)."""

        def empty(keys: Iterable[str]) -> tuple[str, ...]:
            return tuple(
                _BY_KEY[k].header for k in keys if _APPLIES.get(k, _always)(entry) and not getattr(entry, k)
            )

        return MetadataGaps(required=empty(self.required), recommended=empty(self.recommended))

    def labels(self) -> dict[str, list[str]]:
        """The policy as Chinese headers, for a summary or a page."""
        return {"required": [_BY_KEY[k].header for k in self.required],
                "recommended": [_BY_KEY[k].header for k in self.recommended]}


def _always(entry: CatalogEntry) -> bool:
    return True


def _field_key(name: str) -> str:
    """The attribute name of a catalog field given by header, attribute name or alias."""
    wanted = name.strip().lower()
    for f in CATALOG_FIELDS:
        if wanted in (f.key, f.header.lower(), *(a.lower() for a in f.aliases)):
            return f.key
    known = ", ".join(f"{f.header} ({f.key})" for f in CATALOG_FIELDS)
    raise ValueError(f"{name!r} is not a catalog field; known fields: {known}")


def _ordered(keys: set[str]) -> tuple[str, ...]:
    return tuple(f.key for f in CATALOG_FIELDS if f.key in keys)
