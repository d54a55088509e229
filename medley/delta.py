"""Delta writes at the edges of the jobs: append, replace a set of partitions, read."""

from __future__ import annotations

from typing import Iterable

from pyspark.sql import DataFrame, SparkSession


def exists(spark: SparkSession, location: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, location)


def append(df: DataFrame, location: str, partition_by: Iterable[str] = ()) -> None:
    df.write.format("delta").mode("append").partitionBy(*partition_by).save(location)


def _sql_literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def replace_partitions(df: DataFrame, location: str, column: str, values: Iterable,
                       partition_by: Iterable[str] = (), extra_predicate: str = "") -> None:
    """Atomically replace the rows whose `column` is in `values` (one Delta commit): rerunning an
    interval replaces it instead of appending to it."""
    values = sorted({str(v) for v in values})
    if not values:
        return
    predicate = f"{column} IN ({', '.join(map(_sql_literal, values))})"
    if extra_predicate:
        predicate = f"({predicate}) AND ({extra_predicate})"
    (df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
       .partitionBy(*partition_by).save(location))


def overwrite(df: DataFrame, location: str, partition_by: Iterable[str] = ()) -> None:
    (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
       .partitionBy(*partition_by).save(location))


def read(spark: SparkSession, location: str) -> DataFrame:
    return spark.read.format("delta").load(location)
