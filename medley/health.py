"""Data health: how many rows each layer holds per stream, how fresh they are, what silver
quarantined and why, and every gate's result, as three small Delta tables served in Druid for the
Data health dashboard (superset/dashboards/data_health.yml, docs/data-health.md).

- ops.data_health: one row per measurement x layer x stream (spark/ops/data_health.yml). The
  reconcile hop writes bronze, silver, quarantine, duplicates and gold from the counts it has just
  reconciled; the druid hop adds the rows Druid serves. Replaced per run id: a retried hop never
  adds a second measurement of the same run.
- ops.data_health_quarantine: silver.quarantine by landing day x stream x reason, replaced whole
  (a replay moves lines out of quarantine). A landed day and stream with nothing quarantined has
  one row of reason NOTHING_QUARANTINED and 0 lines: a clean day reads 0, not a gap, and the
  datasource exists (its charts draw) on an install whose data never had a bad line.
- ops.data_health_gates: one row per expectation of every gate result saved in the object store
  (medley/quality.py); each result is added once.

Pure row and DataFrame functions first, I/O at the end (`record`, `record_druid`, `serve`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from medley import storage
from medley.config import Config
from medley.contracts import contract
from medley.delta import append, exists, read, replace_partitions

LAYERS = ("bronze", "silver", "quarantine", "duplicates", "gold", "druid")
HEALTH, QUARANTINE, GATES = "ops.data_health", "ops.data_health_quarantine", "ops.data_health_gates"
NOTHING_QUARANTINED = "(none)"
TABLES = (HEALTH, QUARANTINE, GATES)


def streams() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Reconciliation stream -> (silver table, gold fact, landing streams), as
    medley.hops.reconciliation() names them (interana lines are counted with page views)."""
    from medley.hops import FACT_OF

    out = {}
    for silver_table, fact in FACT_OF.items():
        landing = (silver_table,) + (("interana_events",) if silver_table == "page_view_events" else ())
        out["+".join(landing)] = (silver_table, fact, landing)
    return out


def stream_of(landing_stream: Column) -> Column:
    """A landing stream column -> the reconciliation stream it is counted in."""
    mapped = None
    for stream, (_, _, landing) in streams().items():
        mapped = (F.when if mapped is None else mapped.when)(landing_stream.isin(*landing), F.lit(stream))
    return mapped


# --- pure: DataFrames -> DataFrames ---------------------------------------------------------------

def newest_landing_hour(bronze: DataFrame) -> DataFrame:
    """bronze.events -> (stream, newest_event_at): the start of the newest landing hour of each
    stream (bronze does not parse its lines; the landing partition is their event hour)."""
    hour_start = F.timestamp_seconds(F.unix_timestamp(F.col("event_date").cast("timestamp"))
                                     + F.col("event_hour").cast("long") * 3600)
    return (bronze.groupBy(stream_of(F.col("stream")).alias("stream"))
            .agg(F.max(hour_start).alias("newest_event_at"))
            .select("stream", "newest_event_at"))


def newest_event_at(df: DataFrame) -> DataFrame:
    """A silver table or gold fact -> one row: its newest event_at (null when empty)."""
    return df.agg(F.max("event_at").alias("newest_event_at")).select("newest_event_at")


def quarantine_by_reason(quarantine: DataFrame, bronze: DataFrame, measured_at: datetime) -> DataFrame:
    """silver.quarantine, bronze.events -> ops.data_health_quarantine: lines per landing day x
    stream x reason, and a 0 of reason NOTHING_QUARANTINED for each day and stream bronze landed
    with none quarantined."""
    c = contract("ops/data_health_quarantine")
    day, stream = F.col("event_date").cast("timestamp").alias("landing_day_at"), stream_of(F.col("stream")).alias("stream")
    counted = (quarantine.groupBy(day, stream, F.col("reason"))
               .agg(F.count(F.lit(1)).alias("row_count")))
    clean = (bronze.select(day, stream).where(F.col("stream").isNotNull()).distinct()
             .join(counted.select("landing_day_at", "stream"), ["landing_day_at", "stream"], "left_anti")
             .select("landing_day_at", "stream", F.lit(NOTHING_QUARANTINED).alias("reason"),
                     F.lit(0).cast("long").alias("row_count")))
    return (counted.unionByName(clean)
            .withColumn("measured_at", F.lit(measured_at).cast("timestamp"))
            .transform(c.conform))


# --- pure: rows -> rows -------------------------------------------------------------------------

