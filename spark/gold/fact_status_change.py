"""gold.fact_status_change: silver.status_change_events with the star's foreign keys."""

from __future__ import annotations

from pyspark.sql import DataFrame

from medley.contracts import contract
from spark.gold.events import with_fact_keys

CONTRACT = contract("gold/fact_status_change")


def build(events: DataFrame, user_versions: DataFrame) -> DataFrame:
    return CONTRACT.conform(with_fact_keys(events, user_versions))
