"""Surrogate keys: xxhash64 of the natural key, so the same member has the same key in every run
and a fact can compute its foreign key without a join. Each dimension has an unknown member
(constants.UNKNOWN_KEY) for facts whose natural key is missing."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.gold.constants import UNKNOWN_KEY


def surrogate_key(*natural_key: Column) -> Column:
    """xxhash64 over the parts joined with '|', nulls as '' (a bare hash of columns skips nulls,
    so (null, 'a') and ('a', null) would collide)."""
    return F.xxhash64(F.concat_ws("|", *[F.coalesce(c.cast("string"), F.lit("")) for c in natural_key]))


def key_or_unknown(is_known: Column, key: Column) -> Column:
    return F.when(is_known, key).otherwise(F.lit(UNKNOWN_KEY).cast("long"))


def date_key(ts: Column) -> Column:
    """yyyymmdd of a UTC timestamp or date, e.g. 20260131."""
    return F.date_format(ts, "yyyyMMdd").cast("int")


def time_key(ts: Column) -> Column:
    """hhmm of a UTC timestamp, e.g. 1345 (dim_time has one member per minute of the day)."""
    return (F.hour(ts) * 100 + F.minute(ts)).cast("int")


def with_unknown_member(members: DataFrame, unknown: dict) -> DataFrame:
    """members plus one row whose columns are `unknown`'s values (null for the others)."""
    row = members.sparkSession.range(1).select(
        *[F.lit(unknown.get(f.name)).cast(f.dataType).alias(f.name) for f in members.schema.fields])
    return members.unionByName(row)


def require_unique(df: DataFrame, columns: list[str], what: str) -> None:
    """A join to a dimension must not multiply fact rows: fail loudly instead of hiding it."""
    dupes = df.groupBy(*columns).count().where(F.col("count") > 1).limit(1).collect()
    if dupes:
        raise ValueError(f"{what}: {columns} not unique, e.g. {dupes[0].asDict()}")