def layer_rows(reconciliation: list[dict], newest: dict[tuple[str, str], datetime | None],
               measured_at: datetime, run_id: str) -> list[dict]:
    """The reconciliation report of a run (medley.hops.reconciliation) -> ops.data_health rows for
    bronze, silver (the whole silver table: what gold must equal), quarantine, duplicates and gold;
    newest: (layer, stream) -> newest event time."""
    rows = []
    for r in reconciliation:
        silver_table, fact, _ = streams()[r["stream"]]
        for layer, table_name, count in (("bronze", "bronze.events", r["bronze"]),
                                         ("silver", f"silver.{silver_table}", r["silver_total"]),
                                         ("quarantine", "silver.quarantine", r["quarantined"]),
                                         ("duplicates", "silver.duplicate_events", r["duplicates"]),
                                         ("gold", f"gold.{fact}", r["gold"])):
            rows.append({"measured_at": measured_at, "run_id": run_id, "layer": layer, "table_name": table_name,
                         "stream": r["stream"], "row_count": int(count),
                         "newest_event_at": newest.get((layer, r["stream"])) if count else None})
    return rows


def _columns(kwargs: dict) -> str:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return ", ".join(map(str, kwargs["column_list"]))
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return ""


def gate_rows(result: dict, key: str, checked_at: datetime, result_uri: str) -> list[dict]:
    """A saved GE validation result (JSON, medley/quality.py) at <prefix>/runs/<run_id>/<layer>/<table>.json
    -> one ops.data_health_gates row per expectation it ran."""
    run_id, layer, name = key.rsplit("/", 3)[-3:]
    name = name.removesuffix(".json")
    rows = []
    for r in result.get("results", []):
        config = r["expectation_config"]
        unexpected = (r.get("result") or {}).get("unexpected_count")
        rows.append({"checked_at": checked_at, "run_id": run_id, "layer": layer, "table_name": f"{layer}.{name}",
                     "expectation": f"{config['type']}({_columns(config.get('kwargs') or {})})",
                     "outcome": "passed" if r["success"] else "failed",
                     "unexpected_count": None if unexpected is None else int(unexpected),
                     "result_uri": result_uri})
    return rows


def druid_interval(times: list[datetime | date]) -> str:
    """The whole years holding these times, as a Druid interval: the health datasources use
    yearly segments, and replacing whole years keeps every interval aligned to them."""
    years = [t.year for t in times]
    return f"{min(years)}-01-01/{max(years) + 1}-01-01"


# --- I/O --------------------------------------------------------------------------------------------

def _frame(spark: SparkSession, table: str, rows: list[dict]) -> DataFrame:
    c = contract(table)
    return spark.createDataFrame([tuple(r[n] for n in c.column_names) for r in rows], c.spark_schema())


def _replace(spark: SparkSession, cfg: Config, df: DataFrame, table: str, run_id: str, predicate: str) -> None:
    where = storage.table_uri(cfg, table)
    if exists(spark, where):
        replace_partitions(df, where, "run_id", [run_id], extra_predicate=predicate)
    else:
        append(df, where)


def _newest(spark: SparkSession, cfg: Config) -> dict[tuple[str, str], datetime | None]:
    from medley.hops import table

    newest: dict[tuple[str, str], datetime | None] = {}
    bronze = table(spark, cfg, "bronze.events")
    if bronze is not None:
        newest.update({("bronze", r["stream"]): r["newest_event_at"] for r in newest_landing_hour(bronze).collect()})
    for stream, (silver_table, fact, _) in streams().items():
        for layer, name in (("silver", f"silver.{silver_table}"), ("gold", f"gold.{fact}")):
            df = table(spark, cfg, name)
            if df is not None:
                newest[(layer, stream)] = newest_event_at(df).first()["newest_event_at"]
    return newest


def record_gates(spark: SparkSession, cfg: Config) -> int:
    """Add the saved gate results not in ops.data_health_gates yet; return how many results."""
    where = storage.table_uri(cfg, GATES)
    seen = set()
    if exists(spark, where):
        seen = {(r["run_id"], r["table_name"]) for r in read(spark, where).select("run_id", "table_name")
                .distinct().collect()}
    prefix = f"{cfg.get('storage.quality_prefix')}/runs/"
    s3, bucket = storage.client(cfg), cfg.get("storage.bucket")
    rows, results = [], 0
    for obj in s3.list_objects(bucket, prefix=prefix, recursive=True):
        parts = obj.object_name[len(prefix):].split("/")
        if len(parts) != 3 or not parts[2].endswith(".json"):
            continue
        run_id, layer, name = parts[0], parts[1], parts[2].removesuffix(".json")
        if (run_id, f"{layer}.{name}") in seen:
            continue
        response = s3.get_object(bucket, obj.object_name)
        try:
            saved = json.loads(response.read())
        finally:
            response.close()
            response.release_conn()
        rows += gate_rows(saved, obj.object_name, obj.last_modified.astimezone(timezone.utc),
                          storage.uri(cfg, obj.object_name, "s3"))
        results += 1
    if rows:
        append(_frame(spark, GATES, rows), where)
    return results


