"""File reading benchmark: a 2M-row, 10-column CSV read three ways, each in its own process (time and peak
memory of that reader alone, the file already in the page cache):

- **bytes**: the file's bytes read once in 4 MiB pieces into one reused buffer — the floor;
- **read_blocks**: :meth:`citygov.sources.folder.FolderSource.read_blocks` of all ten columns (the
  compiled splitter of :mod:`citygov.sources.csvblocks`), every block taken;
- **read_file_chunks**: :func:`citygov.sources.folder.read_file_chunks` (``csv`` rows as lists of str),
  the reader the quality engine used before.

Wall time of the best run is the figure; the process's CPU time is printed beside it (on a shared machine
the steadier one). Peak memory is the child's ``ru_maxrss``, with its value before the clock started
(imports: for read_blocks numba and its kernels, the larger part).

    python bench/file_read_bench.py [--rows 2000000] [--quoted-every 0] [--repeat 3] [--skip-chunks]

``--quoted-every N`` quotes the address of every N-th row (it then holds a comma), so that share of lines
goes through :mod:`csv`. The file is written to a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["sfzhm", "xm", "xb", "csrq", "lxdh", "dz", "je", "zt", "gxsj", "bz"]
READ = 4 << 20


def write_file(path: Path, rows: int, quoted_every: int) -> None:
    """Rows like a department's export: ID numbers, Chinese names and addresses, dates, amounts; some
    empty cells."""
    streets = ["人民路", "解放大道", "建设街", "中山北路", "新华巷"]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        lines = []
        for i in range(rows):
            address = f"江苏省徐州市{streets[i % 5]}{i % 997}号"
            if quoted_every and i % quoted_every == 0:
                address = f'"{address},{i % 13}室"'
            lines.append(
                f"3203{i % 90 + 10:02d}{1950 + i % 60}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}{i % 10},"
                f"张{'三四五六七'[i % 5]}{i % 100},{'男女'[i % 2]},{1950 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d},"
                f"1{38 + i % 10}{i % 100_000_000:08d},{address},{(i * 37) % 100000 / 100:.2f},"
                f"{i % 3},2026-11-{1 + i % 28:02d} 08:{i % 60:02d}:00,{'' if i % 4 else '备注'}\n"
            )
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))


def run_child(mode: str, path: Path) -> dict[str, float]:
    """Time ``mode`` on ``path`` in this process (after its imports) and report its peak memory."""
    rows = 0
    if mode == "bytes":
        buffer = bytearray(READ)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu = time.perf_counter(), time.process_time()
        with path.open("rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                rows += n
    elif mode == "read_blocks":
        from citygov.sources import ConnectionInfo
        from citygov.sources.folder import FolderSource

        source = FolderSource(ConnectionInfo("bench", "fs", extra={"path": str(path.parent)}))
        _, warm = source.read_blocks(path.name, columns=HEADER[:1], block_rows=16)
        next(warm)  # numba's kernels loaded from its cache (or compiled) before the clock starts
        warm.close()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu = time.perf_counter(), time.process_time()
        _, blocks = source.read_blocks(path.name, columns=HEADER)
        for block in blocks:
            rows += block.rows
    else:
        from citygov.sources.folder import read_file_chunks

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu = time.perf_counter(), time.process_time()
        _, chunks = read_file_chunks(path, empty=None)
        for chunk in chunks:
            rows += len(chunk)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "count": rows, "before_mib": before,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, path: Path, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True, text=True
        )
        runs.append(json.loads(out.stdout))
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "cpu": min(r["cpu"] for r in runs), "peak_mib": max(r["peak_mib"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--quoted-every", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-chunks", action="store_true", help="leave out the slow read_file_chunks")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.csv"
        started = time.perf_counter()
        write_file(path, args.rows, args.quoted_every)
        size = path.stat().st_size
        print(f"{args.rows:,} rows x {len(HEADER)} columns, {size / 2**20:.0f} MiB, quoted every "
              f"{args.quoted_every or '-'} (written in {time.perf_counter() - started:.1f} s)")
        run_child("bytes", path)  # into the page cache (in pieces: a child's peak memory starts at ours)
        modes = ["bytes", "read_blocks"] + ([] if args.skip_chunks else ["read_file_chunks"])
        results = {mode: measure(mode, path, 1 if mode == "read_file_chunks" else args.repeat) for mode in modes}
    floor = results["bytes"]["seconds"]
    for mode, result in results.items():
        count = f"{int(result['count']):,} {'bytes' if mode == 'bytes' else 'rows'}"
        print(f"  {mode:<17} {result['seconds']:7.3f} s  {result['seconds'] / floor:6.1f}x bytes  "
              f"{size / 2**20 / result['seconds']:7.0f} MiB/s  cpu {result['cpu']:7.3f} s  "
              f"peak {result['peak_mib']:4.0f} MiB ({result['before_mib']:.0f} before)  ({count})")


if __name__ == "__main__":
    main()
