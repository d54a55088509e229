"""The silver job: bronze.events -> the four silver tables, quarantine and duplicates.

Intervals: a run is given the landing dates that changed (new bronze objects). Invalid lines
depend only on themselves, so quarantine is replaced for exactly those landing dates. Valid
events are kept by their own UTC event date; an event's date may differ from its landing
partition's by at most a day (more is quarantined as outside_landing_partition), so event date
d is rebuilt completely from landing dates d-1..d+1 and replaced in one commit per table:
rerunning an interval replaces it, never appends to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from medley import landing, storage
from medley.config import Config
from medley.contracts import contract
from medley.delta import read, replace_partitions
from medley.spark import cached
from spark.silver import auth_events, listen_events, page_view_events, status_change_events

BRONZE = contract("bronze/events")
QUARANTINE = contract("silver/quarantine")
DUPLICATES = contract("silver/duplicate_events")
# EventSim lines are under 1 KiB (a Fluent Bit wrapper adds ~100 bytes): 64 Ki characters is
# far beyond any event, and keeps a runaway line (megabytes without a newline) out of silver
MAX_LINE_CHARS = 65_536
TABLES = ("listen_events", "page_view_events", "auth_events", "status_change_events")

# stream -> (silver table, parser of its bronze rows)
VIIRYA_PARSERS: dict[str, tuple[str, Callable[[DataFrame], DataFrame]]] = {
    "listen_events": ("listen_events", listen_events.parse_viirya),
    "page_view_events": ("page_view_events", page_view_events.parse_viirya),
    "auth_events": ("auth_events", auth_events.parse_viirya),
    "status_change_events": ("status_change_events", status_change_events.parse_viirya),
}
# silver table -> how its interana events are derived from good interana page views
FROM_INTERANA_PAGE_VIEWS = {
    "listen_events": listen_events.from_page_views,
    "auth_events": auth_events.from_page_views,
    "status_change_events": status_change_events.from_page_views,
}


@dataclass
class SilverResult:
    landing_dates: list[str] = field(default_factory=list)
    event_dates: list[str] = field(default_factory=list)


def landing_dates_since(bronze: DataFrame, watermark) -> tuple[set[str], object]:
    """Landing dates of bronze rows ingested after the watermark, and the new watermark."""
    newer = bronze if watermark is None else bronze.where(F.col("ingested_at") > F.lit(watermark).cast("timestamp"))
    rows = newer.groupBy("event_date").agg(F.max("ingested_at").alias("last")).collect()
    latest = max((r["last"] for r in rows), default=None)
    return {str(r["event_date"]) for r in rows}, (latest.isoformat() if latest else watermark)


def with_line_rules(parsed: DataFrame) -> DataFrame:
    """Rules about the line itself, ahead of every rule about what it says: a line longer than
    MAX_LINE_CHARS is no EventSim event (line_too_long), and bytes that are not UTF-8 (bronze keeps
    them verbatim) would be read as replacement characters (invalid_utf8)."""
    too_long = F.length(F.col("raw_record")) > MAX_LINE_CHARS
    not_utf8 = ~F.is_valid_utf8(F.col("raw_record"))
    return parsed.withColumn("quarantine_reason", F.coalesce(
        F.when(too_long, F.lit("line_too_long")), F.when(not_utf8, F.lit("invalid_utf8")),
        F.col("quarantine_reason")))


def with_landing_window_rule(parsed: DataFrame) -> DataFrame:
    outside = F.abs(F.datediff(F.col("event_date"), F.col("landing_date"))) > 1
    return parsed.withColumn("quarantine_reason", F.coalesce(
        F.col("quarantine_reason"), F.when(outside, F.lit("outside_landing_partition"))))


def to_quarantine(parsed: DataFrame) -> DataFrame:
    bad = parsed.where(F.col("quarantine_reason").isNotNull())
    return QUARANTINE.conform(bad.select(
        F.col("stream"), F.col("quarantine_reason").alias("reason"), F.col("raw_record"),
        F.col("source_object"), F.col("line_number"), F.col("landing_date").alias("event_date"),
        F.col("ingested_at")))


def deduplicate(good: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Keep the first delivery of each event_key (earliest ingestion, then object, then line)."""
    first_delivery = Window.partitionBy("event_key").orderBy("ingested_at", "source_object", "line_number")
    ranked = good.withColumn("delivery", F.row_number().over(first_delivery))
    return ranked.where(F.col("delivery") == 1), ranked.where(F.col("delivery") > 1)