def record(spark: SparkSession, cfg: Config, report) -> None:
    """End of the reconcile hop (its counts reconciled): write this run's measurement, the
    quarantine snapshot and the new gate results; serve them in Druid now unless the druid hop
    comes next (it serves them with its own rows)."""
    from medley import state
    from medley.hops import table

    measured_at = datetime.now(timezone.utc).replace(microsecond=0)
    rows = layer_rows(report.reconciliation, _newest(spark, cfg), measured_at, report.run_id)
    _replace(spark, cfg, _frame(spark, HEALTH, rows), HEALTH, report.run_id, "layer != 'druid'")
    quarantine, bronze = table(spark, cfg, "silver.quarantine"), table(spark, cfg, "bronze.events")
    if quarantine is not None and bronze is not None:
        from medley.delta import overwrite

        overwrite(quarantine_by_reason(quarantine, bronze, measured_at), storage.table_uri(cfg, QUARANTINE))
    record_gates(spark, cfg)
    if not state.pending(cfg, "druid"):
        serve(spark, cfg)


def druid_rows(cfg: Config, run_id: str, measured_at: datetime) -> list[dict]:
    """ops.data_health rows of layer druid: per stream, the rows and newest event of the Druid
    datasource serving its gold fact (streams whose fact has no Druid spec have none)."""
    from medley import druid

    served = druid.served_datasources(cfg)
    rows = []
    for stream, (_, fact, _) in streams().items():
        if not (druid.SPECS_DIR / f"{fact}.json").exists() or fact not in served:
            continue
        got = druid.sql(cfg, f'SELECT COUNT(*) AS n, MAX(__time) AS newest FROM "{fact}"')[0]
        newest = datetime.fromisoformat(got["newest"].replace("Z", "+00:00")) if got["n"] else None
        rows.append({"measured_at": measured_at, "run_id": run_id, "layer": "druid", "table_name": f"druid.{fact}",
                     "stream": stream, "row_count": int(got["n"]), "newest_event_at": newest})
    return rows


def record_druid(spark: SparkSession, cfg: Config, report) -> None:
    """End of the druid hop: add what Druid serves now, then serve the health tables."""
    rows = druid_rows(cfg, report.run_id, datetime.now(timezone.utc).replace(microsecond=0))
    if rows:
        _replace(spark, cfg, _frame(spark, HEALTH, rows), HEALTH, report.run_id, "layer = 'druid'")
    serve(spark, cfg)


def serve(spark: SparkSession, cfg: Config) -> dict[str, int]:
    """Ingest each health table whole into its Druid datasource (druid_specs/data_health*.json),
    replacing the years it covers and the years Druid held before, so rows gone from the table
    (a replay empties quarantine days) are gone from Druid too; a table left with no rows drops
    its datasource. The tasks run side by side. Returns datasource -> rows."""
    from medley import druid

    tasks = {}
    served = druid.served_datasources(cfg)
    for table, time_column in ((HEALTH, "measured_at"), (QUARANTINE, "landing_day_at"), (GATES, "checked_at")):
        where = storage.table_uri(cfg, table)
        if not exists(spark, where):
            continue
        name = table.split(".")[1]
        df = read(spark, where)
        span = df.agg(F.min(time_column).alias("first"), F.max(time_column).alias("last")).first()
        files = df.inputFiles()
        if span["first"] is None or not files:
            if name in served:
                druid.drop_datasource(cfg, name)
            continue
        times = [span["first"], span["last"]]
        if name in served:
            held = druid.sql(cfg, f'SELECT MIN(__time) AS "first", MAX(__time) AS "last" FROM "{name}"')[0]
            times += [datetime.fromisoformat(held[k].replace("Z", "+00:00")) for k in ("first", "last")]
        bucket_prefix = f"s3a://{cfg.get('storage.bucket')}/"
        objects = [f"s3://{cfg.get('storage.bucket')}/{f[len(bucket_prefix):]}" for f in files]
        spec = druid.render_spec(cfg, druid.load_spec(name), objects, [druid_interval(times)])
        tasks[name] = (druid.ingest(cfg, spec), df.count())
    served = {}
    for name, (task, rows) in tasks.items():
        druid.wait_for_task(cfg, task, name)
        served[name] = druid.wait_for_datasource(cfg, name, min_rows=1)
    return served
