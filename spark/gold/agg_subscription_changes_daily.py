"""gold.agg_subscription_changes_daily: upgrades, downgrades and cancellations per day."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import CANCEL_PAGE, DOWNGRADE, UPGRADE

CONTRACT = contract("gold/agg_subscription_changes_daily")


def _count_where(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def build(changes: DataFrame, page_views: DataFrame) -> DataFrame:
    """One row for every day with page requests (zeros included). Cancellations are the
    'Cancellation Confirmation' page views: EventSim has no status change for them."""
    days = page_views.select("event_date").distinct().alias("d")
    changed = (changes.groupBy("event_date")
               .agg(_count_where(F.col("change_type") == UPGRADE).alias("upgrades"),
                    _count_where(F.col("change_type") == DOWNGRADE).alias("downgrades"))
               .alias("c"))
    cancelled = (page_views.where(F.col("page") == CANCEL_PAGE).groupBy("event_date")
                 .agg(F.count(F.lit(1)).alias("cancellations")).alias("x"))
    joined = (days.join(changed, on=F.col("d.event_date") == F.col("c.event_date"), how="left")
              .join(cancelled, on=F.col("d.event_date") == F.col("x.event_date"), how="left"))
    return CONTRACT.conform(joined.select(
        "d.event_date", F.coalesce("c.upgrades", F.lit(0)).alias("upgrades"),
        F.coalesce("c.downgrades", F.lit(0)).alias("downgrades"),
        F.coalesce("x.cancellations", F.lit(0)).alias("cancellations")))
