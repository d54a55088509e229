"""Foreign keys every fact shares: date, time, the user version valid at the event, location."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.gold import dim_location
from spark.gold.keys import date_key, key_or_unknown, time_key


def with_fact_keys(events: DataFrame, user_versions: DataFrame) -> DataFrame:
    """Silver rows + date_key, time_key, user_key, location_key; one output row per input row,
    since a user's versions never overlap (dim_user.merge_versions)."""
    e = events.alias("e")
    v = user_versions.select("user_key", "user_id", "valid_from", "valid_to").alias("v")
    in_version = ((F.col("e.user_id") == F.col("v.user_id"))
                  & (F.col("e.event_at") >= F.col("v.valid_from"))
                  & (F.col("v.valid_to").isNull() | (F.col("e.event_at") < F.col("v.valid_to"))))
    has_user = F.col("e.user_id").isNotNull()
    return e.join(v, on=in_version, how="left").select(
        "e.*",
        date_key(F.col("e.event_at")).alias("date_key"),
        time_key(F.col("e.event_at")).alias("time_key"),
        # a user without a version is left null, so the gold gate's referential check catches it
        key_or_unknown(has_user, F.col("v.user_key")).alias("user_key"),
        dim_location.location_key_of(F.col("e.city"), F.col("e.state_code"), F.col("e.zip")).alias("location_key"),
    )
