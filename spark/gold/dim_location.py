"""gold.dim_location: one member per (city, state_code, zip) seen in any event, with the state's
name. Append-only: a run adds the members its events name that the table lacks."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import UNKNOWN_KEY
from spark.gold.keys import key_or_unknown, surrogate_key, with_unknown_member

CONTRACT = contract("gold/dim_location")
NATURAL_KEY = ["city", "state_code", "zip"]


def location_key_of(city: Column, state_code: Column, zip_code: Column) -> Column:
    has_location = F.coalesce(city, state_code, zip_code).isNotNull()
    return key_or_unknown(has_location, surrogate_key(city, state_code, zip_code))


def new_members(events: DataFrame, existing: DataFrame, states: DataFrame) -> DataFrame:
    """Members for the locations of `events` not yet in `existing`. lat/lon: the smallest pair
    seen (EventSim gives one per zip; the interana dialect has none)."""
    seen = (events
            .select(*NATURAL_KEY, F.struct("lat", "lon").alias("position"))
            .groupBy(*NATURAL_KEY).agg(F.min("position").alias("position"))
            .select("*", location_key_of(*[F.col(c) for c in NATURAL_KEY]).alias("location_key"))
            .where(F.col("location_key") != UNKNOWN_KEY))
    fresh = seen.join(existing.select("location_key"), on="location_key", how="left_anti").alias("l")
    s = states.alias("s")
    named = fresh.join(s, on=F.col("l.state_code") == F.col("s.state_code"), how="left")
    return CONTRACT.conform(named.select(
        "l.location_key", "l.city", "l.state_code", "s.state_name", "l.zip",
        F.col("l.position.lat").alias("lat"), F.col("l.position.lon").alias("lon")))


def with_unknown(members: DataFrame) -> DataFrame:
    return with_unknown_member(members, {"location_key": UNKNOWN_KEY})
