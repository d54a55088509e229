"""Property tests of silver parsing. Every lossless encoding of a valid EventSim event (either
dialect) parses to the same conformed silver rows as the event's canonical line; every corruption
of one is quarantined with its reason, never an exception. Each hypothesis example is a batch of
events parsed in one Spark job."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medley import eventsim, landing
from medley.contracts import contract
from spark.bronze.events import to_bronze
from spark.silver import auth_events, listen_events, page_view_events, parse, status_change_events
from spark.silver import run as silver

INGESTED = datetime(2025, 11, 2, 12, 0)
LANDING_DAY_MS = 1_762_041_600_000          # 2025-11-02 00:00 UTC, the landing partition of every line
DAY_MS = 86_400_000
INGESTED_MS = LANDING_DAY_MS + DAY_MS // 2
SPECS = {"listen_events": listen_events.VIIRYA, "page_view_events": page_view_events.VIIRYA,
         "auth_events": auth_events.VIIRYA, "status_change_events": status_change_events.VIIRYA,
         landing.INTERANA_STREAM: page_view_events.INTERANA}
BLANKS = " \t\r\n\ufeff"                    # what the reader trims around a line
EXAMPLES = settings(max_examples=5, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])

# --- valid events, as EventSim writes them ------------------------------------------------------

names = st.one_of(st.sampled_from(["Sam Sparro", "Beyoncé", 'The "Quotes"', "back\\slash", "a}b{c", "東京"]),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                          max_size=12).filter(lambda s: s.strip(" ")))   # Spark's trim: spaces only
# an event dated within a day of its landing partition and at most a day after ingestion
event_ts = st.integers(LANDING_DAY_MS - DAY_MS, INGESTED_MS + DAY_MS)
ids = st.integers(0, 10_000_000)
durations = st.floats(0, 3600, allow_nan=False, allow_infinity=False)


@st.composite
def device(draw) -> dict:
    return {"city": draw(names), "zip": draw(st.from_regex(r"[0-9]{5}", fullmatch=True)),
            "state": draw(st.sampled_from(["CA", "NY", "TX"])), "userAgent": draw(names),
            "lon": draw(st.floats(-180, 180)), "lat": draw(st.floats(-90, 90))}


@st.composite
def user(draw) -> dict:
    return {"userId": draw(ids), "lastName": draw(names), "firstName": draw(names),
            "gender": draw(st.sampled_from(eventsim.GENDERS)),
            "registration": draw(st.integers(parse.MIN_TS_MS, LANDING_DAY_MS))}


def song() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"artist": names, "song": names, "duration": durations})


@st.composite
def session(draw) -> dict:
    return {"ts": draw(event_ts), "sessionId": draw(ids), "level": draw(st.sampled_from(eventsim.LEVELS)),
            "itemInSession": draw(st.integers(0, 1000))}


@st.composite
def without_some(draw, record: dict, optional: set[str]) -> dict:
    """EventSim leaves out what it does not know: drop some optional fields."""
    dropped = draw(st.sets(st.sampled_from(sorted(optional)))) if optional else set()
    return {k: v for k, v in record.items() if k not in dropped}


@st.composite
def viirya_event(draw) -> tuple[str, dict]:
    stream = draw(st.sampled_from(landing.VIIRYA_STREAMS))
    base, where, who = draw(session()), draw(device()), draw(user())
    if stream == "listen_events":
        record = {**draw(song()), **base, "auth": draw(st.sampled_from(eventsim.AUTHS_WITH_USER)), **where, **who}
    elif stream == "status_change_events":
        record = {**base, "auth": draw(st.sampled_from(eventsim.AUTHS_WITH_USER)), **where, **who}
    elif stream == "auth_events":
        record = {**base, **where, **who, "success": draw(st.booleans())}
    else:
        page, auth = draw(st.sampled_from(eventsim.PAGES)), draw(st.sampled_from(eventsim.AUTHS))
        record = {**base, "page": page, "auth": auth, "method": draw(st.sampled_from(eventsim.METHODS)),
                  "status": draw(st.sampled_from(eventsim.HTTP_STATUSES)), **where,
                  **(who if auth in eventsim.AUTHS_WITH_USER else {}),
                  **(draw(song()) if page == eventsim.LISTEN_PAGE else {})}
    optional = set(SPECS[stream].optional) - {"artist", "song", "duration"}   # NextSong needs them
    return stream, draw(without_some(record, optional & set(record)))


@st.composite
def interana_event(draw) -> tuple[str, dict]:
    """A Sparkify log line: every key present, null where it does not apply, userId "" when no
    user is shown. No Login page: an auth row is derived from the page *after* a login, so it
    depends on the order of lines, not on one line."""
    page = draw(st.sampled_from([p for p in eventsim.PAGES if p != eventsim.LOGIN_PAGE]))
    auth = draw(st.sampled_from(eventsim.AUTHS))
    shown = auth in eventsim.AUTHS_WITH_USER
    who = draw(user())
    played = draw(song()) if page == eventsim.LISTEN_PAGE else {"artist": None, "song": None, "duration": None}
    record = {"artist": played["artist"], "auth": auth,
              "firstName": who["firstName"] if shown else None, "gender": who["gender"] if shown else None,
              "itemInSession": draw(st.integers(0, 1000)), "lastName": who["lastName"] if shown else None,
              "length": played["duration"], "level": draw(st.sampled_from(eventsim.LEVELS)),
              "location": draw(st.sampled_from(["Racine, WI", "Charlotte-Concord-Gastonia, NC-SC",
                                                 "San Francisco-Oakland-Hayward, CA"])),
              "method": draw(st.sampled_from(eventsim.METHODS)), "page": page,
              "registration": who["registration"] if shown else None, "sessionId": draw(ids),
              "song": played["song"], "status": draw(st.sampled_from(eventsim.HTTP_STATUSES)),
              "ts": draw(event_ts), "userAgent": draw(names), "userId": str(who["userId"]) if shown else ""}
    return landing.INTERANA_STREAM, record


events = st.one_of(viirya_event(), interana_event())


def canonical(record: dict) -> str:
    return json.dumps(record)


# --- lossless re-encodings ---------------------------------------------------------------------

@st.composite
def quoted_or_not(draw, number: str) -> str:
    return json.dumps(number) if draw(st.booleans()) else number


@st.composite
def value_token(draw, value, ensure_ascii: bool) -> str:
    """One JSON token for `value`, in any encoding that keeps it exact."""
    if isinstance(value, bool):
        return draw(quoted_or_not(json.dumps(value)))
    if isinstance(value, int):
        whole_floats = [f"{value}.0", f"{Decimal(value):E}", f"{Decimal(value):e}"]   # pandas, Spark, numpy
        return draw(quoted_or_not(draw(st.sampled_from([str(value), *whole_floats]))))
    if isinstance(value, float):
        forms = [repr(value), format(value, ".17e")]               # shortest, and exact in 17 digits
        if value.is_integer() and math.copysign(1.0, value) > 0:
            forms.append(str(int(value)))
        return draw(quoted_or_not(draw(st.sampled_from(forms))))
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    if draw(st.booleans()):
        text = text.replace("/", "\\/")                             # PHP's json_encode escapes slashes
    is_integer_text = re.fullmatch(r"0|[1-9][0-9]*", value) is not None
    return draw(st.sampled_from([text, value] if is_integer_text else [text]))   # "92806" or 92806


@st.composite
def object_text(draw, stream: str, record: dict) -> str:
    """The record as a JSON object: any key order and spacing, explicit nulls for absent optional
    fields (or absent ones for nulls), \\u escapes or not, numbers as strings and the reverse."""
    spec = SPECS[stream]
    ensure_ascii = draw(st.booleans())
    tokens = {}
    for key, value in record.items():
        if value is None or (value == "" and key in spec.empty_means_absent):
            choice = draw(st.sampled_from(["absent", "null", '""'] if value == "" else ["absent", "null"]))
            if choice != "absent":
                tokens[key] = choice
        else:
            tokens[key] = draw(value_token(value, ensure_ascii))
    for key in sorted(set(spec.optional) - set(record)):
        if draw(st.booleans()):
            tokens[key] = "null"
    colon, comma = draw(st.sampled_from([":", ": ", " : "])), draw(st.sampled_from([",", ", ", " ,\t"]))
    keys = draw(st.permutations(list(tokens)))
    return "{" + comma.join(json.dumps(k, ensure_ascii=ensure_ascii) + colon + tokens[k] for k in keys) + "}"


@st.composite
def around(draw, line: str) -> str:
    """A UTF-8 byte-order mark, blanks, the CR of a CRLF file."""
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + draw(st.sampled_from(["", " ", "\t "])) + line + draw(st.sampled_from(["", "\r", " ", "\t\r"]))


@st.composite
def shipped(draw, line: str) -> str:
    """The line as a log shipper writes it: as is; in Fluent Bit's or Docker's `log` (a string,
    maybe with its newline, or the parsed object), with or without time/tag/stream; in Fluentd's
    `message`; after the time and tag of Fluentd's out_file."""
    kind = draw(st.sampled_from(["bare", "log", "log_object", "message", "out_file"]))
    if kind == "bare":
        return draw(around(line))
    extra = draw(st.dictionaries(st.sampled_from(["time", "tag", "stream"]),
                                 st.sampled_from(["2025-11-02T00:00:00.000000000Z", "eventsim.x", "stdout"])))
    if kind == "log_object":
        fields = [f'"log": {line}', *[f"{json.dumps(k)}: {json.dumps(v)}" for k, v in extra.items()]]
        return draw(around("{" + ", ".join(draw(st.permutations(fields))) + "}"))
    inner = draw(around(line)) + draw(st.sampled_from(["", "\n"]))   # Docker keeps the newline
    record = {"log": inner, **extra} if kind == "log" else {"message": inner}
    if kind == "out_file":
        record = draw(st.sampled_from([record, None]))
        text = json.dumps(record) if record else line
        return "2025-11-02T00:00:00+00:00\teventsim.x\t" + text + draw(st.sampled_from(["", "\r"]))
    return draw(around(json.dumps(dict(draw(st.permutations(list(record.items())))),
                                  ensure_ascii=draw(st.booleans()))))


