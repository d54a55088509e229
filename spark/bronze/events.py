"""bronze.events: exactly-once ingestion of new landing objects, raw lines kept verbatim.

Exactly once: the objects already in bronze (looked up only in the partitions the candidates
belong to) are skipped, and all new objects are appended in ONE Delta commit, so a run killed
mid-write commits nothing and the rerun ingests the same objects once.

Damaged objects (medley/landing.py check_gzip: empty, not gzip, truncated or corrupt gzip) never
fail the run or the other objects: the lines that decompressed before the damage are ingested
like any others (a line cut short by the damage is quarantined by silver), and the object is
recorded once in bronze.damaged_objects with its damage, after the lines' commit. An object in
either table is never read again. (A crash between the two commits loses only the record.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from medley import landing, storage
from medley.config import Config
from medley.contracts import contract
from medley.delta import append, exists

CONTRACT = contract("bronze/events")
DAMAGED = contract("bronze/damaged_objects")
_PARTITION = r"/([a-z_]+)/event_date=(\d{4}-\d{2}-\d{2})/event_hour=(\d{2})/"


@dataclass
class BronzeResult:
    run_id: str
    new_objects: list[str] = field(default_factory=list)
    rows_by_stream: dict[str, int] = field(default_factory=dict)
    ignored_keys: list[str] = field(default_factory=list)   # keys that break the landing contract
    damaged: dict[str, str] = field(default_factory=dict)   # key -> damage (landing.GZIP_DAMAGE)

    @property
    def event_dates(self) -> set[str]:
        return {landing.parse_key(k)["event_date"] for k in self.new_objects}


def split_lines(lines: DataFrame) -> DataFrame:
    """(file_path, value = one line, in file order) -> non-empty lines numbered from 1 per object.
    A gzip object is not splittable, so one task reads it front to back and the increasing id
    follows the line order (so do the rows of a DataFrame made from a list, such as salvaged_lines)."""
    in_file_order = Window.partitionBy("file_path").orderBy("read_order")
    return (lines
            .select(F.col("file_path"), F.col("value"), F.monotonically_increasing_id().alias("read_order"))
            .select(F.col("file_path"), F.row_number().over(in_file_order).cast("long").alias("line_number"),
                    F.col("value").alias("raw_record"))
            .where(F.length(F.trim(F.col("raw_record"))) > 0))


def salvaged_lines(spark: SparkSession, texts: dict[str, bytes]) -> DataFrame:
    """{object uri: what decompressed before the damage} -> (file_path, value) in file order, split
    as Spark's text reader splits (LF, CR or CRLF). Lines travel as bytes, so invalid UTF-8 stays
    verbatim, as it does in the text reader."""
    rows = [(uri, line) for uri, text in texts.items() for line in text.splitlines()]
    lines = spark.createDataFrame(rows, "file_path string, value binary")
    return lines.select(F.col("file_path"), F.col("value").cast("string").alias("value"))


def landing_partition(key: Column) -> dict[str, Column]:
    """The stream, event_date and event_hour a landing object key encodes (medley/landing.py)."""
    return {"stream": F.regexp_extract(key, _PARTITION, 1),
            "event_date": F.to_date(F.regexp_extract(key, _PARTITION, 2)),
            "event_hour": F.regexp_extract(key, _PARTITION, 3).cast("int")}


def to_damaged_objects(damaged: DataFrame, ingested_at: datetime, run_id: str) -> DataFrame:
    """(source_object, damage, size_bytes, lines_salvaged) -> bronze.damaged_objects rows."""
    partition = landing_partition(F.col("source_object"))
    return DAMAGED.conform(damaged.select(
        F.col("source_object"), partition["stream"].alias("stream"), partition["event_date"].alias("event_date"),
        F.col("damage"), F.col("size_bytes"), F.col("lines_salvaged"),
        F.lit(ingested_at).alias("ingested_at"), F.lit(run_id).alias("ingest_run_id")))


def to_bronze(lines: DataFrame, bucket: str, run_id: str, ingested_at: datetime) -> DataFrame:
    """Add lineage (source object, stream and partition from the landing key) to raw lines."""
    key = F.regexp_replace(F.col("file_path"), rf"^s3a?://{bucket}/", "")
    partition = landing_partition(key)
    return CONTRACT.conform(lines.select(
        F.col("raw_record"),
        partition["stream"].alias("stream"),
        key.alias("source_object"),
        F.col("line_number"),
        partition["event_date"].alias("event_date"),
        partition["event_hour"].alias("event_hour"),
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


def _non_blank_lines(text: bytes) -> int:
    """Lines split_lines keeps (F.trim trims spaces only)."""
    return sum(1 for line in text.splitlines() if line.strip(b" "))


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
    location, damaged_location = storage.table_uri(cfg, CONTRACT.table), storage.table_uri(cfg, DAMAGED.table)
    dates = {landing.parse_key(k)["event_date"] for k in candidates}
    done = already_ingested(spark, location, dates) | already_ingested(spark, damaged_location, dates)
    result.new_objects = sorted(k for k in candidates if k not in done)
    if not result.new_objects:
        return result
    checks = {k: landing.check_gzip(storage.read_chunks(cfg, k)) for k in result.new_objects}
    result.damaged = {k: c.damage for k, c in checks.items() if c.damage}
    salvaged = {k: landing.check_gzip(storage.read_chunks(cfg, k), keep_text=True).text for k in result.damaged}
    whole = [storage.uri(cfg, k) for k in result.new_objects if k not in result.damaged]
    lines = salvaged_lines(spark, {storage.uri(cfg, k): text for k, text in salvaged.items()})
    if whole:
        lines = (spark.read.text(whole).select(F.col("_metadata.file_path").alias("file_path"), F.col("value"))
                 .unionByName(lines))
    ingested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    append(to_bronze(split_lines(lines), cfg.get("storage.bucket"), result.run_id, ingested_at),
           location, CONTRACT.partition_by)
    if result.damaged:
        damaged = spark.createDataFrame(
            [(k, d, checks[k].size_bytes, _non_blank_lines(salvaged[k])) for k, d in result.damaged.items()],
            "source_object string, damage string, size_bytes long, lines_salvaged long")
        append(to_damaged_objects(damaged, ingested_at, result.run_id), damaged_location, DAMAGED.partition_by)
    counts = (spark.read.format("delta").load(location)
              .where(F.col("ingest_run_id") == result.run_id).groupBy("stream").count().collect())
    result.rows_by_stream = {r["stream"]: r["count"] for r in counts}
    return result
