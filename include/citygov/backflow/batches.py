"""Backflow batches in a landing folder: the delivery contract and verification of a batch as a whole.

A batch is a folder ``<landing>/<batch_id>/`` holding a data file, ``data.csv`` (a header line, then one
record per row) or ``data.jsonl`` (one JSON object per line, keyed by the 信息项), in UTF-8 or GBK, and
``manifest.json``::

    {"batch_id": "JSDSJ-20261128-001", "resource_code": "320700-SDSJ-0001", "logical_date": "2026-11-28",
     "mode": "full" | "incremental", "declared_rows": 100, "sha256": "<hex of the data file>",
     "schema_version": "1.0", "sender": "江苏省大数据管理中心", "encoding": "utf-8" | "gbk",
     "format": "csv" | "jsonl"}

``format`` defaults by the data file present (``data.jsonl`` → ``jsonl``, else ``csv``).

:func:`verify` decides whether the batch may be loaded at all; a batch with any :class:`Problem` is
rejected whole. Row-level faults (a row with too many or too few fields, a bad value, a missing primary
key) are not batch problems: those rows are quarantined by the loader.

Only regular files inside the landing area are read: a batch folder that is a symbolic link, or holding
one, a directory, a FIFO or anything else that is not a regular file, is refused whole
(``not_regular_file``, :func:`landing_problems`) without a byte of it being read. Every read goes through
:func:`open_batch_file`, which walks from the landing folder one name at a time without following links
and checks what it opened, so a link swapped in after the check is refused as well. A hard link is a
regular file like any other name of it (Linux's ``protected_hardlinks`` lets a user link only files they
own).
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator

from citygov.catalog.schema import CatalogEntry

MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.csv"
DATA_NAMES = {"csv": DATA_NAME, "jsonl": "data.jsonl"}
"""The data file of each format."""
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


class Manifest(BaseModel):
    """The sender's description of a batch (``manifest.json``), validated field by field; unknown fields
    are ignored. :func:`read_manifest` turns a refusal into one sentence naming the field."""

    model_config = ConfigDict(frozen=True, extra="ignore")

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
    schema_version: str | None = None
    sender: str | None = None
    encoding: str = "utf-8"
    """``utf-8`` or ``gbk`` (their aliases are accepted and normalised)."""
    format: str = "csv"
    """``csv`` (``data.csv``) or ``jsonl`` (``data.jsonl``)."""

    @model_validator(mode="before")
    @classmethod
    def _required(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise ValueError("must hold a JSON object")
        missing = [k for k in ("batch_id", "resource_code", "logical_date", "mode", "declared_rows", "sha256") if raw.get(k) in (None, "")]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        return raw

    @field_validator("batch_id", "resource_code", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return str(value).strip()

    @field_validator("schema_version", "sender", mode="before")
    @classmethod
    def _optional_text(cls, value: Any, info: ValidationInfo) -> str | None:
        if info.field_name == "sender":
            return str(value) if value else None
        return str(value) if value is not None else None

    @field_validator("logical_date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> date:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"logical_date {value!r} is not a date (YYYY-MM-DD)") from None

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> str:
        mode = str(value).strip().lower()
        if mode not in MODES:
            raise ValueError(f"mode {value!r} must be one of {', '.join(MODES)}")
        return mode

    @field_validator("declared_rows", mode="before")
    @classmethod
    def _rows(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"declared_rows {value!r} must be a whole number ≥ 0")
        return value

    @field_validator("sha256", mode="before")
    @classmethod
    def _sha(cls, value: Any) -> str:
        sha256 = str(value).strip().lower()
        if not _SHA_RE.match(sha256):
            raise ValueError("sha256 must be 64 hexadecimal characters")
        return sha256

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value: Any) -> str:
        encoding = _ENCODINGS.get(str(value or "utf-8").strip().lower())
        if encoding is None:
            raise ValueError(f"encoding {value!r} is not allowed; use utf-8 or gbk")
        return encoding

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> str:
        fmt = str(value).strip().lower()
        if fmt not in DATA_NAMES:
            raise ValueError(f"format {value!r} must be one of {', '.join(DATA_NAMES)}")
        return fmt


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
        return self.folder / DATA_NAMES[self.manifest.format if self.manifest else _format_of(self.folder)]

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
    ``checksum_mismatch``, ``encoding_mismatch``, ``schema_mismatch``, ``truncated``, ``unreadable``,
    ``row_count_mismatch`` or ``not_regular_file``."""
    message: str
    """What is wrong and where, for a person (no data values)."""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