@st.composite
def encoded(draw, stream: str, record: dict) -> str:
    return draw(shipped(draw(object_text(stream, record))))


# --- one Spark job per batch -------------------------------------------------------------------

def bronze_of(spark, objects: list[tuple[str, list[str]]]) -> DataFrame:
    """(stream, lines) per landing object -> bronze rows; object i is named o<i>."""
    rows = [(f"s3a://b/landing/{stream}/event_date=2025-11-02/event_hour=00/o{i}.jsonl.gz", n, line)
            for i, (stream, lines) in enumerate(objects) for n, line in enumerate(lines, start=1)]
    lines = spark.createDataFrame(rows, "file_path string, line_number long, raw_record string")
    return to_bronze(lines, "b", "run", INGESTED)


def _object_name(source_object: str) -> str:
    return source_object.rsplit("/", 1)[1].split(".")[0]


def silver_rows(spark, objects: list[tuple[str, list[str]]]) -> dict[str, Counter]:
    """Landing object -> its conformed silver rows, as (table, row as JSON)."""
    parsed = silver.parse_all(bronze_of(spark, objects))
    frames = [contract(f"silver/{table}").conform(frame.where(F.col("quarantine_reason").isNull()))
              .select("source_object", F.lit(table).alias("table"), F.to_json(F.struct("*")).alias("row"))
              for table, frame in parsed.items()]
    by_object: dict[str, Counter] = defaultdict(Counter)
    for r in reduce(DataFrame.unionByName, frames).collect():
        by_object[_object_name(r.source_object)][(r.table, r.row)] += 1
    return by_object


