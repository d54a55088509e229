"""Entry point of one hop on Kubernetes: `python medley/jobs.py <hop> [--dates D ...]`.

The chart's SparkApplications run this file (mainApplicationFile local:///opt/medley/medley/jobs.py)
and its Jobs run `python -m medley.jobs <hop>`; both call the same hop as `medley run`
(medley/hops.py), with its interval from the hand-over state, its gate and its exit codes, holding
the pipeline lock (medley/lock.py) while it runs.
--dates queues dates to rebuild on top of that: landing dates for silver, event dates for gold
and druid (a backfill; every hop replaces its interval, so rebuilding is safe).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file, Python puts this directory first on sys.path, where medley's own modules
    # would shadow top-level packages of the same name; import from the repository root instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

HOPS = ("bronze", "silver", "gold", "reconcile", "druid", "superset")


def main(argv: list[str], env=None) -> int:
    parser = argparse.ArgumentParser(prog="medley.jobs")
    parser.add_argument("hop", choices=HOPS)
    parser.add_argument("--dates", nargs="*", default=[],
                        help="YYYY-MM-DD dates to rebuild as well (silver: landing dates; gold, druid: event dates)")
    args = parser.parse_args(argv)

    import os

    from medley import config, hops, lock, pipeline, state
    from medley.errors import MedleyError

    cfg = config.load(os.environ if env is None else env)
    report = hops.RunReport(run_id=f"{args.hop}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    try:
        with lock.exclusive(cfg, f"medley.jobs {args.hop} {report.run_id}"):
            if args.dates and args.hop in ("gold", "druid"):
                state.add_pending(cfg, args.hop, args.dates)
            spark = None
            # gold and druid work only on queued dates: with none, skip the Spark JVM's start
            idle = args.hop in ("gold", "druid") and not state.pending(cfg, args.hop)
            if args.hop in hops.SPARK_HOPS and not idle:
                from medley.spark import session

                spark = session(cfg, f"medley-{args.hop}")
            if args.hop == "silver":
                hops.silver(spark, cfg, report, rebuild_landing_dates=args.dates)
            else:
                hops.HOPS[args.hop](spark, cfg, report)
    except MedleyError as err:
        print(f"medley.jobs {args.hop}: error: {err}", file=sys.stderr)
        return int(err.exit_code)
    print(pipeline.summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