_ONLY_REGULAR = "only regular files inside the landing area are read"
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def _kind(mode: int) -> str:
    """What a non-regular file is, for a person."""
    for test, kind in (
        (stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _refused(where: str, mode: int) -> BatchProblemError:
    return BatchProblemError(Problem("not_regular_file", f"{where} is {_kind(mode)}; {_ONLY_REGULAR}"))


def _open_at(dir_fd: int | None, name: str, where: str, flags: int) -> int:
    """``os.open`` of ``name`` (in ``dir_fd``) that refuses a link or, once opened, anything not of the
    kind ``flags`` asks for (a directory with ``O_DIRECTORY``, else a regular file) by its ``lstat``."""
    try:
        fd = os.open(name, flags | _NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise
        # ELOOP (a link), ENOTDIR, ENXIO (a socket), EACCES…: say what it is when it is not what we read.
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
        if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) if flags & os.O_DIRECTORY else stat.S_ISREG(mode)):
            raise _refused(where, mode) from None
        raise
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISDIR(mode) if flags & os.O_DIRECTORY else stat.S_ISREG(mode)):
        os.close(fd)
        raise _refused(where, mode)
    return fd


def _open_batch_folder(folder: Path) -> int:
    """A descriptor of the batch folder ``folder``, an entry of its landing folder that is no link."""
    landing = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _open_at(landing, folder.name, folder.name, os.O_RDONLY | os.O_DIRECTORY)
    finally:
        os.close(landing)


def open_batch_file(path: Path | str) -> BinaryIO:
    """``path``, a file of a batch folder in the landing area, opened for reading in binary mode.

    Opened from the landing folder one name at a time, never following a link (``O_NOFOLLOW``), so what
    is read is an entry of the batch folder, itself an entry of the landing folder: never a file
    elsewhere. The descriptor is checked after opening (``fstat``: a regular file), so a link, FIFO or
    folder swapped in after :func:`landing_problems` looked is refused too, and a FIFO never blocks
    (``O_NONBLOCK``). Raises :class:`BatchProblemError` (``not_regular_file``) for anything else, naming
    the entry and never quoting its content; ``FileNotFoundError`` when it is not there.
    """
    path = Path(path)
    folder = _open_batch_folder(path.parent)
    try:
        where = f"{path.parent.name}/{path.name}"
        fd = _open_at(folder, path.name, where, os.O_RDONLY | os.O_NONBLOCK)
    finally:
        os.close(folder)
    return os.fdopen(fd, "rb")


def landing_problems(folder: Path) -> list[Problem]:
    """Why the batch folder ``folder`` cannot be read at all: it is a link, or holds a link or anything
    else that is not a regular file (each named, never read). Empty when every entry is a regular file
    (or the folder is gone: the other checks say so)."""
    try:
        fd = _open_batch_folder(folder)
    except BatchProblemError as exc:
        return [exc.problem]
    except FileNotFoundError:
        return []
    try:
        with os.scandir(fd) as entries:
            modes = sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in entries)
    finally:
        os.close(fd)
    return [_refused(f"{folder.name}/{name}", mode).problem for name, mode in modes if not stat.S_ISREG(mode)]


