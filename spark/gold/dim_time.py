"""gold.dim_time: one member per minute of the day, the same every run (static)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import DAY_PARTS

CONTRACT = contract("gold/dim_time")


def build(minutes: DataFrame) -> DataFrame:
    """`minutes`: column `id` holding 0 .. MINUTES_PER_DAY - 1 (spark.range)."""
    hour, minute = (F.col("id") / 60).cast("int"), (F.col("id") % 60).cast("int")
    day_part = F.lit(None)
    for start_hour, name in DAY_PARTS:
        day_part = F.when(hour >= start_hour, F.lit(name)).otherwise(day_part)
    return CONTRACT.conform(minutes.select(
        (hour * 100 + minute).alias("time_key"), hour.alias("hour"), minute.alias("minute"),
        F.format_string("%02d:%02d", hour, minute).alias("time_of_day"), day_part.alias("day_part")))
