"""gold.dim_song: one member per (artist, song) ever played, enriched from the Million Song
Dataset where the song is in it (is_in_catalog); a song missing from it still gets a member.
Append-only: a run adds the songs its listens name that the table lacks."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold import dim_artist
from spark.gold.constants import UNKNOWN_KEY
from spark.gold.keys import surrogate_key, with_unknown_member

CONTRACT = contract("gold/dim_song")


def song_key_of(artist: Column, song: Column) -> Column:
    return surrogate_key(artist, song)


def new_members(listens: DataFrame, existing: DataFrame, catalog: DataFrame) -> DataFrame:
    """`catalog`: refdata.songs (unique on artist, song)."""
    played = (listens.select("artist", "song").distinct()
              .select("*", song_key_of(F.col("artist"), F.col("song")).alias("song_key")))
    fresh = played.join(existing.select("song_key"), on="song_key", how="left_anti").alias("p")
    c = catalog.alias("c")
    same_song = (F.col("p.artist") == F.col("c.artist")) & (F.col("p.song") == F.col("c.song"))
    enriched = fresh.join(c, on=same_song, how="left")
    return CONTRACT.conform(enriched.select(
        "p.song_key", "p.song", "p.artist", dim_artist.artist_key_of(F.col("p.artist")).alias("artist_key"),
        F.col("c.track_id").isNotNull().alias("is_in_catalog"), "c.track_id", "c.msd_song_id",
        "c.release", "c.release_year", F.col("c.catalog_duration_s").alias("duration_s"), "c.tempo_bpm"))


def with_unknown(members: DataFrame) -> DataFrame:
    return with_unknown_member(members, {"song_key": UNKNOWN_KEY, "artist_key": UNKNOWN_KEY,
                                         "is_in_catalog": False})
