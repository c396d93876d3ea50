"""Quality inspection tables: validation runs, expectation results, dataset score history.

Everything stored here is masked first (``citygov.quality.masking``): samples, evidence and the GX
validation result the Data Docs are rebuilt from.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citygov.store.models_base import TS, Base, BigId

# --- quality -----------------------------------------------------------------------------------------


class QualityRun(Base):
    """One validation of one dataset with its suite, for a logical date (rerunning the date replaces it)."""

    __tablename__ = "quality_runs"
    __table_args__ = (UniqueConstraint("entry_code", "logical_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_code: Mapped[str] = mapped_column(String(64), index=True)
    logical_date: Mapped[date] = mapped_column(Date)
    suite_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    """``passed``, ``failed``, ``no_suite``, ``suite_invalid``, ``unreachable`` or ``error``."""
    rows_evaluated: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    data_docs_path: Mapped[str | None] = mapped_column(String(1024))
    department: Mapped[str | None] = mapped_column(String(255), index=True)
    """The entry's provider: the responsible unit."""
    conn_id: Mapped[str | None] = mapped_column(String(250))
    location: Mapped[str | None] = mapped_column(String(1024))
    engine: Mapped[str | None] = mapped_column(String(16))
    """The engine that ran: ``stream``, ``fused`` or ``gx`` (``pandas-chunks`` on files inspected before the streaming engine)."""
    expectations_total: Mapped[int | None] = mapped_column(Integer)
    expectations_failed: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    """Why the dataset could not be validated (status ``unreachable``, ``error``, ``suite_invalid``)."""
    validation_result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """The masked GX ``ExpectationSuiteValidationResult`` (JSON), what Data Docs are built from."""


class CheckResult(Base):
    """One expectation's result within a quality run; samples are masked before they are stored."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"), index=True)
    expectation: Mapped[str] = mapped_column(String(255))
    column: Mapped[str | None] = mapped_column(String(255))
    dimension: Mapped[str] = mapped_column(String(16))
    success: Mapped[bool]
    element_count: Mapped[int | None] = mapped_column(BigInteger)
    unexpected_count: Mapped[int | None] = mapped_column(BigInteger)
    masked_samples: Mapped[list[dict[str, object] | str]] = mapped_column(JSON, default=list)
    """Up to 20 failing rows, each ``{"key", "value", "reason"}`` masked (:func:`citygov.quality.masking.row_samples`);
    runs stored before rows had keys hold masked values alone (read with ``masking.shown_samples``)."""
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    evaluated_count: Mapped[int | None] = mapped_column(BigInteger)
    """Elements the expectation judged (non-NULL values, or rows left after ``ignore_row_if``): the B of
    GB/T 36344's X = A/B."""
    position: Mapped[int | None] = mapped_column(Integer)
    """The expectation's position in its suite."""
    error: Mapped[str | None] = mapped_column(Text)
    """Set when the expectation could not be evaluated."""


class DatasetScore(Base):
    """A dataset's GB/T 36344 score at a logical date: history, never overwritten by later dates."""

    __tablename__ = "dataset_scores"
    __table_args__ = (UniqueConstraint("entry_code", "logical_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_code: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str | None] = mapped_column(String(255), index=True)
    logical_date: Mapped[date] = mapped_column(Date, index=True)
    conformity: Mapped[float | None] = mapped_column(Float)
    completeness: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    consistency: Mapped[float | None] = mapped_column(Float)
    timeliness: Mapped[float | None] = mapped_column(Float)
    accessibility: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    """0–100; NULL when the dataset is not scored."""
    grade: Mapped[str | None] = mapped_column(String(8))
    """NULL when the dataset is not scored."""
    status: Mapped[str] = mapped_column(String(16), default="scored", server_default="scored")
    """``scored``, or ``not_scored`` when its validation did not run (see ``not_scored_reason``)."""
    not_scored_reason: Mapped[str | None] = mapped_column(Text)
    """Why the dataset has no score: what stopped its validation (masked like every stored error)."""
    weights: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(TS)
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """How the score came about: per dimension the passed and evaluated counts (A and B), the sources
    (expectations, patrol findings) and the weights actually applied."""
