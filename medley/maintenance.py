"""Daily upkeep of the lakehouse: `python -m medley.maintenance <step>` (the medley_maintenance DAG
runs one step per task, through medley.orchestration like the hops).

- optimize: Delta OPTIMIZE (bin-packing compaction) of every table of the contracts. Hourly runs
  replace a day's partitions many times over with a few small files each; readers (the gates,
  Druid's ingestion, ad-hoc Spark) pay per file.
- vacuum: Delta VACUUM of every table, deleting files no version younger than
  maintenance.vacuum_retention_hours (168, Delta's own default) still needs. Time travel and
  readers of an old snapshot reach back that far, no further.
- druid-compaction: the coordinator's auto-compaction config for every served datasource
  (druid_specs/), so Druid merges the small per-day segments that hourly replacement leaves.
- expire-results: deletes GE validation results (<quality_prefix>/runs/) older than
  maintenance.quality_results_days; the Data Docs site is kept.
Each step prints what it did, one line per table or datasource.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone

from medley import storage
from medley.config import Config
from medley.contracts import all_contracts
from medley.errors import MedleyError

STEPS = ("optimize", "vacuum", "druid-compaction", "expire-results")
# Delta refuses a shorter retention unless its safety check is turned off for the session.
DELTA_MIN_RETENTION_HOURS = 168
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def _tables(spark, cfg: Config):
    """(name, DeltaTable) of every contract's table that exists."""
    from delta.tables import DeltaTable

    # the data-health tables (ops) are not gated like the layers, but grow hourly just the same
    for c in [*all_contracts(), *all_contracts("ops")]:
        location = storage.table_uri(cfg, c.table)
        if DeltaTable.isDeltaTable(spark, location):
            yield c.table, DeltaTable.forPath(spark, location)


def file_count(table) -> int:
    return table.detail().collect()[0]["numFiles"]


def optimize(spark, cfg: Config) -> dict[str, tuple[int, int]]:
    """table -> (files before, files after)."""
    done = {}
    for name, table in _tables(spark, cfg):
        before = file_count(table)
        table.optimize().executeCompaction()
        done[name] = (before, file_count(table))
        print(f"optimize {name}: {before} -> {done[name][1]} files")
    return done


def vacuum(spark, cfg: Config) -> dict[str, float]:
    """table -> retention hours used."""
    hours = float(cfg.get("maintenance.vacuum_retention_hours"))
    if hours < DELTA_MIN_RETENTION_HOURS and spark.conf.get(RETENTION_CHECK, "true") == "true":
        raise MedleyError(f"maintenance.vacuum_retention_hours {hours:g} is below Delta's safety minimum of "
                          f"{DELTA_MIN_RETENTION_HOURS} h (older snapshots still being read would lose files)",
                          f"set it to {DELTA_MIN_RETENTION_HOURS} or more in medley.yaml "
                          "(MEDLEY_MAINTENANCE__VACUUM_RETENTION_HOURS)")
    done = {}
    for name, table in _tables(spark, cfg):
        table.vacuum(hours)
        done[name] = hours
        print(f"vacuum {name}: files unused for {hours:g} h deleted")
    return done


def druid_compaction(cfg: Config) -> list[str]:
    """Set (idempotently) the auto-compaction config of every datasource with a Druid spec."""
    from medley import druid

    names = sorted(p.stem for p in druid.SPECS_DIR.glob("*.json"))
    for name in names:
        body = {"dataSource": name,
                # the latest day is still being replaced by the hourly runs: leave it alone
                "skipOffsetFromLatest": cfg.get("maintenance.druid_skip_offset"),
                "tuningConfig": {"partitionsSpec": {"type": "dynamic"}}}
        resp = druid._request(cfg, "POST", "/druid/coordinator/v1/config/compaction", json=body)
        if resp.status_code != 200:
            raise MedleyError(f"Druid refused the compaction config of datasource '{name}' "
                              f"(HTTP {resp.status_code}): {druid._error_text(resp)}",
                              "check the coordinator log (druid-coordinator.log)")
        print(f"druid-compaction {name}: auto-compaction set, skipping the latest "
              f"{body['skipOffsetFromLatest']}")
    return names


def expire_results(cfg: Config, as_of: datetime) -> list[str]:
    """Delete validation results last written before as_of - maintenance.quality_results_days."""
    from minio.deleteobjects import DeleteObject

    days = float(cfg.get("maintenance.quality_results_days"))
    cutoff = as_of - timedelta(days=days)
    bucket = cfg.get("storage.bucket")
    s3 = storage.client(cfg)
    prefix = f"{cfg.get('storage.quality_prefix')}/runs/"
    old = [o.object_name for o in s3.list_objects(bucket, prefix=prefix, recursive=True)
           if o.last_modified < cutoff]
    errors = list(s3.remove_objects(bucket, [DeleteObject(k) for k in old]))
    if errors:
        raise MedleyError(f"could not delete {len(errors)} expired results under s3://{bucket}/{prefix}: "
                          f"{errors[0]}", "check the object store's permissions for this bucket")
    print(f"expire-results: {len(old)} results older than {cutoff:%Y-%m-%dT%H:%M:%SZ} deleted")
    return old


def main(argv: list[str], env=None) -> int:
    parser = argparse.ArgumentParser(prog="medley.maintenance")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--as-of", type=datetime.fromisoformat,
                        help="expire-results: the reference time (the DAG passes its data interval end); default now")
    args = parser.parse_args(argv)

    from medley import config

    cfg = config.load(os.environ if env is None else env)
    try:
        if args.step == "druid-compaction":
            druid_compaction(cfg)
        elif args.step == "expire-results":
            as_of = args.as_of or datetime.now(timezone.utc)
            expire_results(cfg, as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc))
        else:
            from medley import lock
            from medley.spark import session

            # rewriting a table's files while a hop replaces its partitions would fail one of them
            with lock.exclusive(cfg, f"medley.maintenance {args.step}"):
                (optimize if args.step == "optimize" else vacuum)(session(cfg, f"medley-{args.step}"), cfg)
    except MedleyError as err:
        print(f"medley.maintenance {args.step}: error: {err}", file=sys.stderr)
        return int(err.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
