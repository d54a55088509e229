"""Silver parsers on tiny inputs: the bad-input corpus is quarantined with the right reason, good
lines (including Fluent Bit wrapped ones) are parsed into the contract's types."""

import json
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from medley.contracts import contract
from spark.bronze.events import split_lines, to_bronze
from spark.silver import run as silver
from corpus import BAD_LINES, GOOD_LINES, GOOD_LISTEN

INGESTED = datetime(2025, 11, 2, 12, 0)


def bronze_of(spark, lines):
    """(stream, line) pairs -> bronze rows, one landing object per line."""
    rows = [(f"s3a://b/landing/{stream}/event_date=2025-11-02/event_hour=00/o{i}.jsonl.gz", line)
            for i, (stream, line, *_) in enumerate(lines)]
    objects = spark.createDataFrame(rows, "file_path string, value string")
    return to_bronze(split_lines(objects), "b", "run", INGESTED)


def test_every_bad_line_is_quarantined_with_its_reason(spark):
    parsed = silver.parse_all(bronze_of(spark, BAD_LINES))
    quarantined = {}
    for frame in parsed.values():
        for r in silver.to_quarantine(frame).collect():
            quarantined[r.raw_record] = r.reason
    assert len(BAD_LINES) >= 10
    for stream, line, reason in BAD_LINES:
        assert quarantined.get(line) == reason, (stream, line)


def test_good_lines_parse_to_the_contract(spark):
    parsed = silver.parse_all(bronze_of(spark, GOOD_LINES))
    listens = parsed["listen_events"].where(F.col("quarantine_reason").isNull())
    assert listens.count() == 2
    row = contract("silver/listen_events").conform(listens).orderBy("item_in_session").first()
    assert row.user_id == 730 and row.zip == "92806" and row.duration_s == pytest.approx(210.33751)
    assert row.event_at == datetime(2025, 11, 2, 0, 0) and str(row.event_date) == "2025-11-02"
    assert parsed["page_view_events"].where(F.col("quarantine_reason").isNull()).count() == 1


def test_same_event_has_the_same_key_in_every_stream(spark):
    """One listen delivered three ways: canonically, re-encoded by a shipper in another landing
    object, and as the NextSong page view EventSim also writes for it. A different event (the
    next item of the session) gets another key."""
    listen = {**GOOD_LISTEN, "itemInSession": 300}
    re_encoded = json.dumps({"log": json.dumps({**listen, "ts": float(listen["ts"]), "userId": "730.0",
                                                "sessionId": str(listen["sessionId"])}) + "\r\n",
                             "stream": "stdout"})
    as_page_view = json.dumps({**listen, "page": "NextSong", "method": "PUT", "status": 200})
    next_item = json.dumps({**listen, "itemInSession": listen["itemInSession"] + 1})
    parsed = silver.parse_all(bronze_of(spark, [("listen_events", json.dumps(listen)), ("listen_events", re_encoded),
                                                ("page_view_events", as_page_view), ("listen_events", next_item)]))
    rows = [r for frame in parsed.values() for r in frame.collect()]
    assert all(r.quarantine_reason is None for r in rows), [(r.raw_record, r.quarantine_reason) for r in rows]
    keys = {r.source_object.rsplit("/", 1)[1]: r.event_key for r in rows}
    assert keys["o0.jsonl.gz"] == keys["o1.jsonl.gz"] == keys["o2.jsonl.gz"] != keys["o3.jsonl.gz"]


def test_duplicates_keep_the_first_delivery(spark):
    line = GOOD_LINES[2][1]
    parsed = silver.parse_all(bronze_of(spark, [("page_view_events", line)] * 3))["page_view_events"]
    kept, dupes = silver.deduplicate(parsed.where(F.col("quarantine_reason").isNull()))
    assert kept.count() == 1 and dupes.count() == 2
    assert kept.first().source_object.endswith("o0.jsonl.gz")


def test_interana_lines_feed_page_views_listens_and_auth(spark):
    login = ('{"ts":1762041600000,"userId":"","sessionId":9,"page":"Login","auth":"Logged Out",'
             '"method":"PUT","status":307,"level":"free","itemInSession":0}')
    after = ('{"ts":1762041601000,"userId":"7","sessionId":9,"page":"NextSong","auth":"Logged In",'
             '"method":"PUT","status":200,"level":"free","itemInSession":1,"location":"Racine, WI",'
             '"userAgent":"x","lastName":"L","firstName":"F","registration":1700000000000,"gender":"F",'
             '"artist":"A","song":"S","length":100.5}')
    parsed = silver.parse_all(bronze_of(spark, [("interana_events", login), ("interana_events", after)]))
    assert parsed["page_view_events"].where(F.col("quarantine_reason").isNull()).count() == 2
    listen = parsed["listen_events"].first()
    assert (listen.user_id, listen.city, listen.state_code, listen.duration_s) == (7, "Racine", "WI", 100.5)
    auth = parsed["auth_events"].collect()
    assert len(auth) == 1 and auth[0].is_success is True


def test_good_rows_read_the_cached_parse_of_the_changed_dates(spark):
    """silver.run caches the parse of the changed landing dates; the good rows it builds with the
    neighbouring dates must read that cache, not parse the same lines again (a 10M-line day paid
    for every listen and page view twice)."""
    from pyspark import StorageLevel

    bronze = bronze_of(spark, GOOD_LINES)
    changed = (silver.parse_all(bronze.where(F.col("event_date") == "2025-11-02"))["listen_events"]
               .persist(StorageLevel.DISK_ONLY))
    try:
        changed.count()
        others = silver.parse_all(bronze.where(F.col("event_date").isin("2025-11-01", "2025-11-03")))["listen_events"]
        good = silver.good_rows([changed, others], ["2025-11-02"])
        assert "InMemoryRelation" in good._jdf.queryExecution().withCachedData().toString()
        assert good.count() == 2
    finally:
        changed.unpersist()
