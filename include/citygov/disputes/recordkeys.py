"""Record keys under 可用不可见: what identifies a disputed record is never kept as typed.

A dispute raised against one record names it by its primary key, and for many datasets the key *is*
personal data (人口基本信息 is keyed by the resident ID number). The queue keeps two things instead:

- a **keyed hash** (HMAC-SHA256 with the deployment's secret) of the key's canonical form, written
  ``<key id>:<hex>``; deduplication and lookups compare hashes, and the responsible department's officer
  finds the row by hashing the key column of their own source (:mod:`citygov.disputes.locate`);
- a **masked form** for display, by the mask kind of each key column (the suite's
  ``meta.citygov.columns[...].mask``, else the kind the value looks like), else a generic mask that
  keeps only the first and last character of each part.

The secret (:class:`Keyring`) comes from the deployment, never from the repository:
``CITYGOV_RECORD_KEY_SECRET`` (at least 16 characters), with retired secrets in
``CITYGOV_RECORD_KEY_PREVIOUS_SECRETS`` (comma separated) so hashes made before a rotation still match;
without it, the file ``CITYGOV_RECORD_KEY_SECRET_FILE`` (default ``<data dir>/record_key.secret``,
created with a random secret, mode 0600, on first use; first line current, further lines previous).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citygov.identifiers import key_text, mask_key, mask_text
from citygov.settings import data_dir

SECRET_ENV = "CITYGOV_RECORD_KEY_SECRET"
PREVIOUS_ENV = "CITYGOV_RECORD_KEY_PREVIOUS_SECRETS"
SECRET_FILE_ENV = "CITYGOV_RECORD_KEY_SECRET_FILE"
MIN_SECRET = 16
"""Shortest secret accepted (characters)."""
PART_SEPARATORS = re.compile(r"\s*[,，|]\s*")
"""How the parts of a compound key are typed: ``320706198601011234, 01`` (also ``，`` and ``|``)."""


class RecordKeySecretError(RuntimeError):
    """The record-key secret is missing or unusable; says where it is set."""


@dataclass(frozen=True)
class Keyring:
    """The current secret and the retired ones still accepted for matching."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @staticmethod
    def key_id(secret: bytes) -> str:
        """A short public name of a secret (not enough to recover it): stored in front of each hash."""
        return hashlib.sha256(b"citygov record key id\x00" + secret).hexdigest()[:8]

    def digest(self, canonical: str, secret: bytes | None = None) -> str:
        """``<key id>:<HMAC-SHA256 hex>`` of a canonical key under ``secret`` (default: the current one)."""
        secret = self.current if secret is None else secret
        mac = hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{self.key_id(secret)}:{mac}"

    def digests(self, canonical: str) -> list[str]:
        """The key's hash under every known secret, current first (what a lookup compares)."""
        return [self.digest(canonical, s) for s in (self.current, *self.previous)]

    def secret_for(self, digest: str) -> bytes | None:
        """The secret a stored hash was made with, or None when it has been retired for good."""
        kid = digest.split(":", 1)[0]
        return next((s for s in (self.current, *self.previous) if self.key_id(s) == kid), None)


def _check(secret: str, where: str) -> bytes:
    if len(secret) < MIN_SECRET:
        raise RecordKeySecretError(
            f"the record-key secret in {where} is {len(secret)} characters long; use at least {MIN_SECRET} "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return secret.encode("utf-8")


def secret_file() -> Path:
    """Where the embedded install keeps its generated secret."""
    return Path(os.environ.get(SECRET_FILE_ENV) or data_dir() / "record_key.secret")


def _file_secrets(path: Path) -> list[str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes starting at once agree on the one file written first
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


_CACHE: dict[tuple[object, ...], Keyring] = {}


def keyring() -> Keyring:
    """The deployment's keyring (see the module docstring for where it is set)."""
    current, previous = os.environ.get(SECRET_ENV, "").strip(), os.environ.get(PREVIOUS_ENV, "")
    if current:
        cache_key: tuple[object, ...] = ("env", current, previous)
        if cache_key not in _CACHE:
            old = [p.strip() for p in previous.split(",") if p.strip()]
            _CACHE[cache_key] = Keyring(
                _check(current, SECRET_ENV), tuple(_check(p, PREVIOUS_ENV) for p in old)
            )
        return _CACHE[cache_key]
    path = secret_file()
    stamp = path.stat().st_mtime_ns if path.exists() else None
    cache_key = ("file", str(path), stamp)
    if stamp is None or cache_key not in _CACHE:
        lines = _file_secrets(path)
        if not lines:
            raise RecordKeySecretError(f"the record-key secret file {path} is empty; put a secret on its first line")
        ring = Keyring(_check(lines[0], str(path)), tuple(_check(s, str(path)) for s in lines[1:]))
        _CACHE[("file", str(path), path.stat().st_mtime_ns)] = ring
        return ring
    return _CACHE[cache_key]


# --- the key itself --------------------------------------------------------------------------------------


def key_parts(raw: str, columns: int = 1) -> list[str]:
    """The parts of a typed key: split at commas (or ``，``, ``|``) only when the primary key has several
    columns, each stripped; an ID number's ``x`` is upper-cased, as the standard writes it."""
    text = raw.strip()
    return [key_text(p) for p in (PART_SEPARATORS.split(text) if columns > 1 else [text])]


def canonical(parts: Sequence[object]) -> str:
    """What is hashed: the parts as text, joined by the unit separator (so ``a,b`` ≠ ``a|b`` cannot clash)."""
    return "\x1f".join(key_text(p) for p in parts)


@dataclass(frozen=True)
class ProtectedKey:
    """A record key as the queue keeps it."""

    display: str
    """The masked form shown to people (``320706********1234``)."""
    digest: str
    """The keyed hash under the current secret, ``<key id>:<hex>``; stored and compared."""
    digests: tuple[str, ...]
    """The hash under every known secret, current first: what a lookup compares."""


def protect(raw: str | None, *, kinds: Sequence[str | None] = (), generated: bool = False,
            ring: Keyring | None = None) -> ProtectedKey | None:
    """Hash and mask a record key; None for no key.

    ``kinds`` are the mask kinds of the primary-key columns (their count decides whether the key is
    split into parts). ``generated`` keys are the pipeline's own (a batch id and a reason code): not
    personal, so shown as they are with any identifier inside masked.
    """
    if raw is None or not str(raw).strip():
        return None
    ring = ring or keyring()
    parts = key_parts(str(raw), max(1, len(kinds)))
    text = canonical(parts)
    if generated:
        display = mask_text(str(raw).strip())
    else:
        display = mask_key(parts, kinds)
    digests = tuple(ring.digests(text))
    return ProtectedKey(display, digests[0], digests)
