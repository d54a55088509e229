"""silver.auth_events: login attempts. EventSim's auth stream holds the event that follows a
Login page, with `success`; for Sparkify logs the same event is found in the page views."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from medley import eventsim
from spark.silver import parse
from spark.silver.page_view_events import DEVICE_OPTIONAL, USER_OPTIONAL
from spark.silver.parse import FieldSpec, raw, value

VIIRYA = FieldSpec(
    required={"ts": "long", "sessionId": "long", "level": "string", "itemInSession": "long",
              "success": "boolean"},
    optional={"userId": "long", **USER_OPTIONAL, **DEVICE_OPTIONAL},
    accepted={"level": eventsim.LEVELS, "gender": eventsim.GENDERS},
    user_fields_need_login=False,   # auth events carry no `auth` field to check against
)


def parse_viirya(bronze: DataFrame) -> DataFrame:
    rows = parse.with_fields(bronze, VIIRYA)
    user_id = value("userId")
    return rows.select(*parse.event_columns(user_id), value("success").alias("is_success"),
                       raw("level").alias("level"), *parse.user_columns(user_id),
                       *parse.viirya_device_columns(), *parse.lineage_columns("viirya"),
                       parse.quarantine_reason(VIIRYA).alias("quarantine_reason"), *parse.bronze_columns())


def from_page_views(page_views: DataFrame) -> DataFrame:
    """The request right after a Login page in the same session; it succeeded if it is logged in."""
    in_session = Window.partitionBy("session_id").orderBy("event_at", "item_in_session")
    previous_page = F.lag("page").over(in_session)
    attempts = page_views.select("*", previous_page.alias("previous_page")).where(
        F.col("previous_page") == eventsim.LOGIN_PAGE)
    return attempts.select("*", (F.col("auth") == "Logged In").alias("is_success"))
