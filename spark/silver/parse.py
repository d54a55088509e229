"""Parsing and validating raw EventSim lines: pure column expressions shared by the silver tables.

A line is read as a JSON object of strings (so a number written as text is still readable, and a
wrong type is told apart from a missing field), after unwrapping a Fluent Bit tail record
(`{"log": "<the line>"}`). Each stream states its fields in a FieldSpec; `quarantine_reason`
returns the first rule a line breaks, or null for a good line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from medley import eventsim

FIELDS = "f"
_JSON_OBJECT = T.MapType(T.StringType(), T.StringType())
_PATTERNS = {
    "long": r"^-?[0-9]+$",
    "double": r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$",
    "boolean": r"^(true|false)$",
}
MIN_TS_MS = 946_684_800_000        # 2000-01-01: EventSim output is never older
MAX_TS_MS = 253_402_300_799_999    # 9999-12-31, the last representable timestamp
MAX_FUTURE_MS = 86_400_000         # a ts more than a day after ingestion is impossible
USER_FIELDS = ("userId", "firstName", "lastName", "gender", "registration")


@dataclass(frozen=True)
class FieldSpec:
    required: dict[str, str]                          # JSON key -> string|long|double|boolean
    optional: dict[str, str] = field(default_factory=dict)
    accepted: dict[str, tuple] = field(default_factory=dict)   # JSON key -> accepted values
    user_fields_need_login: bool = True               # EventSim shows user fields only when logged in


def with_fields(bronze: DataFrame) -> DataFrame:
    """Add the map column `f` holding the event's JSON fields (null when the line is not JSON)."""
    outer = F.from_json(F.col("raw_record"), _JSON_OBJECT)
    is_wrapped = outer.isNotNull() & outer["log"].isNotNull() & outer["ts"].isNull()
    return bronze.withColumn(FIELDS, F.when(is_wrapped, F.from_json(outer["log"], _JSON_OBJECT))
                             .otherwise(outer))


def raw(name: str) -> Column:
    return F.col(FIELDS)[name]


def typed(name: str, kind: str) -> Column:
    """The field as `kind`; null when it does not parse (try_cast: a bad line never fails the job)."""
    if kind == "boolean":
        return raw(name) == F.lit("true")
    return raw(name).try_cast(kind) if kind != "string" else raw(name)


def epoch_millis(name: str) -> Column:
    ms = typed(name, "long")
    return F.when(ms.between(MIN_TS_MS, MAX_TS_MS), F.timestamp_millis(ms))


def _rule(reason: str, broken: Column) -> Column:
    return F.when(broken, F.lit(reason))


def quarantine_reason(spec: FieldSpec) -> Column:
    """The first rule the line breaks, in order of severity; null when the line is good."""
    kinds = {**spec.optional, **spec.required}
    ts_ms = typed("ts", "long")
    ingested_ms = F.unix_millis(F.col("ingested_at"))
    rules = [_rule("malformed_json", F.col(FIELDS).isNull())]
    rules += [_rule(f"missing_field:{k}", raw(k).isNull() | (F.trim(raw(k)) == "")) for k in spec.required]
    rules += [_rule(f"wrong_type:{k}", raw(k).isNotNull() & ~raw(k).rlike(_PATTERNS[t]))
              for k, t in kinds.items() if t in _PATTERNS]
    rules += [_rule(f"unknown_{k}", raw(k).isNotNull() & ~raw(k).isin(*map(str, values)))
              for k, values in spec.accepted.items()]
    if "duration" in kinds or "length" in kinds:
        length_key = "duration" if "duration" in kinds else "length"
        rules.append(_rule("negative_duration", typed(length_key, "double") < 0))
    rules.append(_rule("negative_id", F.least(*[F.coalesce(typed(k, "long"), F.lit(0)) for k in
                                                    ("sessionId", "itemInSession", "userId")
                                                    if k in kinds]) < 0))
    rules += [_rule("ts_out_of_range", ts_ms < MIN_TS_MS),
              _rule("ts_in_future", ts_ms > ingested_ms + MAX_FUTURE_MS)]
    if "lat" in kinds:
        rules.append(_rule("coordinates_out_of_range",
                           (F.abs(typed("lat", "double")) > 90) | (F.abs(typed("lon", "double")) > 180)))
    if spec.user_fields_need_login and "auth" in kinds:
        logged_out = ~raw("auth").isin(*eventsim.AUTHS_WITH_USER)
        shows_user = F.coalesce(*[raw(k).isNotNull() for k in USER_FIELDS if k in kinds], F.lit(False))
        rules.append(_rule("user_fields_without_login", logged_out & raw("userId").isNotNull() & shows_user))
    return F.coalesce(*rules)


def event_key(user_id: Column) -> Column:
    """Same event => same key in every stream (a listen is also a page view)."""
    return F.md5(F.concat_ws("|", raw("ts"), raw("sessionId"), raw("itemInSession"),
                             F.coalesce(user_id.cast("string"), F.lit(""))))


def event_columns(user_id: Column) -> list[Column]:
    event_at = epoch_millis("ts")
    return [event_key(user_id).alias("event_key"), event_at.alias("event_at"),
            F.to_date(event_at).alias("event_date"),
            typed("sessionId", "long").alias("session_id"),
            typed("itemInSession", "long").alias("item_in_session")]


def user_columns(user_id: Column) -> list[Column]:
    return [user_id.alias("user_id"), raw("firstName").alias("first_name"),
            raw("lastName").alias("last_name"), raw("gender").alias("gender"),
            epoch_millis("registration").alias("registered_at")]


def viirya_device_columns() -> list[Column]:
    return [raw("city").alias("city"), raw("state").alias("state_code"), raw("zip").alias("zip"),
            typed("lat", "double").alias("lat"), typed("lon", "double").alias("lon"),
            raw("userAgent").alias("user_agent")]


def interana_device_columns() -> list[Column]:
    """Sparkify logs carry a metro area ("Charlotte-Concord-Gastonia, NC-SC") instead of a place."""
    location = raw("location")
    return [F.regexp_extract(location, r"^([^,]+),", 1).alias("city"),
            F.nullif(F.regexp_extract(location, r",\s*([A-Z]{2})", 1), F.lit("")).alias("state_code"),
            F.lit(None).cast("string").alias("zip"), F.lit(None).cast("double").alias("lat"),
            F.lit(None).cast("double").alias("lon"), raw("userAgent").alias("user_agent")]


def lineage_columns(dialect: str) -> list[Column]:
    return [F.lit(dialect).alias("dialect"), F.col("source_object"), F.col("ingested_at")]


def bronze_columns() -> list[Column]:
    """Kept beside every parsed row so a quarantined row still has its raw line and origin."""
    return [F.col("stream"), F.col("raw_record"), F.col("line_number"),
            F.col("event_date").alias("landing_date")]
