"""gold.agg_listens_hourly: listens per hour x song x artist x state x level x gender, with the
readable values Druid and Superset show (and the keys, to join back to the star)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold import dim_artist, dim_song

CONTRACT = contract("gold/agg_listens_hourly")
GRAIN = ["event_hour", "song", "artist", "state_code", "level", "gender"]


def build(listens: DataFrame) -> DataFrame:
    """`listens`: silver.listen_events rows."""
    hourly = (listens.select("*", F.date_trunc("hour", "event_at").alias("event_hour"))
              .groupBy(*GRAIN)
              .agg(F.count(F.lit(1)).alias("listen_count"), F.sum("duration_s").alias("listen_seconds")))
    return CONTRACT.conform(hourly.select(
        "*", F.to_date("event_hour").alias("event_date"),
        dim_song.song_key_of(F.col("artist"), F.col("song")).alias("song_key"),
        dim_artist.artist_key_of(F.col("artist")).alias("artist_key")))
