"""gold.agg_sessions_daily: sessions and their length per day the session started and the level it
started at. A session may cross midnight, so the caller passes the page views of the days around
the ones it rebuilds (see run.session_read_dates) and the days to keep."""

from __future__ import annotations

from typing import Iterable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract

CONTRACT = contract("gold/agg_sessions_daily")
# EventSim numbers sessions with one counter per run of the simulator; the dialect keeps two
# simulators' numbers apart.
SESSION = ["dialect", "session_id"]


def build(page_views: DataFrame, start_dates: Iterable[str]) -> DataFrame:
    """`page_views`: silver.page_view_events rows; only sessions started on `start_dates` are kept."""
    first = F.struct("event_at", "level")
    sessions = (page_views.groupBy(*SESSION)
                .agg(F.min("event_at").alias("started_at"), F.max("event_at").alias("ended_at"),
                     F.min(first).alias("first_event"), F.count(F.lit(1)).alias("event_count"))
                .select("event_count", F.to_date("started_at").alias("event_date"),
                        F.col("first_event.level").alias("level"),
                        (F.unix_millis("ended_at") - F.unix_millis("started_at")).alias("length_ms")))
    daily = (sessions.where(F.col("event_date").isin(sorted(start_dates)))
             .groupBy("event_date", "level")
             .agg(F.count(F.lit(1)).alias("session_count"),
                  (F.sum("length_ms") / 1000).alias("total_session_s"),
                  (F.avg("length_ms") / 1000).alias("avg_session_s"),
                  F.avg("event_count").alias("avg_events_per_session")))
    return CONTRACT.conform(daily)
