"""Micro-benchmark of the rules' fast accepts (:mod:`citygov.quality.vector`, :mod:`citygov.quality.kernels`):
values per second of each compiled row rule over columns as the streaming engine holds them (one UTF-8
buffer, ``starts``/``lengths``/``null`` per row, :meth:`TextColumn.from_buffer`), in blocks of 65,536 rows.

For each rule it prints, over ``--rows`` values (default 2M, about 2 % of them bad or odd-looking):

- **fast accept**: ``check.vector`` alone, millions of values per second, and the share it accepts;
- **verdict**: :func:`~citygov.quality.vector.vector_expected`, the fast accept plus the rule itself
  (pandas, a Python call per distinct value) for the values the fast accept left: what a streaming pass
  pays. The odd values are 2 % of the pool, so each block judges a few hundred distinct ones.

The values are drawn from a pool of 20,000 distinct ones (generated with :mod:`citygov.identifiers`),
placed at random rows; the buffer is the pool's, so reading it costs little: this measures the rules,
not the reading. The kernels are compiled (or loaded from numba's cache) before timing.

    python bench/vector_bench.py [--rows 2000000] [--block 65536] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from citygov.identifiers import PLATE_PROVINCES, make_ric, make_uscc
from citygov.quality.checks import Check, compile_check
from citygov.quality.vector import TextColumn, vector_expected

AS_OF = "2026-11-28"
POOL = 20_000


def _odd(rng: random.Random, good: str) -> str:
    """A value the fast accept leaves to the rule (2 %): spaces, lower case, a digit changed."""
    return rng.choice([f" {good}", good.lower() + "x", good[:-1] + "?", ""])


def _pool(rng: random.Random, make: Callable[[random.Random], str]) -> list[str]:
    return [make(rng) if rng.random() > 0.02 else _odd(rng, make(rng)) for _ in range(POOL)]


def _ric(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 70 * 365))
    return make_ric(rng.choice(["320706", "110101", "320724"]), born, rng.randrange(1000))


def _card(rng: random.Random) -> str:
    body = [rng.randrange(10) for _ in range(18)]
    total = sum(d if i % 2 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(body)))
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def _plate(rng: random.Random) -> str:
    body = "".join(rng.choice("ABCDEFGHJK0123456789") for _ in range(4)) + rng.choice("0123456789")
    return rng.choice(PLATE_PROVINCES) + rng.choice("ABCDEFGHJ") + body


def _cases() -> list[tuple[str, Any, Callable[[random.Random], Sequence[str]]]]:
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    day = lambda r: (date(2000, 1, 1) + timedelta(days=r.randrange(9000))).isoformat()  # noqa: E731
    return [
        ("ric", ce.ExpectColumnValuesToBeValidRic(column="a", as_of=AS_OF), _ric),
        ("uscc", ce.ExpectColumnValuesToBeValidUscc(column="a"),
         lambda r: make_uscc(r.choice(["320706", "110101"]), r.randrange(10**8))),
        ("mobile", ce.ExpectColumnValuesToBeValidMobile(column="a"),
         lambda r: "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))),
        ("plate", ce.ExpectColumnValuesToBeValidPlate(column="a"), _plate),
        ("bankcard", ce.ExpectColumnValuesToBeValidBankcard(column="a"), _card),
        ("division", ce.ExpectColumnValuesToBeValidDivisionCode(column="a"), lambda r: r.choice(["320706", "110101", "320724"])),
        ("date not in future", ce.ExpectColumnValuesToBeDateNotInFuture(column="a", reference_date=AS_OF), day),
        ("not blank", ce.ExpectColumnValuesToNotBeBlank(column="a"), lambda r: r.choice(["张三", "李四", "王五"])),
        ("in set", e.ExpectColumnValuesToBeInSet(column="a", value_set=["110", "210", "310", "甲"]),
         lambda r: r.choice(["110", "210", "310", "甲"])),
        ("between", e.ExpectColumnValuesToBeBetween(column="a", min_value=0, max_value=100000),
         lambda r: r.choice([str(r.randrange(100000)), f"{r.uniform(0, 99999):.2f}"])),
        ("lengths", e.ExpectColumnValueLengthsToBeBetween(column="a", min_value=2, max_value=20),
         lambda r: r.choice(["张三", "欧阳明月", "Zhang San", "abc"])),
        ("id ↔ birth date", ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A="a", column_B="b"), _ric),
        ("id ↔ gender", ce.ExpectColumnPairValuesToMatchIdGender(column_A="a", column_B="b"), _ric),
    ]


def _partner(name: str, ids: Sequence[str]) -> list[str]:
    """Column B of a pair rule: the birth date or the gender the ID says (2 % disagreeing)."""
    rng = random.Random(2)
    out = []
    for v in ids:
        if name.endswith("birth date"):
            good = f"{v[6:10]}-{v[10:12]}-{v[12:14]}" if len(v) == 18 else "1990-01-01"
            out.append(good if rng.random() > 0.02 else "1990-01-01")
        else:
            male = len(v) == 18 and v[16].isdigit() and int(v[16]) % 2 == 1
            out.append(("1" if male else "2") if rng.random() > 0.02 else "9")
    return out


def _buffer(pool: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = [v.encode("utf-8") for v in pool]
    lengths = np.array([len(r) for r in raw], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(raw) + bytes(64), dtype=np.uint8), starts, lengths


def _blocks(pools: list[Sequence[str]], rows: int, block: int) -> list[list[TextColumn]]:
    """``rows`` rows drawn from the pools (the same draw for every column of a pair) as blocks of columns."""
    pick = np.random.default_rng(1).integers(0, POOL, rows)
    out = []
    buffers = [_buffer(p) for p in pools]
    for at in range(0, rows, block):
        idx = pick[at : at + block]
        out.append([TextColumn.from_buffer(buf, starts[idx], lengths[idx]) for buf, starts, lengths in buffers])
    return out


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--block", type=int, default=65_536)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"{args.rows:,} values per rule, blocks of {args.block:,} rows; best of {args.repeat}")
    print(f"{'rule':<20} {'fast accept':>14} {'accepted':>9} {'verdict':>14} {'judged':>9}")
    for name, expectation, make in _cases():
        check: Check = compile_check(expectation)
        assert check.vector is not None, f"{name} has no fast accept"
        pool = _pool(random.Random(name), make)
        pools: list[Sequence[str]] = [pool, _partner(name, pool)] if check.kind == "pair" else [pool]
        blocks = _blocks(pools, args.rows, args.block)
        check.vector(blocks[0])  # compile or load the kernel
        accepted = sum(int(np.asarray(check.vector(b)).sum()) for b in blocks)
        fast = _best(lambda: [check.vector(b) for b in blocks], args.repeat)  # noqa: B023
        verdict = _best(lambda: [vector_expected(check, b) for b in blocks], 1)  # noqa: B023
        print(f"{name:<20} {args.rows / fast / 1e6:>9.1f} M/s {accepted / args.rows:>9.1%} "
              f"{args.rows / verdict / 1e6:>9.1f} M/s {1 - accepted / args.rows:>9.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
