"""Which data files the backflow fast path may split at every comma and line break
(:func:`citygov.backflow.batches.plain_lines`), whether the verification pass noted it or not."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from citygov.backflow import batches


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"a,b\n1,2\n", True),
        ("名,值\n张三,2\n".encode(), True),
        (b'a,b\n"1,5",2\n', False),  # a quoted field may hold commas and line breaks
        (b"a,b\r\n1,2\r\n", False),
        (b"a,b\n1,\x002\n", False),
        (b"a,b\n1,2", False),  # no final line break
    ],
)
def test_plain_lines(tmp_path: Path, data: bytes, plain: bool) -> None:
    fresh = tmp_path / "fresh.csv"
    fresh.write_bytes(data)
    assert batches.plain_lines(fresh) is plain
    verified = tmp_path / "verified.csv"
    verified.write_bytes(data)
    digest, _bad_at, _non_ascii = batches._digest_and_decode(verified, "utf-8")
    assert digest == hashlib.sha256(data).hexdigest()
    assert batches._PLAIN[batches._file_key(verified)] is plain, "the verification pass noted it"
    assert batches.plain_lines(verified) is plain


def test_a_file_changed_after_verification_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    batches._digest_and_decode(path, "utf-8")
    assert batches.plain_lines(path)
    path.write_bytes(b'a,b\n"1",2\n')
    os.utime(path, ns=(1, 1))  # whatever the clock's resolution: another modification time
    assert not batches.plain_lines(path)


def test_the_digest_covers_every_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "_CHUNK", 7)
    data = "".join(f"{i},名字{i}\n" for i in range(500)).encode()
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    assert batches._digest_and_decode(path, "utf-8")[0] == hashlib.sha256(data).hexdigest()
