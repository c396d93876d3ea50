"""The key-order kernels of the fast path (:mod:`citygov.backflow.copybin`): the order they give the lines
of a file is the byte order of their key fields (what a primary key collated "C" sorts by), whatever the
keys hold, and :func:`~citygov.backflow.copybin.gather` returns exactly the lines asked for."""

from __future__ import annotations

import random

import numpy as np
import pytest

from citygov.backflow import copybin


def _order(lines: list[str], key_fields: list[int]) -> tuple[list[int], np.ndarray] | None:
    data = ("header\n" + "".join(line + "\n" for line in lines)).encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    fields = np.array(key_fields, dtype=np.int64)
    begin = len(b"header\n")
    starts, at, length, used, widths, ok = copybin.key_symbols(buf, begin, copybin.count_lines(buf, begin), fields)
    if not ok:
        return None
    codes, word, shift, bits = copybin.key_layout(used, widths)
    words = copybin.key_words(buf, starts, at, length, widths, codes, word, shift, len(bits))
    order = copybin.radix_order(words, bits)
    return order.tolist(), bits


def _key(line: str, key_fields: list[int]) -> tuple[bytes, ...]:
    fields = line.split(",")
    return tuple(fields[k].encode("utf-8") if k < len(fields) else b"" for k in key_fields)


@pytest.mark.parametrize("seed", range(6))
def test_the_order_is_the_byte_order_of_the_key_fields(seed: int) -> None:
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
        result = _order(lines, [2, 0])
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


def test_gather_returns_the_lines_asked_for_then_the_padding() -> None:
    data = b"h\nfirst,1\nsecond,22\nthird,333\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = copybin.key_symbols(buf, 2, 3, np.array([0], dtype=np.int64))[0]
    out = copybin.gather(buf, *copybin.spans(starts, np.array([2, 0], dtype=np.int64)), 5)
    assert out.tobytes() == b"third,333\nfirst,1\n" + bytes(5)
