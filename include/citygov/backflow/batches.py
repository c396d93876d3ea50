"""Backflow batches in a landing folder: the delivery contract and verification of a batch as a whole.

A batch is a folder ``<landing>/<batch_id>/`` holding ``data.csv`` (UTF-8 or GBK) and ``manifest.json``::

    {"batch_id": "JSDSJ-20261128-001", "resource_code": "320700-SDSJ-0001", "logical_date": "2026-11-28",
     "mode": "full" | "incremental", "declared_rows": 100, "sha256": "<hex of data.csv>",
     "schema_version": "1.0", "sender": "江苏省大数据管理中心", "encoding": "utf-8" | "gbk"}

:func:`verify` decides whether the batch may be loaded at all; a batch with any :class:`Problem` is
rejected whole. Row-level faults (a row with too many or too few fields, a bad value, a missing primary
key) are not batch problems: those rows are quarantined by the loader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from citygov.catalog.schema import CatalogEntry

MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.csv"
MODES = ("full", "incremental")
_CHUNK = 1 << 20
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ENCODINGS = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
    "gbk": "gbk", "gb2312": "gbk", "gb18030": "gbk", "cp936": "gbk",
}
"""Encodings the contract allows, by the names senders write, to the contract's two names."""
_CODECS = {"utf-8": "utf-8-sig", "gbk": "gb18030"}
"""How each contract encoding is decoded (a BOM is tolerated; GB18030 is GBK's superset)."""


@dataclass(frozen=True)
class Manifest:
    """The sender's description of a batch (``manifest.json``)."""

    batch_id: str
    resource_code: str
    """Catalog 信息资源代码 of the dataset the batch belongs to."""
    logical_date: date
    mode: str
    """``full`` replaces the dataset; ``incremental`` upserts on the primary key."""
    declared_rows: int
    """Data rows in ``data.csv`` (the header not counted)."""
    sha256: str
    """Hex SHA-256 of ``data.csv`` as sent."""
    schema_version: str | None
    sender: str | None
    encoding: str
    """``utf-8`` or ``gbk``."""


@dataclass(frozen=True)
class Batch:
    """One landed batch; ``manifest`` is None when it is missing or unreadable (``manifest_error`` says why)."""

    batch_id: str
    """The manifest's batch id, else the folder name."""
    folder: Path
    manifest: Manifest | None
    manifest_error: str | None = None

    @property
    def data_path(self) -> Path:
        return self.folder / DATA_NAME

    @property
    def resource_code(self) -> str | None:
        return self.manifest.resource_code if self.manifest else None

    @property
    def logical_date(self) -> date | None:
        return self.manifest.logical_date if self.manifest else None

    @property
    def sender(self) -> str | None:
        return self.manifest.sender if self.manifest else None


@dataclass(frozen=True)
class Problem:
    """Why a batch cannot be loaded."""

    code: str
    """``manifest_missing``, ``manifest_invalid``, ``unknown_resource``, ``data_missing``, ``empty_file``,
    ``checksum_mismatch``, ``encoding_mismatch``, ``schema_mismatch``, ``truncated``, ``unreadable`` or
    ``row_count_mismatch``."""
    message: str
    """What is wrong and where, for a person (no data values)."""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def scan_landing(folder: Path) -> list[Batch]:
    """Every batch folder under ``folder``, in name order (a missing landing folder has none).

    Never raises for a bad batch: a missing or broken manifest is carried on the :class:`Batch`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    batches = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        manifest, error = read_manifest(sub)
        batch_id = manifest.batch_id if manifest else sub.name
        batches.append(Batch(batch_id=batch_id, folder=sub, manifest=manifest, manifest_error=error))
    return batches


def read_manifest(folder: Path) -> tuple[Manifest | None, str | None]:
    """The manifest of a batch folder, or None and the reason it cannot be used."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None, f"{folder.name}: {MANIFEST_NAME} is missing; the sender must deliver it with the data"
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{folder.name}/{MANIFEST_NAME} is not valid UTF-8 JSON: {exc}"
    if not isinstance(raw, dict):
        return None, f"{folder.name}/{MANIFEST_NAME} must hold a JSON object"
    try:
        return _parse_manifest(raw), None
    except ValueError as exc:
        return None, f"{folder.name}/{MANIFEST_NAME}: {exc}"