def scan_landing(folder: Path) -> list[Batch]:
    """Every batch folder under ``folder``, in name order (a missing landing folder has none).

    Never raises for a bad batch: a missing or broken manifest is carried on the :class:`Batch`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    batches = []
    # A link is listed (and refused by verify) whatever it points to: a batch folder linked in from
    # elsewhere must not be read, nor silently ignored.
    for sub in sorted(p for p in folder.iterdir() if p.is_symlink() or p.is_dir()):
        manifest, error = read_manifest(sub)
        batch_id = manifest.batch_id if manifest else sub.name
        batches.append(Batch(batch_id=batch_id, folder=sub, manifest=manifest, manifest_error=error))
    return batches


def read_manifest(folder: Path) -> tuple[Manifest | None, str | None]:
    """The manifest of a batch folder, or None and the reason it cannot be used."""
    try:
        with open_batch_file(folder / MANIFEST_NAME) as handle:
            raw = json.loads(handle.read().decode("utf-8-sig"))
    except FileNotFoundError:
        return None, f"{folder.name}: {MANIFEST_NAME} is missing; the sender must deliver it with the data"
    except BatchProblemError as exc:
        return None, exc.problem.message
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{folder.name}/{MANIFEST_NAME} is not valid UTF-8 JSON: {exc}"
    if not isinstance(raw, dict):
        return None, f"{folder.name}/{MANIFEST_NAME} must hold a JSON object"
    try:
        return _parse_manifest(raw, folder), None
    except ValueError as exc:
        return None, f"{folder.name}/{MANIFEST_NAME}: {exc}"


def _format_of(folder: Path) -> str:
    """The format of a batch whose manifest does not say: by the data file present."""
    return "jsonl" if (folder / DATA_NAMES["jsonl"]).is_file() and not (folder / DATA_NAME).is_file() else "csv"


def _parse_manifest(raw: dict[str, Any], folder: Path) -> Manifest:
    """The manifest of ``folder`` from its JSON; a format it does not give is that of the data file present.
    Raises ValueError with the first problem in words (no values of the data)."""
    data = dict(raw)
    if not data.get("format"):
        data["format"] = _format_of(folder)
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ValueError):
            raise ValueError(str(cause)) from None
        where = ".".join(str(p) for p in error.get("loc", ()))
        raise ValueError(f"{where}: {error.get('msg')}" if where else str(error.get("msg"))) from None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    return _digest_and_decode(path, None)[0]


def _digest_and_decode(path: Path, codec: str | None) -> tuple[str, int | None, bool]:
    """One pass over ``path`` in 1 MiB blocks: its SHA-256, the byte offset where it stops decoding as
    ``codec`` (None if it decodes, or no codec given) and whether it holds any non-ASCII byte; it also
    notes :func:`plain_lines` of the file. The digest runs in a second thread (hashlib lets go of the
    GIL), beside the decoding."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(codec)("strict") if codec else None
    offset, bad_at, non_ascii, plain, last = 0, None, False, True, b""
    with open_batch_file(path) as handle, ThreadPoolExecutor(1) as hasher:
        key = _file_key(path, handle)
        hashing = None
        while True:
            chunk = handle.read(_CHUNK)
            if hashing is not None:
                hashing.result()
            hashing = hasher.submit(digest.update, chunk)
            if not non_ascii and not chunk.isascii():
                non_ascii = True
            plain = plain and _plain_block(chunk)
            if decoder is not None and bad_at is None:
                try:
                    decoder.decode(chunk, not chunk)
                except UnicodeDecodeError as exc:
                    bad_at = offset + exc.start
            if not chunk:
                hashing.result()
                _remember_plain(key, plain and last.endswith(b"\n"))
                return digest.hexdigest(), bad_at, non_ascii
            offset += len(chunk)
            last = chunk


_PLAIN: dict[tuple[str, int, int], bool] = {}
""":func:`plain_lines` of the files the verification pass read, by path, size and modification time."""


def _file_key(path: Path, handle: BinaryIO | None = None) -> tuple[str, int, int]:
    """``path`` with the size and modification time of the file open in ``handle``, or of the entry
    itself (a link is not followed)."""
    info = os.fstat(handle.fileno()) if handle is not None else path.lstat()
    return str(path), info.st_size, info.st_mtime_ns


def _remember_plain(key: tuple[str, int, int], plain: bool) -> None:
    if len(_PLAIN) >= 256:
        _PLAIN.clear()
    _PLAIN[key] = plain


def _plain_block(block: bytes) -> bool:
    """No quote, carriage return or NUL byte in ``block``."""
    return not (b'"' in block or b"\r" in block or b"\0" in block)


def plain_lines(path: Path) -> bool:
    """Whether the file holds no quote, carriage return or NUL byte and ends with a line break: then each
    line is one record and each comma a field separator. Known without reading the file again when the
    verification pass read it (same path, size and modification time)."""
    key = _file_key(path)
    if key not in _PLAIN:
        plain, last = True, b""
        with open_batch_file(path) as handle:
            while plain and (block := handle.read(8 * _CHUNK)):
                plain = _plain_block(block)
                last = block
        _remember_plain(key, plain and last.endswith(b"\n"))
    return _PLAIN[key]


