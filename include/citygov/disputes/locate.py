"""The record locator: the responsible department finds the disputed record in its own source.

The queue keeps a record key only as a keyed hash and a masked form (:mod:`citygov.disputes.recordkeys`).
An officer of the item's responsible unit asks the locator, which reads the primary-key columns of the
entry's table or file in the department's own source, hashes each row's key with the secret the item's
hash was made with, and answers the rows whose hash matches, with their key in clear, to that officer
only. Nothing of the answer is stored: the audit trail records that the officer located the record and
how many rows matched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.disputes.errors import InvalidInput, NotPermitted
from citygov.disputes.queue import _actor, _event, _load, _now, _transaction
from citygov.disputes.recordkeys import canonical, keyring
from citygov.disputes.states import Role
from citygov.sources import ConnectionInfo, MissingColumns, open_source
from citygov.store.models import CatalogEntryRow

MAX_MATCHES = 20
"""Most rows answered (a key is a primary key: more than one match means the source has duplicates)."""


@dataclass(frozen=True)
class LocatedRecord:
    """Where the disputed record is in the department's own source."""

    dispute_id: int
    entry_code: str
    conn_id: str
    location: str
    """The table, or the file inside the source folder."""
    key_columns: list[str]
    matches: list[dict[str, Any]]
    """Each matching row: ``key`` (column → value, in clear) and, for files, ``row`` (1 = the first data row)."""
    scanned: int
    """Rows read."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ConnectionLookup = Callable[[str], ConnectionInfo | None]


def may_locate(role: str, department: str | None, responsible_unit: str | None) -> bool:
    """Whether a person of queue ``role`` and ``department`` may locate the records of an item of
    ``responsible_unit``: an officer of that unit only (the locator and the item page ask this)."""
    return role == Role.OFFICER and bool(department) and department == responsible_unit


def locate_record(
    store: Engine,
    dispute_id: int,
    *,
    by: str,
    connections: Mapping[str, ConnectionInfo] | ConnectionLookup,
    now: datetime | None = None,
) -> LocatedRecord:
    """Find the rows of the item's dataset whose primary key hashes to the item's record key.

    Only an officer of the item's responsible unit may ask (stewards and consumers see the masked key
    only). Refused with a clear message when the item has no record key, the entry declares no 主键,
    the secret its key was hashed with is no longer configured, or the source cannot be read.
    """
    lookup = connections.get if isinstance(connections, Mapping) else connections
    moment = _now(now)
    with _transaction(store) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id)
        if not may_locate(actor.role, actor.department, item.responsible_unit):
            raise NotPermitted(
                f"{actor.username} ({actor.role}) may not locate the record of dispute {dispute_id}: only an "
                f"officer of {item.responsible_unit or 'the responsible unit'} may, in that unit's own source"
            )
        if not item.record_key_hash or not item.entry_code:
            raise InvalidInput(f"dispute {dispute_id} is not about one record of a dataset: there is nothing to locate")
        entry = session.get(CatalogEntryRow, item.entry_code)
        if entry is None:
            raise InvalidInput(f"dispute {dispute_id}: dataset {item.entry_code} is no longer in the catalog")
        columns = list(entry.primary_key or [])
        if not columns:
            raise InvalidInput(f"{entry.code} {entry.name} declares no 主键 (primary key): a record cannot be located")
        secret = keyring().secret_for(item.record_key_hash)
        if secret is None:
            raise InvalidInput(
                f"dispute {dispute_id}'s record key was hashed with a secret that is no longer configured "
                f"(key id {item.record_key_hash.split(':', 1)[0]}); add it back to "
                "CITYGOV_RECORD_KEY_PREVIOUS_SECRETS to locate the record"
            )
        conn_id, location, target = entry.conn_id, entry.location, item.record_key_hash
        code, username = entry.code, actor.username
    conn = lookup(conn_id)
    if conn is None:
        raise InvalidInput(f"{code}: connection {conn_id!r} is not defined here; the source cannot be read")
    ring = keyring()
    matches: list[dict[str, Any]] = []
    scanned = 0
    for row, values in _key_rows(conn, location, columns):
        scanned += 1
        if ring.digest(canonical(values), secret) == target:
            match: dict[str, Any] = {"key": dict(zip(columns, (_plain(v) for v in values), strict=True))}
            if row is not None:
                match["row"] = row
            matches.append(match)
            if len(matches) >= MAX_MATCHES:
                break
    with _transaction(store) as session:
        item = _load(session, dispute_id)
        _event(session, item, actor=username, action="locate", now=moment, from_status=item.status,
               to_status=item.status, note=f"located the record in {conn_id}: {len(matches)} matching row(s)",
               details={"matches": len(matches), "scanned": scanned})
    return LocatedRecord(dispute_id, code, conn_id, location, columns, matches, scanned)


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _key_rows(conn: ConnectionInfo, location: str, columns: list[str]) -> Iterator[tuple[int | None, list[Any]]]:
    """(row number where the source numbers its rows, else None; key values) of every row of the entry's
    table or file, read in bounded chunks."""
    try:
        source = open_source(conn)
    except ValueError as exc:
        raise InvalidInput(f"source {conn.conn_id} cannot be read: {exc}") from exc
    with source:
        try:
            _, chunks = source.read(location, columns=columns)
        except MissingColumns as exc:
            raise InvalidInput(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"source {conn.conn_id} cannot be read: {exc}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise InvalidInput(f"{location} in source {conn.conn_id} cannot be read: {type(exc).__name__}") from exc
        number = 0
        try:
            for rows in chunks:
                for values in rows:
                    number += 1
                    yield (number if source.numbered_rows else None), values
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{location} cannot be read: {exc}") from exc
        except sa.exc.SQLAlchemyError as exc:
            # Only the error's type: a driver's message may quote a value of the data.
            raise InvalidInput(f"{location} in source {conn.conn_id} cannot be read: {type(exc).__name__}") from exc
