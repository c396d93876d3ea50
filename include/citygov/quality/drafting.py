"""Drafting a suite for one catalog entry from its data: the one path ``govern suites draft`` and
``govern city init`` share.

The rules themselves are proposed by :func:`citygov.quality.suites.draft_suite`; this module reads the
profile they are proposed from (a table of a database source, a file of a folder source, else only the
catalog's 信息项) and says where the draft came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from citygov.catalog.schema import CatalogEntry
from citygov.sources import ConnectionInfo, open_source

if TYPE_CHECKING:
    from citygov.quality.suites import DraftPolicy


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
    :func:`~citygov.quality.suites.draft_suite`."""
    from citygov.quality.profile import catalog_profile, profile_source
    from citygov.quality.suites import draft_suite

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
