"""A governance store left one schema revision behind the code, as after deploying a release with a new
migration and before ``govern store upgrade`` has run."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from citygov.store import MIGRATIONS, head_revisions, upgrade


def revision_before_head() -> str:
    """The revision the newest migration starts from."""
    (head,) = head_revisions()
    before = ScriptDirectory(str(MIGRATIONS)).get_revision(head).down_revision
    assert isinstance(before, str), f"{head} merges branches: pick a linear revision for this helper"
    return before


def make_store_one_revision_behind(url: str) -> str:
    """Migrate the (empty) store at ``url`` to the revision before head; return that revision."""
    before = revision_before_head()
    upgrade(url, before)
    return before