def quarantine_reasons(spark, objects: list[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """Landing object -> the reasons its lines were quarantined with."""
    parsed = silver.parse_all(bronze_of(spark, objects))
    quarantined = reduce(DataFrame.unionByName, [silver.to_quarantine(frame) for frame in parsed.values()])
    by_object: dict[str, list[str]] = defaultdict(list)
    for r in quarantined.select("source_object", "reason").collect():
        by_object[_object_name(r.source_object)].append(r.reason)
    return by_object


@EXAMPLES
@given(st.data())
def test_every_encoding_of_an_event_gives_its_silver_rows(spark, data):
    batch = data.draw(st.lists(events, min_size=1, max_size=16), label="events")
    objects = [(stream, [canonical(record), data.draw(encoded(stream, record), label=f"o{i}")])
               for i, (stream, record) in enumerate(batch)]
    by_object = silver_rows(spark, objects)
    # the canonical line and its re-encoding are one landing object: each silver row twice
    unmatched = {f"o{i}": lines for i, (_, lines) in enumerate(objects)
                 if not by_object[f"o{i}"] or any(n != 2 for n in by_object[f"o{i}"].values())}
    if unmatched:
        reasons = quarantine_reasons(spark, objects)
        raise AssertionError({o: (lines, by_object[o], reasons[o]) for o, lines in unmatched.items()})


# --- corruptions -------------------------------------------------------------------------------

words = st.from_regex(r"[A-Za-z][A-Za-z ]{0,8}", fullmatch=True).filter(lambda w: w not in ("true", "false"))


def _present(record: dict, spec: parse.FieldSpec, kinds: tuple[str, ...]) -> list[str]:
    return sorted(k for k, v in record.items() if spec.kinds.get(k) in kinds and v not in (None, ""))


@st.composite
def corrupted(draw) -> tuple[str, str, str | None]:
    """(stream, line, the reason it must get; None where any reason will do)."""
    stream, record = draw(events)
    spec = SPECS[stream]
    longs = _present(record, spec, ("long",))
    kind = draw(st.sampled_from(["fraction", "text", "missing", "ts", "negative_id", "truncated",
                                 "trailing", "garbage"]))
    if kind == "fraction":                      # 730.5 for userId
        key = draw(st.sampled_from(longs))
        bad = {**record, key: int(record[key]) + draw(st.sampled_from([0.5, 0.25, 0.75]))}
        return stream, draw(encoded(stream, bad)), f"wrong_type:{key}"
    if kind == "text":                          # "yesterday" for ts
        key = draw(st.sampled_from(_present(record, spec, ("long", "double", "boolean"))))
        return stream, draw(encoded(stream, {**record, key: draw(words)})), f"wrong_type:{key}"
    if kind == "missing":
        key = draw(st.sampled_from(sorted(spec.required)))
        return stream, draw(encoded(stream, {k: v for k, v in record.items() if k != key})), f"missing_field:{key}"
    if kind == "ts":                            # before 2000, or later than a day after ingestion
        too_old = draw(st.booleans())
        ts = draw(st.integers(-10**12, parse.MIN_TS_MS - 1) if too_old else
                  st.integers(INGESTED_MS + DAY_MS + 1, 2**53 - 1))
        return stream, draw(encoded(stream, {**record, "ts": ts})), "ts_out_of_range" if too_old else "ts_in_future"
    if kind == "negative_id":
        key = draw(st.sampled_from([k for k in ("sessionId", "itemInSession", "userId") if k in longs]))
        return stream, draw(encoded(stream, {**record, key: -draw(st.integers(1, 10**6))})), "negative_id"
    line = canonical(record)
    if kind == "truncated":                     # the object never closes
        return stream, line[:draw(st.integers(1, len(line) - 1))], "malformed_json"
    garbage = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"),
                      min_size=1, max_size=30).filter(lambda s: s.strip(BLANKS))
    if kind == "trailing":                      # a second object or anything after the first
        return stream, line + draw(st.one_of(garbage, st.just(line))), "malformed_json"
    return stream, draw(garbage), None


@EXAMPLES
@given(st.lists(corrupted(), min_size=1, max_size=24))
def test_every_corruption_is_quarantined_with_its_reason(spark, batch):
    reasons = quarantine_reasons(spark, [(stream, [line]) for stream, line, _ in batch])
    for i, (stream, line, expected) in enumerate(batch):
        # exactly one reason: quarantined once, so never also a silver row
        assert len(reasons[f"o{i}"]) == 1, (stream, line, reasons[f"o{i}"])
        assert expected is None or reasons[f"o{i}"] == [expected], (stream, line, reasons[f"o{i}"], expected)
