"""Reference data of the gold dimensions, read from files shipped in the repo (spark/gold/reference,
and the generator's listen_counts for the artist/title -> MSD track mapping). Small: read on the
driver and handed to Spark with explicit schemas, so it works the same locally and on Kubernetes."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from medley import REPO_ROOT

REFERENCE = Path(__file__).parent / "reference"
LISTEN_COUNTS = REPO_ROOT / "medley" / "generator" / "reference" / "listen_counts.txt.gz"

SONG_SCHEMA = T.StructType([
    T.StructField("artist", T.StringType(), False), T.StructField("song", T.StringType(), False),
    T.StructField("track_id", T.StringType(), False), T.StructField("msd_song_id", T.StringType()),
    T.StructField("release", T.StringType()), T.StructField("release_year", T.IntegerType()),
    T.StructField("catalog_duration_s", T.DoubleType()), T.StructField("tempo_bpm", T.DoubleType()),
])
ARTIST_SCHEMA = T.StructType([
    T.StructField("artist", T.StringType(), False), T.StructField("msd_artist_id", T.StringType()),
    T.StructField("artist_location", T.StringType()), T.StructField("artist_lat", T.DoubleType()),
    T.StructField("artist_lon", T.DoubleType()),
])
STATE_SCHEMA = T.StructType([T.StructField("state_code", T.StringType(), False),
                             T.StructField("state_name", T.StringType(), False)])


def _csv(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _number(text: str, kind=float, unknown: tuple = ("", "0", "0.0")):
    return None if text in unknown else kind(text)


def tracks() -> list[dict]:
    """One dict per MSD track: the artist and title exactly as EventSim plays them, plus MSD."""
    msd = {r["track_id"]: r for r in _csv(REFERENCE / "msd_songs.csv.gz")}
    out = []
    with gzip.open(LISTEN_COUNTS, "rt", encoding="utf-8") as f:
        for line in f:
            track_id, artist, title, duration, _count = line.rstrip("\n").split("\t")
            out.append({"track_id": track_id, "artist": artist, "song": title,
                        "duration": float(duration), **{f"msd_{k}": v for k, v in msd[track_id].items()}})
    return sorted(out, key=lambda t: t["track_id"])


def song_rows(all_tracks: list[dict]) -> list[tuple]:
    """One row per (artist, song); a title an artist recorded twice maps to its first track id."""
    first: dict[tuple, dict] = {}
    for t in all_tracks:
        first.setdefault((t["artist"], t["song"]), t)
    return [(a, s, t["track_id"], t["msd_song_id"], t["msd_release"] or None,
             _number(t["msd_year"], int), t["duration"], _number(t["msd_tempo"]))
            for (a, s), t in first.items()]


def artist_rows(all_tracks: list[dict]) -> list[tuple]:
    """One row per artist name, described by its first track (MSD has a few names with two ids)."""
    first: dict[str, dict] = {}
    for t in all_tracks:
        first.setdefault(t["artist"], t)
    return [(a, t["msd_artist_id"], t["msd_artist_location"] or None,
             # MSD writes 0,0 for an unknown artist location
             _number(t["msd_artist_latitude"]), _number(t["msd_artist_longitude"]))
            for a, t in first.items()]


def state_rows() -> list[tuple]:
    return [(r["state_code"], r["state_name"]) for r in _csv(REFERENCE / "state_codes.csv.gz")]


def songs(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(song_rows(tracks()), SONG_SCHEMA)


def artists(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(artist_rows(tracks()), ARTIST_SCHEMA)


def states(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(state_rows(), STATE_SCHEMA)