def _parse_manifest(raw: dict[str, Any]) -> Manifest:
    missing = [k for k in ("batch_id", "resource_code", "logical_date", "mode", "declared_rows", "sha256") if raw.get(k) in (None, "")]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    try:
        logical_date = date.fromisoformat(str(raw["logical_date"]))
    except ValueError:
        raise ValueError(f"logical_date {raw['logical_date']!r} is not a date (YYYY-MM-DD)") from None
    mode = str(raw["mode"]).strip().lower()
    if mode not in MODES:
        raise ValueError(f"mode {raw['mode']!r} must be one of {', '.join(MODES)}")
    declared = raw["declared_rows"]
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 0:
        raise ValueError(f"declared_rows {declared!r} must be a whole number ≥ 0")
    sha256 = str(raw["sha256"]).strip().lower()
    if not _SHA_RE.match(sha256):
        raise ValueError("sha256 must be 64 hexadecimal characters")
    encoding = _ENCODINGS.get(str(raw.get("encoding") or "utf-8").strip().lower())
    if encoding is None:
        raise ValueError(f"encoding {raw.get('encoding')!r} is not allowed; use utf-8 or gbk")
    return Manifest(
        batch_id=str(raw["batch_id"]).strip(),
        resource_code=str(raw["resource_code"]).strip(),
        logical_date=logical_date,
        mode=mode,
        declared_rows=declared,
        sha256=sha256,
        schema_version=str(raw["schema_version"]) if raw.get("schema_version") is not None else None,
        sender=str(raw["sender"]) if raw.get("sender") else None,
        encoding=encoding,
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(batch: Batch, entry: CatalogEntry | None) -> list[Problem]:
    """Everything that makes ``batch`` unloadable as a whole; an empty list means it may be loaded.

    Checks, in order: the manifest is present and valid (and names the folder's batch), the resource
    code is in the catalog, the data file exists and is not empty, its SHA-256 matches, it decodes in
    the declared encoding, its header matches the entry's 信息项, the last record is complete (not
    truncated), and the declared row count equals the data rows. Streams the file; bounded memory.
    """
    if batch.manifest is None:
        code = "manifest_missing" if not (batch.folder / MANIFEST_NAME).is_file() else "manifest_invalid"
        return [Problem(code, batch.manifest_error or "manifest unusable")]
    manifest = batch.manifest
    problems: list[Problem] = []
    if manifest.batch_id != batch.folder.name:
        problems.append(
            Problem("manifest_invalid", f"manifest batch_id {manifest.batch_id} differs from its folder {batch.folder.name}")
        )
    if entry is None:
        problems.append(
            Problem(
                "unknown_resource",
                f"resource_code {manifest.resource_code} is not a published catalog entry; "
                "the sender must use a catalogued 信息资源代码",
            )
        )
    path = batch.data_path
    if not path.is_file():
        return [*problems, Problem("data_missing", f"{batch.folder.name}/{DATA_NAME} is missing")]
    if path.stat().st_size == 0:
        return [*problems, Problem("empty_file", f"{batch.folder.name}/{DATA_NAME} is empty (0 bytes); not even a header")]
    actual = file_sha256(path)
    if actual != manifest.sha256:
        problems.append(
            Problem(
                "checksum_mismatch",
                f"{batch.folder.name}/{DATA_NAME} has sha256 {actual[:12]}…, the manifest declares "
                f"{manifest.sha256[:12]}…; the file changed or was cut in transit, ask the sender to resend",
            )
        )
    encoding_problem = _check_encoding(path, manifest.encoding)
    if encoding_problem:
        return [*problems, encoding_problem]
    try:
        header, records, truncated = _scan_records(path, manifest.encoding)
    except csv.Error as exc:
        if not _ends_with_newline(path):
            return [*problems, Problem("truncated", f"{batch.folder.name}/{DATA_NAME} is truncated: it ends inside a "
                                       f"record ({exc}); ask the sender to resend the whole file")]
        return [*problems, Problem("unreadable", f"{batch.folder.name}/{DATA_NAME} cannot be parsed as CSV: {exc}")]
    if entry is not None:
        declared = [c.name for c in entry.columns]
        missing = [c for c in declared if c not in header]
        extra = [c for c in header if c not in declared]
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if missing or extra or duplicated:
            parts = []
            if missing:
                parts.append(f"missing declared 信息项 {', '.join(missing)}")
            if extra:
                parts.append(f"undeclared column(s) {', '.join(extra)}")
            if duplicated:
                parts.append(f"repeated column(s) {', '.join(duplicated)}")
            problems.append(
                Problem("schema_mismatch", f"{batch.folder.name}/{DATA_NAME} header does not match {entry.code}: {'; '.join(parts)}")
            )
    if truncated is not None:
        problems.append(
            Problem(
                "truncated",
                f"{batch.folder.name}/{DATA_NAME} is truncated: line {truncated} ends mid-record without a "
                "line break; ask the sender to resend the whole file",
            )
        )
    if records != manifest.declared_rows:
        problems.append(
            Problem(
                "row_count_mismatch",
                f"{batch.folder.name}: the manifest declares {manifest.declared_rows} rows, {DATA_NAME} holds {records}",
            )
        )
    return problems


def _decodes(path: Path, codec: str) -> tuple[int | None, bool]:
    """The byte offset where ``path`` stops decoding as ``codec`` (None if it decodes), and whether it has
    any non-ASCII byte."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset, non_ascii = 0, False
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            non_ascii = non_ascii or any(b > 0x7F for b in chunk)
            try:
                decoder.decode(chunk, not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start, True
            if not chunk:
                return None, non_ascii
            offset += len(chunk)


def _check_encoding(path: Path, encoding: str) -> Problem | None:
    where = f"{path.parent.name}/{path.name}"
    bad_at, non_ascii = _decodes(path, _CODECS[encoding])
    if encoding == "gbk" and non_ascii and _decodes(path, "utf-8")[0] is None:
        # Chinese text that is valid UTF-8 is almost never meant as GBK: the manifest is wrong.
        return Problem(
            "encoding_mismatch",
            f"{where} is UTF-8 but the manifest declares gbk; the manifest's encoding must match the file",
        )
    if bad_at is not None:
        hint = " (it looks like GBK)" if encoding == "utf-8" and _decodes(path, "gb18030")[0] is None else ""
        return Problem(
            "encoding_mismatch",
            f"{where} is not valid {encoding} at byte {bad_at}{hint}; the manifest's encoding must match the file",
        )
    return None


def open_records(path: Path, encoding: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and an iterator of ``(line number, fields)`` for each non-blank data record."""
    handle = path.open("r", encoding=_CODECS[encoding], newline="")
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader, [])
    except Exception:
        handle.close()
        raise
    header = [h.replace("\ufeff", "").strip() for h in header]

    def records() -> Iterator[tuple[int, list[str]]]:
        with handle:
            line = reader.line_num
            for fields in reader:
                start = line + 1
                line = reader.line_num
                if any(f.strip() for f in fields):
                    yield start, fields

    return header, records()


def _scan_records(path: Path, encoding: str) -> tuple[list[str], int, int | None]:
    """Header, number of data records, and the line of a truncated last record (None if complete)."""
    header, records = open_records(path, encoding)
    count, last = 0, None
    for line, fields in records:
        count += 1
        last = (line, fields)
    truncated = None
    if last is not None and not _ends_with_newline(path) and len(last[1]) != len(header):
        truncated = last[0]
    return header, count, truncated


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - 1, 0))
        return handle.read(1) in (b"\n", b"\r")
