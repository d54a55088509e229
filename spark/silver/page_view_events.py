"""silver.page_view_events: every page request, from the viirya stream and from Sparkify logs.

The interana dialect is a single stream; its rows are parsed here once and the other silver
tables take their interana events from these good rows.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley import eventsim
from spark.silver import parse
from spark.silver.parse import FieldSpec, raw, value

USER_OPTIONAL = {"firstName": "string", "lastName": "string", "gender": "string", "registration": "long"}
DEVICE_OPTIONAL = {"city": "string", "zip": "string", "state": "string", "userAgent": "string",
                   "lon": "double", "lat": "double"}
PAGE_REQUIRED = {"ts": "long", "sessionId": "long", "page": "string", "auth": "string",
                 "method": "string", "status": "long", "level": "string", "itemInSession": "long"}
PAGE_ACCEPTED = {"page": eventsim.PAGES, "auth": eventsim.AUTHS, "method": eventsim.METHODS,
                 "status": eventsim.HTTP_STATUSES, "level": eventsim.LEVELS, "gender": eventsim.GENDERS}

VIIRYA = FieldSpec(
    required=PAGE_REQUIRED,
    optional={"userId": "long", **USER_OPTIONAL, **DEVICE_OPTIONAL,
              "artist": "string", "song": "string", "duration": "double"},
    accepted=PAGE_ACCEPTED,
)
INTERANA = FieldSpec(
    required=PAGE_REQUIRED,
    optional={"userId": "long", **USER_OPTIONAL, "location": "string", "userAgent": "string",
              "artist": "string", "song": "string", "length": "double"},
    accepted=PAGE_ACCEPTED,
    empty_means_absent=("userId",),   # Sparkify logs write userId "" when the user is not shown
)


def _song_details_missing(length_key: str):
    """A NextSong request must name what was played (it becomes a listen)."""
    is_listen = raw("page") == eventsim.LISTEN_PAGE
    missing = raw("artist").isNull() | raw("song").isNull() | raw(length_key).isNull()
    return F.when(is_listen & missing, F.lit("missing_field:song"))


def _reason(spec: FieldSpec, length_key: str):
    return F.coalesce(parse.quarantine_reason(spec), _song_details_missing(length_key))


def _page_columns(user_id, device, length_key: str, dialect: str) -> list:
    return [*parse.event_columns(user_id), raw("page").alias("page"), raw("method").alias("method"),
            value("status").cast("int").alias("http_status"), raw("auth").alias("auth"),
            raw("level").alias("level"), *parse.user_columns(user_id), *device,
            raw("artist").alias("artist"), raw("song").alias("song"),
            value(length_key).alias("duration_s"), *parse.lineage_columns(dialect)]


def parse_viirya(bronze: DataFrame) -> DataFrame:
    """Bronze rows of stream page_view_events -> parsed rows + quarantine_reason."""
    rows = parse.with_fields(bronze, VIIRYA)
    user_id = value("userId")
    return rows.select(*_page_columns(user_id, parse.viirya_device_columns(), "duration", "viirya"),
                       _reason(VIIRYA, "duration").alias("quarantine_reason"),
                       *parse.bronze_columns())


def parse_interana(bronze: DataFrame) -> DataFrame:
    """Bronze rows of stream interana_events (Sparkify logs) -> the same shape."""
    rows = parse.with_fields(bronze, INTERANA)
    user_id = value("userId")
    return rows.select(*_page_columns(user_id, parse.interana_device_columns(), "length", "interana"),
                       _reason(INTERANA, "length").alias("quarantine_reason"),
                       *parse.bronze_columns())