def verify(batch: Batch, entry: CatalogEntry | None, *, scan: bool = True) -> list[Problem]:
    """Everything that makes ``batch`` unloadable as a whole; an empty list means it may be loaded.

    Checks, in order: the folder is no link and holds regular files only (:func:`landing_problems`;
    else nothing of it is read), the manifest is present and valid (and names the folder's batch), the
    resource code is in the catalog, the data file exists and is not empty, its SHA-256 matches and it
    decodes in the declared encoding (one pass), a CSV header matches the entry's 信息项; then, with ``scan``, the
    last record is complete (not truncated), the file parses, and the declared row count equals the data
    records (a second pass). The loader passes ``scan=False`` and makes those checks while it streams
    the rows (:class:`RecordStream` raises :class:`BatchProblemError`). Bounded memory.
    """
    refused = landing_problems(batch.folder)
    if refused:
        return refused
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
    where = f"{batch.folder.name}/{path.name}"
    if not path.is_file():
        return [*problems, Problem("data_missing", f"{where} is missing (format {manifest.format})")]
    if path.stat().st_size == 0:
        return [*problems, Problem("empty_file", f"{where} is empty (0 bytes); not even a header")]
    try:
        actual, bad_at, non_ascii = _digest_and_decode(path, _CODECS[manifest.encoding])
        encoding_problem = _encoding_problem(path, manifest.encoding, bad_at, non_ascii)
    except BatchProblemError as exc:  # swapped for a link or a FIFO since landing_problems looked
        return [*problems, exc.problem]
    if actual != manifest.sha256:
        problems.append(
            Problem(
                "checksum_mismatch",
                f"{where} has sha256 {actual[:12]}…, the manifest declares "
                f"{manifest.sha256[:12]}…; the file changed or was cut in transit, ask the sender to resend",
            )
        )
    if encoding_problem:
        return [*problems, encoding_problem]
    columns = [c.name for c in entry.columns] if entry is not None else None
    try:
        stream = RecordStream(path, manifest.encoding, manifest.format, columns)
    except BatchProblemError as exc:
        return [*problems, exc.problem]
    if entry is not None and manifest.format == "csv":
        schema = _header_problem(stream.header, entry, where)
        if schema:
            problems.append(schema)
    if not scan:
        stream.close()
        return problems
    try:
        for _ in stream:
            pass
    except BatchProblemError as exc:
        return [*problems, exc.problem]
    problems.extend(stream.count_problems(manifest.declared_rows))
    return problems


def _header_problem(header: list[str], entry: CatalogEntry, where: str) -> Problem | None:
    declared = [c.name for c in entry.columns]
    missing = [c for c in declared if c not in header]
    extra = [c for c in header if c not in declared]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if not (missing or extra or duplicated):
        return None
    parts = []
    if missing:
        parts.append(f"missing declared 信息项 {', '.join(missing)}")
    if extra:
        parts.append(f"undeclared column(s) {', '.join(extra)}")
    if duplicated:
        parts.append(f"repeated column(s) {', '.join(duplicated)}")
    return Problem("schema_mismatch", f"{where} header does not match {entry.code}: {'; '.join(parts)}")


def _encoding_problem(path: Path, encoding: str, bad_at: int | None, non_ascii: bool) -> Problem | None:
    where = f"{path.parent.name}/{path.name}"
    if encoding == "gbk" and non_ascii and _digest_and_decode(path, "utf-8")[1] is None:
        # Chinese text that is valid UTF-8 is almost never meant as GBK: the manifest is wrong.
        return Problem(
            "encoding_mismatch",
            f"{where} is UTF-8 but the manifest declares gbk; the manifest's encoding must match the file",
        )
    if bad_at is not None:
        hint = " (it looks like GBK)" if encoding == "utf-8" and _digest_and_decode(path, "gb18030")[1] is None else ""
        return Problem(
            "encoding_mismatch",
            f"{where} is not valid {encoding} at byte {bad_at}{hint}; the manifest's encoding must match the file",
        )
    return None


