"""Bronze keeps each landed line verbatim with its object and its line number."""

from datetime import datetime

from spark.bronze.events import split_lines, to_bronze

KEY = "landing/listen_events/event_date=2026-11-01/event_hour=07/file-abc.jsonl.gz"


def test_lines_are_numbered_per_object_and_empty_lines_skipped(spark):
    lines = spark.createDataFrame(
        [(f"s3a://medley/{KEY}", v) for v in ['{"a":1}', "", "not json", '{"b":2}']] +
        [("s3a://medley/" + KEY.replace("abc", "xyz"), '{"c":3}')], "file_path string, value string")
    rows = to_bronze(split_lines(lines), "medley", "run-1", datetime(2026, 11, 1, 8)).collect()
    got = sorted((r.source_object[-12:], r.line_number, r.raw_record) for r in rows)
    assert got == [("abc.jsonl.gz", 1, '{"a":1}'), ("abc.jsonl.gz", 3, "not json"),
                   ("abc.jsonl.gz", 4, '{"b":2}'), ("xyz.jsonl.gz", 1, '{"c":3}')]
    assert {(r.stream, str(r.event_date), r.event_hour) for r in rows} == {("listen_events", "2026-11-01", 7)}
