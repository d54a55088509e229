"""The gold job: the silver event dates a run replaced -> the star schema and its aggregates.

Cost follows the new data, not the history: facts and daily aggregates are rebuilt for the given
event dates only (replace_partitions, so a rerun gives identical gold); sessions also for the day
before (a session may cross midnight), monthly active users for the months touched. Dimensions
are incremental: song, artist, location and date members are appended when first seen (keys are
hashes of natural keys, so a fact computes its foreign key without a lookup); dim_user merges only
the versions of the users the new events name; dim_time is written once.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable, Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medley import storage
from medley.config import Config
from medley.contracts import contract
from medley.delta import append, exists, overwrite, read, replace_partitions
from medley.spark import cached
from spark.gold import (agg_active_users_daily, agg_active_users_monthly, agg_listens_hourly,
                        agg_page_errors_daily, agg_sessions_daily, agg_subscription_changes_daily,
                        dim_artist, dim_date, dim_location, dim_song, dim_time, dim_user, fact_auth,
                        fact_listen, fact_page_view, fact_status_change, refdata)
from spark.gold.constants import MINUTES_PER_DAY
from spark.gold.keys import require_unique

SILVER = ("listen_events", "page_view_events", "auth_events", "status_change_events")
FACTS = {"fact_listen": ("listen_events", fact_listen.build),
         "fact_page_view": ("page_view_events", fact_page_view.build),
         "fact_auth": ("auth_events", fact_auth.build),
         "fact_status_change": ("status_change_events", fact_status_change.build)}
Location = Callable[[str], str]     # "gold.fact_listen" -> where the Delta table lives


@dataclass
class GoldResult:
    tables: dict[str, int] = field(default_factory=dict)   # table -> rows written this run
    # called with a table's name after each of its commits: where the fault tests crash a run
    after_commit: Callable[[str], None] = lambda name: None

    def committed(self, name: str, rows: int) -> None:
        self.tables[name] = rows
        self.after_commit(name)


def run(spark: SparkSession, cfg: Config, event_dates: set[str],
        after_commit: Callable[[str], None] = lambda name: None) -> GoldResult:
    return run_at(spark, lambda table: storage.table_uri(cfg, table), event_dates, after_commit)


def run_at(spark: SparkSession, location: Location, event_dates: Iterable[str],
           after_commit: Callable[[str], None] = lambda name: None) -> GoldResult:
    dates = sorted(set(event_dates))
    result = GoldResult(after_commit=after_commit)
    if not dates:
        return result
    silver = {t: cached(_silver(spark, location, t, dates)) for t in SILVER}
    try:
        _dimensions(spark, location, dates, silver, result)
        users = silver_users(silver)
        versions = (_table(spark, location, "gold.dim_user").where(F.col("user_id").isNotNull())
                    .join(users, on="user_id", how="left_semi"))
        require_unique(versions, ["user_key"], "gold.dim_user")
        for fact, (table, build) in FACTS.items():
            _replace(spark, location, result, fact, build(silver[table], versions), "event_date", dates)
        _aggregates(spark, location, dates, silver, result)
    finally:
        for frame in silver.values():
            frame.unpersist()
    return result


def silver_users(silver: dict[str, DataFrame]) -> DataFrame:
    out = silver["page_view_events"].select("user_id")
    for table in ("listen_events", "auth_events", "status_change_events"):
        out = out.unionByName(silver[table].select("user_id"))
    return out.where(F.col("user_id").isNotNull()).distinct()


def _dimensions(spark, location: Location, dates: list[str], silver: dict[str, DataFrame],
                result: GoldResult) -> None:
    if not exists(spark, location("gold.dim_time")):
        overwrite(dim_time.build(spark.range(MINUTES_PER_DAY)), location("gold.dim_time"))
        result.committed("dim_time", MINUTES_PER_DAY)

    event_dates = spark.createDataFrame([(d,) for d in dates], "event_date string").select(
        F.to_date("event_date").alias("event_date"))
    new_dates = dim_date.build(dim_date.dates_to_add(event_dates, _table(spark, location, "gold.dim_date")))
    _add_members(spark, location, result, "dim_date", new_dates)

    listens = silver["listen_events"]
    events = _union([silver[t] for t in SILVER], ["city", "state_code", "zip", "lat", "lon"])
    members = {
        "dim_artist": (dim_artist, lambda e: dim_artist.new_members(listens, e, refdata.artists(spark))),
        "dim_song": (dim_song, lambda e: dim_song.new_members(listens, e, refdata.songs(spark))),
        "dim_location": (dim_location, lambda e: dim_location.new_members(events, e, refdata.states(spark))),
    }
    for name, (module, new_members) in members.items():
        existing = _table(spark, location, f"gold.{name}")
        fresh = new_members(existing)
        if not exists(spark, location(f"gold.{name}")):
            fresh = module.with_unknown(fresh)
        _add_members(spark, location, result, name, fresh)

    observations = dim_user.level_observations(silver["listen_events"], silver["page_view_events"],
                                               silver["auth_events"], silver["status_change_events"])
    existing = _table(spark, location, "gold.dim_user")
    merged = dim_user.merge_versions(existing, observations)
    if not exists(spark, location("gold.dim_user")):
        overwrite(dim_user.with_unknown(merged), location("gold.dim_user"))
    else:
        _merge_user_versions(spark, location("gold.dim_user"), dim_user.changed_versions(merged, existing))
    result.committed("dim_user", _rows_written(spark, location("gold.dim_user")))


def _merge_user_versions(spark, where: str, changed: DataFrame) -> None:
    """Insert new versions, close old ones: one Delta commit touching only their files."""
    from delta.tables import DeltaTable

    (DeltaTable.forPath(spark, where).alias("t")
     .merge(changed.alias("c"), "t.user_key = c.user_key")
     .whenMatchedUpdate(set={"valid_to": "c.valid_to", "is_current": "c.is_current"})
     .whenNotMatchedInsertAll()
     .execute())


def _aggregates(spark, location: Location, dates: list[str], silver: dict[str, DataFrame],
                result: GoldResult) -> None:
    listens, page_views = silver["listen_events"], silver["page_view_events"]
    daily = {
        "agg_listens_hourly": agg_listens_hourly.build(listens),
        "agg_active_users_daily": agg_active_users_daily.build(page_views),
        "agg_subscription_changes_daily": agg_subscription_changes_daily.build(
            silver["status_change_events"], page_views),
        "agg_page_errors_daily": agg_page_errors_daily.build(page_views),
    }
    for name, df in daily.items():
        _replace(spark, location, result, name, df, "event_date", dates)

    starts = session_start_dates(dates)
    session_views = _silver(spark, location, "page_view_events", sorted(_days_around(starts)))
    _replace(spark, location, result, "agg_sessions_daily",
             agg_sessions_daily.build(session_views, starts), "event_date", starts)

    months = sorted({d[:7] + "-01" for d in dates})
    month_views = _silver(spark, location, "page_view_events", days_of_months(months))
    _replace(spark, location, result, "agg_active_users_monthly",
             agg_active_users_monthly.build(month_views), "month_start", months)


def session_start_dates(dates: list[str]) -> list[str]:
    """Sessions are counted on the day they start: a changed day also changes the day before's
    sessions that ran past midnight."""
    return sorted({str(date.fromisoformat(d) - timedelta(days=k)) for d in dates for k in (0, 1)})


def _days_around(dates: Iterable[str]) -> set[str]:
    return {str(date.fromisoformat(d) + timedelta(days=k)) for d in dates for k in (-1, 0, 1)}


def days_of_months(month_starts: list[str]) -> list[str]:
    out = []
    for m in month_starts:
        first = date.fromisoformat(m)
        out += [str(first.replace(day=k)) for k in range(1, calendar.monthrange(first.year, first.month)[1] + 1)]
    return out


def _silver(spark, location: Location, table: str, dates: list[str]) -> DataFrame:
    return _table(spark, location, f"silver.{table}").where(F.col("event_date").isin(dates))


def _table(spark, location: Location, table: str) -> DataFrame:
    """The Delta table, or an empty frame of its contract's schema before its first write."""
    where = location(table)
    if exists(spark, where):
        return read(spark, where)
    return spark.createDataFrame([], contract(table).spark_schema())


def _union(frames: list[DataFrame], columns: list[str]) -> DataFrame:
    out = frames[0].select(*columns)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*columns))
    return out


def _add_members(spark, location: Location, result: GoldResult, name: str, members: DataFrame) -> None:
    where = location(f"gold.{name}")
    if exists(spark, where):
        append(members, where)
    else:
        overwrite(members, where)
    result.committed(name, _rows_written(spark, where))


def _replace(spark, location: Location, result: GoldResult, name: str, df: DataFrame, column: str,
             values: list[str]) -> None:
    where = location(f"gold.{name}")
    c = contract(f"gold/{name}")
    if exists(spark, where):
        replace_partitions(df, where, column, values, c.partition_by)
    else:
        overwrite(df, where, c.partition_by)
    result.committed(name, _rows_written(spark, where))


def _rows_written(spark, where: str) -> int:
    """Rows the table's last commit wrote, from the Delta log (no second pass over the data)."""
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(spark, where).history(1).select("operation", "operationMetrics").first()
    metrics = last["operationMetrics"] or {}
    if last["operation"] == "MERGE":
        return int(metrics.get("numTargetRowsInserted", 0)) + int(metrics.get("numTargetRowsUpdated", 0))
    return int(metrics.get("numOutputRows", 0))
