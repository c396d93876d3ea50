"""The sharing trace (共享过程可追溯): every share the exchange platform served, with the dataset's state then.

Behaviour lives in :mod:`citygov.trace`; these are the rows it keeps. A share is imported once (keyed on
the platform's request id) and never rewritten: it records the quality the dataset had when it was served.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citygov.store.models_base import TS, Base


class ShareTrace(Base):
    """One share request the exchange platform served, linked to the dataset's state when it was served."""

    __tablename__ = "share_traces"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The exchange platform's request id: a request is imported exactly once."""
    entry_code: Mapped[str] = mapped_column(String(64), index=True)
    """The dataset shared (信息资源代码)."""
    requester: Mapped[str] = mapped_column(String(255), index=True)
    """The requesting department (who received the data)."""
    provider: Mapped[str | None] = mapped_column(String(255))
    """The dataset's provider when it was served (the catalog's 信息资源提供方)."""
    requested_at: Mapped[datetime | None] = mapped_column(TS)
    served_at: Mapped[datetime] = mapped_column(TS, index=True)
    """When the platform satisfied the request (its ``satisfied_at``)."""
    served_on: Mapped[date] = mapped_column(Date, index=True)
    """The city's day of ``served_at``: the logical date the state is taken at."""
    purpose: Mapped[str | None] = mapped_column(Text)
    """用途 as the log gives it (None when the log has no purpose column)."""
    share_method: Mapped[str | None] = mapped_column(String(64))
    """共享方式: the log's own when it has one, else the catalog entry's."""
    score: Mapped[float | None] = mapped_column(Float)
    """The dataset's latest GB/T 36344 score on or before ``served_on`` (None: none yet, or not scored)."""
    grade: Mapped[str | None] = mapped_column(String(8))
    scored_on: Mapped[date | None] = mapped_column(Date)
    """The logical date of that score."""
    score_status: Mapped[str] = mapped_column(String(16))
    """``scored``, ``not_scored`` (its validation did not run that day) or ``none`` (never scored by then)."""
    open_high: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    """Open high-severity dispute items of the dataset at ``served_at``: id, rule, title, status then."""
    batches: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Backflow batches the dataset held when served (the last full load and the increments after it)."""
    source: Mapped[str] = mapped_column(String(512))
    """Where the request was read: ``<connection>/<table>``."""
    imported_at: Mapped[datetime] = mapped_column(TS)
