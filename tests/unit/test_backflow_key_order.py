"""The key-order kernels of the fast path (:mod:`citygov.backflow.copybin`): the order they give the lines
of a file is the byte order of their key fields (what a primary key collated "C" sorts by), whatever the
keys hold, and :func:`~citygov.backflow.copybin.gather` returns exactly the lines asked for."""

from __future__ import annotations

import random

import numpy as np
import pytest

from citygov.backflow import copybin


def _order(lines: list[str], key_fields: list[int], threads: int = 2) -> tuple[list[int], np.ndarray] | None:
    data = ("header\n" + "".join(line + "\n" for line in lines)).encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    ordered = copybin.key_order(buf, len(b"header\n"), key_fields, 1 << 30, threads)
    if ordered is None:
        return None
    gathered = copybin.gather(buf, ordered.at, ordered.length, 0).tobytes()
    assert gathered == b"".join(lines[i].encode("utf-8") + b"\n" for i in ordered.order)
    return ordered.order.tolist(), ordered.bits


def _key(line: str, key_fields: list[int]) -> tuple[bytes, ...]:
    fields = line.split(",")
    return tuple(fields[k].encode("utf-8") if k < len(fields) else b"" for k in key_fields)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_the_order_is_the_byte_order_of_the_key_fields(seed: int, threads: int) -> None:
    """Random keys (multibyte characters, control bytes, empty values, lines without the key field),
    the file's passes split over one to three threads: the same order as sorting the keys' bytes."""
    rng = random.Random(seed)
    alphabets = ["ab", "0123456789X", "甲乙a", "a", "\x7f\x01z"]
    for _ in range(60):
        alphabet = rng.choice(alphabets)
        lines = []
        for _ in range(rng.randint(1, 40)):
            first = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
            second = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
            line = f"{second},name,{first}"
            if rng.random() < 0.05:
                line = second  # a line without the first key field: it counts as empty
            lines.append(line)
        result = _order(lines, [2, 0], threads)
        assert result is not None
        order, _bits = result
        assert sorted(order) == list(range(len(lines)))
        keys = [_key(lines[i], [2, 0]) for i in order]
        assert keys == sorted(keys), lines


def test_keys_wider_than_a_word_sort_over_several_words() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x21, 0x7F)]  # 94 symbols: 7 bits per position
    lines = ["".join(rng.choice(alphabet[:10] if rng.random() < 0.5 else alphabet) for _ in range(20)).replace(",", ";")
             for _ in range(500)]
    result = _order(lines, [0])
    assert result is not None
    order, bits = result
    assert len(bits) > 1, "20 positions of 7 bits do not fit one word"
    assert [lines[i] for i in order] == sorted(lines, key=lambda s: s.encode())


def test_identity_numbers_fit_one_word() -> None:
    """Constant positions take no bits: a resident ID number plus an insurance type packs into one word."""
    lines = [f"3207{d:02d}19{i % 14000:06d}{i % 997:03d}X,110" for i, d in enumerate([3, 6, 7, 22, 23, 24] * 50)]
    result = _order(lines, [0, 1])
    assert result is not None
    order, bits = result
    assert len(bits) == 1 and bits[0] <= 64
    assert [lines[i] for i in order] == sorted(lines)


def test_a_key_field_longer_than_the_limit_leaves_the_file_order() -> None:
    assert _order(["a," + "k" * (copybin.KEY_LIMIT + 1), "b,k"], [1]) is None
    assert _order(["a," + "k" * copybin.KEY_LIMIT, "b,k"], [1]) is not None


def test_the_order_stays_within_its_memory_budget() -> None:
    lines = [f"{i:05d},x" for i in range(100)]
    data = ("h\n" + "".join(line + "\n" for line in lines)).encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    needs = len(data) + len(lines) * copybin.KEY_BYTES_PER_LINE
    assert copybin.key_order(buf, 2, [0], needs - 1) is None
    assert copybin.key_order(buf, 2, [0], needs) is not None


def test_gather_returns_the_lines_asked_for_then_the_padding() -> None:
    data = b"h\nfirst,1\nsecond,22\nthird,333\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    ordered = copybin.key_order(buf, 2, [1], 1 << 20)
    assert ordered is not None
    assert ordered.order.tolist() == [0, 1, 2]
    rows = [2, 0]
    out = copybin.gather(buf, ordered.at[rows], ordered.length[rows], 5)
    assert out.tobytes() == b"third,333\nfirst,1\n" + bytes(5)


def test_the_memory_budget_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from citygov.settings import backflow_sort_memory

    monkeypatch.delenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", raising=False)
    assert backflow_sort_memory(123) == 123
    monkeypatch.setenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", "512")
    assert backflow_sort_memory(123) == 512 << 20
    monkeypatch.setenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", "0")
    assert backflow_sort_memory(123) == 0
    for bad in ("-1", "1.5", "lots"):
        monkeypatch.setenv("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", bad)
        with pytest.raises(ValueError, match=f"CITYGOV_BACKFLOW_SORT_MEMORY_MIB='{bad}': expected a whole number of MiB"):
            backflow_sort_memory(123)
