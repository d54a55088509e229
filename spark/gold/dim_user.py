"""gold.dim_user: slowly changing dimension (type 2) on the subscription level. A version is a run
of a user's events at one level: valid_from is its first event, valid_to the next version's
valid_from (null while current). No names: personal data stays in silver.

Incremental: a run reads only the versions of the users its events name and returns what changed
(new versions, and closed ones). Existing versions are never rewritten apart from valid_to and
is_current, so their user_key (and the facts pointing at it) stays valid; a late event earlier
than a user's versions adds a version before them.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.gold.constants import UNKNOWN_KEY
from spark.gold.keys import surrogate_key, with_unknown_member

CONTRACT = contract("gold/dim_user")
OBSERVATION_COLUMNS = ["user_id", "event_at", "level", "gender", "registered_at"]


def level_observations(listens: DataFrame, page_views: DataFrame, auths: DataFrame,
                       changes: DataFrame) -> DataFrame:
    """(user_id, event_at, level, gender, registered_at) of every event naming a user; a status
    change carries the level it leaves (the next event has the new one)."""
    frames = [listens, page_views, auths, changes.select("*", F.col("previous_level").alias("level"))]
    out = frames[0].select(*OBSERVATION_COLUMNS)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*OBSERVATION_COLUMNS))
    return out.where(F.col("user_id").isNotNull()).select(*OBSERVATION_COLUMNS)


def merge_versions(existing: DataFrame, observations: DataFrame) -> DataFrame:
    """Every version of the users in `observations` after adding those events to `existing`."""
    by_time = Window.partitionBy("user_id").orderBy("event_at", "level")
    starts = (observations
              .select("*", F.lag("level").over(by_time).alias("previous_level"))
              .where(F.col("previous_level").isNull() | (F.col("previous_level") != F.col("level")))
              .select("user_id", F.col("event_at").alias("valid_from"), "level", "gender", "registered_at",
                      F.lit(None).cast("long").alias("user_key"), F.lit(False).alias("is_existing")))
    users = observations.select("user_id").distinct()
    known = (existing.join(users, on="user_id", how="left_semi")
             .select("user_id", "valid_from", "level", "gender", "registered_at", "user_key",
                     F.lit(True).alias("is_existing")))
    # existing versions sort before a new start at the same instant, so an equal start is dropped
    timeline = Window.partitionBy("user_id").orderBy("valid_from", F.col("is_existing").desc())
    is_change = F.lag("level").over(timeline).isNull() | (F.lag("level").over(timeline) != F.col("level"))
    kept = (known.unionByName(starts)
            .select("*", is_change.alias("is_change"))
            .where(F.col("is_existing") | F.col("is_change")))
    next_version = Window.partitionBy("user_id").orderBy("valid_from")
    valid_to = F.lead("valid_from").over(next_version)
    new_key = surrogate_key(F.col("user_id"), F.unix_millis(F.col("valid_from")), F.col("level"))
    return CONTRACT.conform(kept.select(
        F.coalesce("user_key", new_key).alias("user_key"), "user_id", "level", "gender", "registered_at",
        "valid_from", valid_to.alias("valid_to"), valid_to.isNull().alias("is_current")))


def changed_versions(merged: DataFrame, existing: DataFrame) -> DataFrame:
    """Rows of `merged` that are new or whose validity changed: what a merge has to write."""
    m, e = merged.alias("m"), existing.alias("e")
    same = (F.col("e.valid_to").eqNullSafe(F.col("m.valid_to"))
            & F.col("e.is_current").eqNullSafe(F.col("m.is_current")))
    joined = m.join(e, on=F.col("m.user_key") == F.col("e.user_key"), how="left")
    return joined.where(F.col("e.user_key").isNull() | ~same).select("m.*")


def with_unknown(members: DataFrame) -> DataFrame:
    return with_unknown_member(members, {"user_key": UNKNOWN_KEY, "valid_from": "1970-01-01 00:00:00",
                                         "is_current": True})
