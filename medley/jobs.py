"""Entry point of the Spark jobs on Kubernetes: `python -m medley.jobs <hop> [--dates D ...]`.

The chart's SparkApplications and the Airflow DAGs run one hop per application, with the same
library code as `medley run`. --dates are the landing dates (silver) or event dates (gold, druid)
of the interval to rebuild; without them a hop rebuilds yesterday and today (UTC), which is safe
because every hop replaces its interval.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone

HOPS = ("bronze", "silver", "gold", "druid", "superset")


def default_dates() -> list[str]:
    today = datetime.now(timezone.utc).date()
    return [str(today - timedelta(days=1)), str(today)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="medley.jobs")
    parser.add_argument("hop", choices=HOPS)
    parser.add_argument("--dates", nargs="*", help="YYYY-MM-DD dates of the interval (default: yesterday, today)")
    args = parser.parse_args(argv)

    from medley import config, pipeline
    from medley.errors import MedleyError

    cfg = config.load()
    dates = args.dates or default_dates()
    report = pipeline.RunReport(run_id=f"{args.hop}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    try:
        if args.hop == "superset":
            from medley import superset

            superset.provision(cfg)
            return 0
        from medley.spark import session

        spark = session(cfg, f"medley-{args.hop}")
        if args.hop == "bronze":
            from spark.bronze import events

            result = events.run(spark, cfg)
            if result.new_objects:
                pipeline.gate_bronze(spark, cfg, report, result.run_id)
        elif args.hop == "silver":
            from spark.silver import run as silver

            result = silver.run(spark, cfg, set(dates))
            pipeline.gate_silver(spark, cfg, report, result.landing_dates, result.event_dates)
        elif args.hop == "gold":
            from spark.gold import run as gold

            gold.run(spark, cfg, set(dates))
            pipeline.gate_gold(spark, cfg, report, sorted(dates))
        else:
            pipeline.load_druid(spark, cfg, report, sorted(dates))
    except MedleyError as err:
        print(f"medley.jobs {args.hop}: error: {err}", file=sys.stderr)
        return int(err.exit_code)
    print(pipeline.summary(report))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    sys.exit(main(sys.argv[1:]))
