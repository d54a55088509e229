"""silver.status_change_events: subscription upgrades and downgrades.

EventSim writes the level *before* the change and no page in this stream, so the direction is
told from the old level; Sparkify logs say it with the page (Submit Upgrade / Submit Downgrade).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medley import eventsim
from spark.silver import parse
from spark.silver.page_view_events import DEVICE_OPTIONAL, USER_OPTIONAL
from spark.silver.parse import FieldSpec, raw, value

VIIRYA = FieldSpec(
    required={"ts": "long", "sessionId": "long", "auth": "string", "level": "string",
              "itemInSession": "long", "userId": "long"},
    optional={**USER_OPTIONAL, **DEVICE_OPTIONAL},
    accepted={"auth": eventsim.AUTHS_WITH_USER, "level": eventsim.LEVELS, "gender": eventsim.GENDERS},
)


def _change(previous_level: Column) -> list[Column]:
    is_upgrade = previous_level == F.lit("free")
    return [previous_level.alias("previous_level"),
            F.when(is_upgrade, F.lit("paid")).otherwise(F.lit("free")).alias("new_level"),
            F.when(is_upgrade, F.lit("upgrade")).otherwise(F.lit("downgrade")).alias("change_type")]


def parse_viirya(bronze: DataFrame) -> DataFrame:
    rows = parse.with_fields(bronze, VIIRYA)
    user_id = value("userId")
    return rows.select(*parse.event_columns(user_id), raw("auth").alias("auth"), *_change(raw("level")),
                       *parse.user_columns(user_id), *parse.viirya_device_columns(),
                       *parse.lineage_columns("viirya"),
                       parse.quarantine_reason(VIIRYA).alias("quarantine_reason"), *parse.bronze_columns())


def from_page_views(page_views: DataFrame) -> DataFrame:
    changes = page_views.where(F.col("page").isin(eventsim.UPGRADE_PAGE, eventsim.DOWNGRADE_PAGE))
    is_upgrade = F.col("page") == eventsim.UPGRADE_PAGE
    return changes.select("*", *_change(F.when(is_upgrade, F.lit("free")).otherwise(F.lit("paid"))))
