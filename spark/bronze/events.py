"""bronze.events: exactly-once ingestion of new landing objects, raw lines kept verbatim.

Exactly once: the objects already in bronze (looked up only in the partitions the candidates
belong to) are skipped, and all new objects are appended in ONE Delta commit, so a run killed
mid-write commits nothing and the rerun ingests the same objects once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from medley import landing, storage
from medley.config import Config
from medley.contracts import contract
from medley.delta import append, exists

CONTRACT = contract("bronze/events")


@dataclass
class BronzeResult:
    run_id: str
    new_objects: list[str] = field(default_factory=list)
    rows_by_stream: dict[str, int] = field(default_factory=dict)
    ignored_keys: list[str] = field(default_factory=list)   # keys that break the landing contract

    @property
    def event_dates(self) -> set[str]:
        return {landing.parse_key(k)["event_date"] for k in self.new_objects}


def split_lines(lines: DataFrame) -> DataFrame:
    """(file_path, value = one line, in file order) -> non-empty lines numbered from 1 per object.
    A gzip object is not splittable, so one task reads it front to back and the increasing id
    follows the line order."""
    in_file_order = Window.partitionBy("file_path").orderBy("read_order")
    return (lines
            .select(F.col("file_path"), F.col("value"), F.monotonically_increasing_id().alias("read_order"))
            .select(F.col("file_path"), F.row_number().over(in_file_order).cast("long").alias("line_number"),
                    F.col("value").alias("raw_record"))
            .where(F.length(F.trim(F.col("raw_record"))) > 0))


def to_bronze(lines: DataFrame, bucket: str, run_id: str, ingested_at: datetime) -> DataFrame:
    """Add lineage (source object, stream and partition from the landing key) to raw lines."""
    key = F.regexp_replace(F.col("file_path"), rf"^s3a?://{bucket}/", "")
    parts = F.regexp_extract(key, r"/([a-z_]+)/event_date=(\d{4}-\d{2}-\d{2})/event_hour=(\d{2})/", 0)
    return CONTRACT.conform(lines.select(
        F.col("raw_record"),
        F.regexp_extract(parts, r"^/([a-z_]+)/", 1).alias("stream"),
        key.alias("source_object"),
        F.col("line_number"),
        F.to_date(F.regexp_extract(parts, r"event_date=([0-9-]+)", 1)).alias("event_date"),
        F.regexp_extract(parts, r"event_hour=(\d{2})", 1).cast("int").alias("event_hour"),
        F.lit(ingested_at).alias("ingested_at"),
        F.lit(run_id).alias("ingest_run_id"),
    ))


def already_ingested(spark: SparkSession, location: str, event_dates: set[str]) -> set[str]:
    if not exists(spark, location) or not event_dates:
        return set()
    rows = (spark.read.format("delta").load(location)
            .where(F.col("event_date").isin(sorted(event_dates)))
            .select("source_object").distinct().collect())
    return {r.source_object for r in rows}


def run(spark: SparkSession, cfg: Config) -> BronzeResult:
    result = BronzeResult(run_id=uuid.uuid4().hex[:12])
    prefix = cfg.get("storage.landing_prefix")
    candidates = []
    for key in storage.list_keys(cfg, prefix.strip("/") + "/"):
        try:
            landing.parse_key(key)
            candidates.append(key)
        except ValueError:
            result.ignored_keys.append(key)
    location = storage.table_uri(cfg, CONTRACT.table)
    dates = {landing.parse_key(k)["event_date"] for k in candidates}
    done = already_ingested(spark, location, dates)
    result.new_objects = sorted(k for k in candidates if k not in done)
    if not result.new_objects:
        return result
    lines = (spark.read.text([storage.uri(cfg, k) for k in result.new_objects])
             .select(F.col("value"), F.col("_metadata.file_path").alias("file_path")))
    rows = to_bronze(split_lines(lines), cfg.get("storage.bucket"), result.run_id,
                     datetime.now(timezone.utc).replace(tzinfo=None))
    append(rows, location, CONTRACT.partition_by)
    counts = (spark.read.format("delta").load(location)
              .where(F.col("ingest_run_id") == result.run_id).groupBy("stream").count().collect())
    result.rows_by_stream = {r["stream"]: r["count"] for r in counts}
    return result
