"""Parsing and validating raw EventSim lines: pure column expressions shared by the silver tables.

A line is read as a JSON object of strings, so a number written as text is still readable and a
wrong type is told apart from a missing field. Every lossless encoding of an event reads the same
(docs/parsing.md): blanks, a CR or a byte-order mark around the line, a Fluent Bit or Fluentd
wrapper, any key order, explicit nulls, numbers as strings and strings as numbers, whole numbers
written as floats. Each stream states its fields in a FieldSpec; `quarantine_reason` returns the
first rule a line breaks, or null for a good line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from medley import eventsim

FIELDS = "f"      # the event's JSON fields, as text
VALUES = "v"      # the same fields typed by the stream's FieldSpec
_JSON_OBJECT = T.MapType(T.StringType(), T.StringType())
# Around a line: blanks, the CR of a CRLF file, a UTF-8 byte-order mark (Windows tools write one)
_BLANKS = " \t\r\n\ufeff"
# Keys a log shipper puts the line under: `log` (Fluent Bit tail, Docker's json-file driver),
# `message` (Fluentd's `none` parser)
WRAPPER_KEYS = ("log", "message")
# Fluentd's out_file writes `<ISO 8601 time>\t<tag>\t<record>` by default
_FLUENTD_FILE_PREFIX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^\t]*\t[^\t]*\t"
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
# A JSON float is read as a double; below 2^53 a whole double is exactly one integer
MAX_EXACT_WHOLE_DOUBLE = 2.0 ** 53
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
    empty_means_absent: tuple[str, ...] = ()          # keys whose "" stands for "not shown"

    @property
    def kinds(self) -> dict[str, str]:
        return {**self.optional, **self.required}


def json_object(text: Column) -> Column:
    """The fields of the one JSON object `text` holds, as a map of strings; null when it holds
    anything else: not JSON, truncated, or followed by more text (a second object on the line
    would otherwise be dropped without a word)."""
    line = F.trim(text, F.lit(_BLANKS))
    record = F.when(line.startswith("{"), line).otherwise(F.regexp_replace(line, _FLUENTD_FILE_PREFIX, ""))
    # from_json stops after the first object. It is the whole text when the first `}` is the last
    # character (any flat event); only otherwise is the text parsed again, as the array `[text]`.
    is_one_object = ((F.locate("}", record) == F.length(record))
                     | (F.json_array_length(F.concat(F.lit("["), record, F.lit("]"))) == 1))
    return F.when(is_one_object, F.from_json(record, _JSON_OBJECT))


def _once(column: Column) -> Column:
    """The column computed once per row. The optimizer copies a projected column into every
    expression that reads it, and pushes a filter on a rule below the projection, so the parse
    would run once per field a rule reads; a generator's output it keeps as one column, and
    exploding a one-element array is that generator."""
    return F.explode(F.array(column))


def with_fields(bronze: DataFrame, spec: FieldSpec) -> DataFrame:
    """Add `f`, the event's JSON fields as text after unwrapping a log shipper's record (null
    when the line is not one event), and `v`, the fields of `spec` as their kinds."""
    lines = bronze.withColumn(FIELDS, json_object(F.col("raw_record")))
    line = F.col(FIELDS)
    shipped = F.coalesce(*[line[k] for k in WRAPPER_KEYS])
    is_wrapped = shipped.isNotNull() & line["ts"].isNull()    # every event has a ts, a wrapper none
    event = F.when(is_wrapped, json_object(shipped)).otherwise(line)
    events = lines.select(*bronze.columns, _once(event).alias(FIELDS))
    if spec.empty_means_absent:
        events = events.withColumn(FIELDS, F.map_filter(
            line, lambda k, v: ~(k.isin(*spec.empty_means_absent) & (v == ""))))
    values = F.struct(*[_typed(raw(k), kind).alias(k) for k, kind in spec.kinds.items()])
    return events.select("*", _once(values).alias(VALUES))


def raw(name: str) -> Column:
    return F.col(FIELDS)[name]


def _double(text: Column) -> Column:
    """A finite double from a JSON number's text, written as a number or as a string."""
    is_finite = F.abs(text.try_cast("double")) < F.lit(float("inf"))
    return F.when(text.rlike(_NUMBER) & is_finite, text.try_cast("double"))


def _exact_whole(number: Column) -> Column:
    return F.when((number % 1 == 0) & (F.abs(number) < MAX_EXACT_WHOLE_DOUBLE), number.cast("long"))


