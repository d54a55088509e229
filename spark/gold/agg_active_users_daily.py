"""gold.agg_active_users_daily: distinct users with at least one page request, per day and level."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract

CONTRACT = contract("gold/agg_active_users_daily")


def build(page_views: DataFrame) -> DataFrame:
    """`page_views`: silver.page_view_events rows (every request, listens included)."""
    daily = (page_views.where(F.col("user_id").isNotNull())
             .groupBy("event_date", "level")
             .agg(F.countDistinct("user_id").alias("active_users")))
    return CONTRACT.conform(daily)