def good_rows(parsed: list[DataFrame], event_dates: list[str]) -> DataFrame:
    """The rows of the event dates that passed every rule, from parsed rows of several landing dates.
    Each part is filtered before the union: only this way round does Spark find a cached part
    inside the plan (filtering the union parsed the cached landing dates again)."""
    wanted = F.col("quarantine_reason").isNull() & F.col("event_date").isin(event_dates)
    return _union_all([frame.where(wanted) for frame in parsed])


def to_duplicates(dupes: DataFrame) -> DataFrame:
    return DUPLICATES.conform(dupes)


def parse_all(bronze: DataFrame) -> dict[str, DataFrame]:
    """Bronze rows -> {silver table: parsed rows with quarantine_reason} for every stream."""
    parsed: dict[str, list[DataFrame]] = {t: [] for t in TABLES}
    for stream, (table, parser) in VIIRYA_PARSERS.items():
        parsed[table].append(parser(bronze.where(F.col("stream") == stream))
                             .transform(with_line_rules).transform(with_landing_window_rule))
    interana = (page_view_events.parse_interana(bronze.where(F.col("stream") == landing.INTERANA_STREAM))
                .transform(with_line_rules).transform(with_landing_window_rule))
    parsed["page_view_events"].append(interana)
    good_interana = interana.where(F.col("quarantine_reason").isNull())
    for table, derive in FROM_INTERANA_PAGE_VIEWS.items():
        # derived rows keep their page view's lineage; only the page view is ever quarantined
        parsed[table].append(derive(good_interana))
    return {t: _union(frames, contract(f"silver/{t}")) for t, frames in parsed.items()}


def _union(frames: list[DataFrame], target) -> DataFrame:
    extra = ["quarantine_reason", "stream", "raw_record", "line_number", "landing_date"]
    cols = target.column_names + extra
    out = frames[0].select(*cols)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*cols))
    return out


def _days_around(dates: set[str]) -> set[str]:
    return {str(date.fromisoformat(d) + timedelta(days=k)) for d in dates for k in (-1, 0, 1)}


def run(spark: SparkSession, cfg: Config, landing_dates: set[str],
        after_commit: Callable[[str], None] = lambda name: None) -> SilverResult:
    """after_commit is called with a table's name after each of its commits (one per table):
    where the fault tests crash a run."""
    result = SilverResult(landing_dates=sorted(landing_dates))
    if not landing_dates:
        return result
    bronze = read(spark, storage.table_uri(cfg, BRONZE.table))
    # parsing JSON is the expensive part: every bronze row is parsed once and kept cached
    parsed_changed = _cached(parse_all(bronze.where(F.col("event_date").isin(result.landing_dates))))
    good: dict[str, DataFrame] = {}
    try:
        quarantine = _union_all([to_quarantine(p) for p in parsed_changed.values()])
        # interana page views are quarantined once, under their own stream
        replace_partitions(quarantine, storage.table_uri(cfg, QUARANTINE.table), "event_date",
                           result.landing_dates, QUARANTINE.partition_by)
        after_commit("quarantine")
        good_dates = _union_all([p.where(F.col("quarantine_reason").isNull()).select("event_date")
                                 for p in parsed_changed.values()]).distinct().collect()
        result.event_dates = sorted(str(r.event_date) for r in good_dates)
        if not result.event_dates:
            return result
        # event date d is rebuilt from landing dates d-1..d+1: the changed ones are parsed already
        others = sorted(_days_around(set(result.event_dates)) - set(result.landing_dates))
        parsed_others = parse_all(bronze.where(F.col("event_date").isin(others))) if others else {}
        good = _cached({table: good_rows([parsed, *([parsed_others[table]] if others else [])], result.event_dates)
                        for table, parsed in parsed_changed.items()})
        duplicates = []
        for table, rows in good.items():
            target = contract(f"silver/{table}")
            kept, dupes = deduplicate(rows)
            replace_partitions(target.conform(kept), storage.table_uri(cfg, target.table), "event_date",
                               result.event_dates, target.partition_by)
            after_commit(table)
            if table != "page_view_events":   # interana duplicates are recorded once, as page views
                dupes = dupes.where(F.col("stream") != landing.INTERANA_STREAM)
            duplicates.append(to_duplicates(dupes))
        replace_partitions(_union_all(duplicates), storage.table_uri(cfg, DUPLICATES.table), "event_date",
                           result.event_dates, DUPLICATES.partition_by)
        after_commit("duplicate_events")
    finally:
        _uncache(good)
        _uncache(parsed_changed)
    return result


def _cached(frames: dict[str, DataFrame]) -> dict[str, DataFrame]:
    return {name: cached(frame) for name, frame in frames.items()}


def _uncache(frames: dict[str, DataFrame]) -> None:
    for frame in frames.values():
        frame.unpersist()


def _union_all(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out
