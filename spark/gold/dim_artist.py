"""gold.dim_artist: one member per artist name ever played, enriched from the Million Song
Dataset where the artist is in it. Append-only, like dim_song."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import UNKNOWN_KEY
from spark.gold.keys import surrogate_key, with_unknown_member

CONTRACT = contract("gold/dim_artist")


def artist_key_of(artist: Column) -> Column:
    return surrogate_key(artist)


def new_members(listens: DataFrame, existing: DataFrame, catalog: DataFrame) -> DataFrame:
    """`catalog`: refdata.artists (unique on artist)."""
    played = (listens.select("artist").distinct()
              .select("*", artist_key_of(F.col("artist")).alias("artist_key")))
    fresh = played.join(existing.select("artist_key"), on="artist_key", how="left_anti").alias("p")
    c = catalog.alias("c")
    enriched = fresh.join(c, on=F.col("p.artist") == F.col("c.artist"), how="left")
    return CONTRACT.conform(enriched.select(
        "p.artist_key", "p.artist", F.col("c.msd_artist_id").isNotNull().alias("is_in_catalog"),
        "c.msd_artist_id", "c.artist_location", "c.artist_lat", "c.artist_lon"))


def with_unknown(members: DataFrame) -> DataFrame:
    return with_unknown_member(members, {"artist_key": UNKNOWN_KEY, "is_in_catalog": False})
