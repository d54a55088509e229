"""The cost of a hop's gates alone, on tables a bench run left: silver's and gold's gates of one
event date, as `medley run` runs them (medley.hops.gate_silver / gate_gold, Data Docs included),
a few rounds in one process after a warm-up round.

    MEDLEY_BENCH_HOME=... python bench/bench_gates.py --bucket bench-history-30 --date 2026-10-31 \
        [--rounds 3] [--profile /tmp/gates.prof]

Needs the bench's MinIO up with a bucket built by `bench/bench_pipeline.py --keep` (this script
starts and stops it). Prints wall and CPU seconds (Python + Spark JVM) per round.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_pipeline import instance  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bucket", required=True)
    p.add_argument("--date", required=True, help="the event (and landing) date whose gates run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", type=Path, default=None, help="cProfile of the measured rounds, to this file")
    a = p.parse_args()

    from medley import hops, services
    from medley.hops import RunReport, cpu_seconds
    from medley.quality import data_docs
    from medley.spark import session

    cfg = instance(a.bucket)
    services.up(cfg, only=["minio"], quiet=True)
    try:
        spark = session(cfg, "bench-gates")
        profiler = cProfile.Profile() if a.profile else None
        for r in range(a.rounds + 1):
            report = RunReport(run_id=f"bench-gates-{int(time.time())}-{r}")
            began, cpu, python = time.monotonic(), cpu_seconds(), time.process_time()
            if profiler and r:
                profiler.enable()
            for hop, gates in (("silver", lambda: hops.gate_silver(spark, cfg, report, [a.date], [a.date])),
                               ("gold", lambda: hops.gate_gold(spark, cfg, report, [a.date]))):
                with data_docs(cfg):
                    gates()
            if profiler and r:
                profiler.disable()
            wall, used = time.monotonic() - began, cpu_seconds() - cpu
            print(f"round {r}{' (warm-up)' if not r else ''}: {len(report.gates)} gates, {wall:.1f} s, "
                  f"{used:.1f} CPU s (Python {time.process_time() - python:.1f})", flush=True)
        if profiler:
            profiler.dump_stats(a.profile)
    finally:
        services.down(cfg, only=["minio"])


if __name__ == "__main__":
    main()
