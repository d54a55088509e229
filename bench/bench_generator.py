"""Generator speed and memory: events/s on one core for file output, and peak memory for 1M+ events.

    ~/.cache/medley/venvs/pipeline/bin/python bench/bench_generator.py [--users N] [--days D ...]

Runs the Go core pinned to one core (taskset + GOMAXPROCS=1) for each window length with the
same users, so a flat peak RSS across lengths shows memory does not grow with the events.
events/s is reported against CPU time (user+sys) and wall time; on a shared machine wall time
includes waiting for the CPU and the disk.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medley.config import load  # noqa: E402
from medley.generator import engine  # noqa: E402
from bench._generate import options  # noqa: E402


def one_run(binary: Path, users: int, days: int, out: Path) -> dict:
    opts = options(users, "2026-11-02T00:00:00", f"2026-11-{2 + days:02d}T00:00:00")
    argv = [str(binary), *opts.engine_args(), "-out", str(out)]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "0", *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "GOMAXPROCS": "1"}, check=True)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    import json
    summary = json.loads(res.stdout.strip().splitlines()[-1].split("\t", 1)[1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = sum(p.stat().st_size for p in out.iterdir())
    shutil.rmtree(out)
    return {"events": summary["events"], "lines": sum(summary["lines"].values()), "cpu": cpu, "wall": wall,
            "bytes": size, "peak_rss_mb": after.ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--days", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dir", type=Path, default=None, help="scratch directory (default: system temp)")
    a = p.parse_args()
    binary = engine.binary(load())
    print(f"users={a.users:,} viirya file output, one core")
    print(f"{'days':>4} {'events':>10} {'lines':>10} {'GB':>6} {'cpu s':>7} {'wall s':>7} "
          f"{'events/s cpu':>13} {'events/s wall':>14} {'peak RSS MB':>12}")
    for days in a.days:
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            r = one_run(binary, a.users, days, Path(tmp) / "out")
        print(f"{days:>4} {r['events']:>10,} {r['lines']:>10,} {r['bytes'] / 1e9:>6.2f} {r['cpu']:>7.1f} "
              f"{r['wall']:>7.1f} {r['events'] / r['cpu']:>13,.0f} {r['events'] / r['wall']:>14,.0f} "
              f"{r['peak_rss_mb']:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
