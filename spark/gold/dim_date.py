"""gold.dim_date: one member per day from the first to the last event date seen, with no gaps and
no hard-coded end: a run adds the days its events extend the range by."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.keys import date_key

CONTRACT = contract("gold/dim_date")


def dates_to_add(event_dates: DataFrame, existing: DataFrame) -> DataFrame:
    """Days of [min, max] over `event_dates.event_date` and the existing members, not yet members."""
    known = existing.select(F.col("date"))
    bounds = (event_dates.select(F.col("event_date").alias("date")).unionByName(known)
              .agg(F.min("date").alias("first_date"), F.max("date").alias("last_date")))
    span = bounds.select(F.explode(F.sequence("first_date", "last_date")).alias("date"))
    return span.join(known, on="date", how="left_anti")


def build(dates: DataFrame) -> DataFrame:
    d = F.col("date")
    iso_day_of_week = (F.dayofweek(d) + 5) % 7 + 1     # Spark counts from Sunday = 1
    return CONTRACT.conform(dates.select(
        date_key(d).alias("date_key"), d.alias("date"), F.year(d).alias("year"),
        F.quarter(d).alias("quarter"), F.month(d).alias("month"),
        F.date_format(d, "MMMM").alias("month_name"), F.trunc(d, "month").alias("month_start"),
        F.dayofmonth(d).alias("day_of_month"), iso_day_of_week.alias("day_of_week"),
        F.date_format(d, "EEEE").alias("day_name"), F.weekofyear(d).alias("iso_week"),
        (iso_day_of_week >= 6).alias("is_weekend")))
