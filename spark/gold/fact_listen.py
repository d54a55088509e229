"""gold.fact_listen: silver.listen_events with the star's foreign keys."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold import dim_artist, dim_song
from spark.gold.events import with_fact_keys

CONTRACT = contract("gold/fact_listen")


def build(listens: DataFrame, user_versions: DataFrame) -> DataFrame:
    keyed = with_fact_keys(listens, user_versions).select(
        "*", dim_song.song_key_of(F.col("artist"), F.col("song")).alias("song_key"),
        dim_artist.artist_key_of(F.col("artist")).alias("artist_key"))
    return CONTRACT.conform(keyed)