def _whole_number(text: Column) -> Column:
    """A long from integer text, or from a float that is exactly a whole number (pandas writes 730
    as 730.0; a JSON reader renders 1541016707796.0 as 1.541016707796E12); null for a fraction,
    for text, or out of range."""
    as_integer_or_float = F.coalesce(text.try_cast("long"), _exact_whole(text.try_cast("double")))
    return F.when(text.rlike(_NUMBER), as_integer_or_float)


def _typed(text: Column, kind: str) -> Column:
    """The text as `kind` (string, long, double or boolean); null when it is not one (a bad line
    never fails the job)."""
    if kind == "boolean":
        return F.when(text == "true", F.lit(True)).when(text == "false", F.lit(False))
    if kind == "double":
        return _double(text)
    if kind == "long":
        return _whole_number(text)
    return text


def value(name: str) -> Column:
    """The field as the kind its stream's FieldSpec gives it (null when absent or not of it)."""
    return F.col(VALUES)[name]


def epoch_millis(name: str) -> Column:
    ms = value(name)
    return F.when(ms.between(MIN_TS_MS, MAX_TS_MS), F.timestamp_millis(ms))


def _not_accepted(field_value: Column, accepted: tuple) -> Column:
    return field_value.isNotNull() & ~field_value.isin(*accepted)


def _rule(reason: str, broken: Column) -> Column:
    return F.when(broken, F.lit(reason))


def quarantine_reason(spec: FieldSpec) -> Column:
    """The first rule the line breaks, in order of severity; null when the line is good."""
    kinds = spec.kinds
    ts_ms = value("ts")
    ingested_ms = F.unix_millis(F.col("ingested_at"))
    rules = [_rule("malformed_json", F.col(FIELDS).isNull())]
    rules += [_rule(f"missing_field:{k}", raw(k).isNull() | (F.trim(raw(k)) == "")) for k in spec.required]
    rules += [_rule(f"wrong_type:{k}", raw(k).isNotNull() & value(k).isNull())
              for k, t in kinds.items() if t != "string"]
    rules += [_rule(f"unknown_{k}", _not_accepted(value(k), values))
              for k, values in spec.accepted.items()]
    if "duration" in kinds or "length" in kinds:
        length_key = "duration" if "duration" in kinds else "length"
        rules.append(_rule("negative_duration", value(length_key) < 0))
    rules.append(_rule("negative_id", F.least(*[F.coalesce(value(k), F.lit(0)) for k in
                                                    ("sessionId", "itemInSession", "userId")
                                                    if k in kinds]) < 0))
    rules += [_rule("ts_out_of_range", ts_ms < MIN_TS_MS),
              _rule("ts_in_future", ts_ms > ingested_ms + MAX_FUTURE_MS)]
    if "lat" in kinds:
        rules.append(_rule("coordinates_out_of_range",
                           (F.abs(value("lat")) > 90) | (F.abs(value("lon")) > 180)))
    if spec.user_fields_need_login and "auth" in kinds:
        logged_out = ~raw("auth").isin(*eventsim.AUTHS_WITH_USER)
        shows_user = F.coalesce(*[raw(k).isNotNull() for k in USER_FIELDS if k in kinds], F.lit(False))
        rules.append(_rule("user_fields_without_login", logged_out & raw("userId").isNotNull() & shows_user))
    return F.coalesce(*rules)


def event_key(user_id: Column) -> Column:
    """Same event => same key in every stream (a listen is also a page view) and in every
    encoding: the md5 is of the values, so ts 1541016707796.0 keys like 1541016707796."""
    ids = [value(k) for k in ("ts", "sessionId", "itemInSession")]
    return F.md5(F.concat_ws("|", *[i.cast("string") for i in ids],
                             F.coalesce(user_id.cast("string"), F.lit(""))))


def event_columns(user_id: Column) -> list[Column]:
    event_at = epoch_millis("ts")
    return [event_key(user_id).alias("event_key"), event_at.alias("event_at"),
            F.to_date(event_at).alias("event_date"),
            value("sessionId").alias("session_id"), value("itemInSession").alias("item_in_session")]


def user_columns(user_id: Column) -> list[Column]:
    return [user_id.alias("user_id"), raw("firstName").alias("first_name"),
            raw("lastName").alias("last_name"), raw("gender").alias("gender"),
            epoch_millis("registration").alias("registered_at")]


def viirya_device_columns() -> list[Column]:
    return [raw("city").alias("city"), raw("state").alias("state_code"), raw("zip").alias("zip"),
            value("lat").alias("lat"), value("lon").alias("lon"),
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
