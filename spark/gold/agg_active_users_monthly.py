"""gold.agg_active_users_monthly: distinct users with at least one page request, per month and
level. Distinct counts do not add up, so a run recomputes the months it touched."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract

CONTRACT = contract("gold/agg_active_users_monthly")


def build(page_views: DataFrame) -> DataFrame:
    """`page_views`: silver.page_view_events rows of whole months."""
    monthly = (page_views.where(F.col("user_id").isNotNull())
               .select("*", F.trunc("event_date", "month").alias("month_start"))
               .groupBy("month_start", "level")
               .agg(F.countDistinct("user_id").alias("active_users")))
    return CONTRACT.conform(monthly)