class BatchProblemError(Exception):
    """The data file turned out unloadable while being read (truncated, unparseable)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class RecordStream:
    """The data records of a batch file, streamed: iterate for ``(line, fields, fault)`` per non-blank
    record, where ``fields`` are the values in ``header`` order as text (``""`` for empty or JSON null)
    and ``fault`` is None or ``(reason_code, message)`` for a record that must be quarantined (a CSV
    record with too many or too few fields; a JSON line that is not valid JSON, not an object, or has
    missing or extra keys).

    ``header`` is the CSV header, or for JSON lines the declared 信息项 (``columns``). Raises
    :class:`BatchProblemError` for a file that ends inside a record (``truncated``) or cannot be parsed
    (``unreadable``); after a complete pass :meth:`count_problems` compares the record count to the
    manifest. One record in memory at a time.
    """

    def __init__(self, path: Path, encoding: str, fmt: str, columns: list[str] | None) -> None:
        self.path, self.format = path, fmt
        self.where = f"{path.parent.name}/{path.name}"
        self.count = 0
        self.truncated_line: int | None = None
        self._handle = io.TextIOWrapper(open_batch_file(path), encoding=_CODECS[encoding], newline="")
        if fmt == "csv":
            self._reader = csv.reader(self._handle, strict=True)
            try:
                first = next(self._reader, [])
            except csv.Error as exc:
                self.close()
                raise self._csv_problem(exc) from None
            self.header = [h.replace("\ufeff", "").strip() for h in first]
        else:
            self.header = list(columns or [])
        self._keys = set(self.header) if fmt == "jsonl" and columns is not None else None

    def close(self) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[tuple[int, list[str], tuple[str, str] | None]]:
        try:
            yield from (self._csv() if self.format == "csv" else self._jsonl())
        finally:
            self.close()

    def _csv_problem(self, exc: csv.Error) -> BatchProblemError:
        if not _ends_with_newline(self.path):
            return BatchProblemError(Problem(
                "truncated",
                f"{self.where} is truncated: it ends inside a record ({exc}); ask the sender to resend the whole file",
            ))
        return BatchProblemError(Problem("unreadable", f"{self.where} cannot be parsed as CSV: {exc}"))

    def _csv(self) -> Iterator[tuple[int, list[str], tuple[str, str] | None]]:
        reader, width = self._reader, len(self.header)
        line = reader.line_num
        last_start = last_width = 0
        try:
            for fields in reader:
                start = line + 1
                line = reader.line_num
                if not (fields and fields[0].strip()) and not "".join(fields).strip():
                    continue  # a blank line, or one of empty fields only
                self.count += 1
                last_start, last_width = start, len(fields)
                if last_width != width:
                    word = "extra" if len(fields) > width else "missing"
                    yield start, fields, (
                        "field_count", f"line {start}: {len(fields)} fields where the header has {width} ({word} fields)"
                    )
                else:
                    yield start, fields, None
        except csv.Error as exc:
            raise self._csv_problem(exc) from None
        if last_start and last_width != width and not _ends_with_newline(self.path):
            self.truncated_line = last_start
            raise BatchProblemError(Problem(
                "truncated",
                f"{self.where} is truncated: line {last_start} ends mid-record without a line break; "
                "ask the sender to resend the whole file",
            ))

    def _jsonl(self) -> Iterator[tuple[int, list[str], tuple[str, str] | None]]:
        header, keys = self.header, self._keys
        for number, text in enumerate(self._handle, start=1):
            body = text.strip().lstrip("\ufeff") if number == 1 else text.strip()
            if not body:
                continue
            complete = text.endswith(("\n", "\r"))
            try:
                obj = json.loads(body, parse_float=str, parse_int=str)
            except json.JSONDecodeError as exc:
                if not complete:
                    self.truncated_line = number
                    raise BatchProblemError(Problem(
                        "truncated",
                        f"{self.where} is truncated: line {number} is cut off ({exc.msg}) without a line break; "
                        "ask the sender to resend the whole file",
                    )) from None
                self.count += 1
                yield number, [], ("bad_json", f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            self.count += 1
            if not isinstance(obj, dict):
                yield number, [], ("not_object", f"line {number}: a JSON {type(obj).__name__}, not an object")
                continue
            if keys is not None and obj.keys() != keys:
                missing = [k for k in header if k not in obj]
                extra = [k for k in obj if k not in keys]
                parts = ([f"missing key(s) {', '.join(missing)}"] if missing else []) + (
                    [f"extra key(s) {', '.join(extra)}"] if extra else []
                )
                yield number, [_json_text(v) for v in obj.values()], ("field_keys", f"line {number}: {'; '.join(parts)}")
                continue
            yield number, [_json_text(obj.get(k)) for k in header], None

    def count_problems(self, declared: int) -> list[Problem]:
        """After a complete pass: the row-count mismatch, if any."""
        if self.count == declared:
            return []
        return [Problem(
            "row_count_mismatch",
            f"{self.path.parent.name}: the manifest declares {declared} rows, {self.path.name} holds {self.count}",
        )]


def _json_text(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold (numbers keep their exact text, null is empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _ends_with_newline(path: Path) -> bool:
    with open_batch_file(path) as handle:
        handle.seek(max(os.fstat(handle.fileno()).st_size - 1, 0))
        return handle.read(1) in (b"\n", b"\r")
