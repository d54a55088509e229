"""silver.listen_events: one row per song played, from the viirya listen stream and from the
NextSong requests of Sparkify logs."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley import eventsim
from spark.silver import parse
from spark.silver.page_view_events import DEVICE_OPTIONAL, USER_OPTIONAL
from spark.silver.parse import FieldSpec, raw, value

VIIRYA = FieldSpec(
    required={"artist": "string", "song": "string", "duration": "double", "ts": "long",
              "sessionId": "long", "auth": "string", "level": "string", "itemInSession": "long",
              "userId": "long"},
    optional={**USER_OPTIONAL, **DEVICE_OPTIONAL},
    accepted={"auth": eventsim.AUTHS_WITH_USER, "level": eventsim.LEVELS, "gender": eventsim.GENDERS},
)


def parse_viirya(bronze: DataFrame) -> DataFrame:
    rows = parse.with_fields(bronze, VIIRYA)
    user_id = value("userId")
    return rows.select(*parse.event_columns(user_id), raw("auth").alias("auth"), raw("level").alias("level"),
                       *parse.user_columns(user_id), *parse.viirya_device_columns(),
                       raw("artist").alias("artist"), raw("song").alias("song"),
                       value("duration").alias("duration_s"), *parse.lineage_columns("viirya"),
                       parse.quarantine_reason(VIIRYA).alias("quarantine_reason"), *parse.bronze_columns())


def from_page_views(page_views: DataFrame) -> DataFrame:
    """Good interana page views -> listens (the page view already passed every listen rule).
    Like every from_page_views, it keeps the page view's other columns (lineage) for the job."""
    return page_views.where(F.col("page") == eventsim.LISTEN_PAGE)
